"""Admin reads: feedback requests and responses with filters and cursor pagination."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback.models import FeedbackClick, FeedbackRequest, OptOut, Response, ResponseFactor
from app.feedback.scales import SCALES
from app.feedback.schemas import (
    FeedbackRequestRead,
    OptOutRead,
    ResponseRead,
    ScannerCount,
    ScannerStats,
)
from app.feedback.service import FeedbackRequestNotFound, email_key, links_for
from app.pagination import paginate


@dataclass
class Filters:
    connector_id: uuid.UUID | None = None
    status: str | None = None
    requester: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _requester(value: str) -> Any:
    lowered = value.strip().lower()
    return or_(
        FeedbackRequest.requester_key == value,
        FeedbackRequest.requester_key == email_key(value),
        func.lower(FeedbackRequest.recipient_email) == lowered,
    )


def request_read(request: FeedbackRequest, settings: Settings) -> FeedbackRequestRead:
    read = FeedbackRequestRead.model_validate(request)
    if request.status != "suppressed":
        read.links = links_for(request, settings)
    return read


async def list_requests(
    session: AsyncSession, f: Filters, *, cursor: str | None, limit: int, settings: Settings
) -> tuple[list[FeedbackRequestRead], str | None]:
    stmt = select(FeedbackRequest)
    if f.connector_id:
        stmt = stmt.where(FeedbackRequest.connector_id == f.connector_id)
    if f.status:
        stmt = stmt.where(FeedbackRequest.status == f.status)
    if f.requester:
        stmt = stmt.where(_requester(f.requester))
    if f.created_from:
        stmt = stmt.where(FeedbackRequest.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(FeedbackRequest.created_at < f.created_to)
    rows, next_cursor = await paginate(
        session,
        stmt,
        time_col=FeedbackRequest.created_at,
        id_col=FeedbackRequest.id,
        cursor=cursor,
        limit=limit,
    )
    return [request_read(r, settings) for r in rows], next_cursor


async def get_request_read(
    session: AsyncSession, request_id: uuid.UUID, settings: Settings
) -> FeedbackRequestRead:
    request = await session.get(FeedbackRequest, request_id)
    if request is None:
        raise FeedbackRequestNotFound(f"No feedback request {request_id}")
    return request_read(request, settings)


async def _factors(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(ResponseFactor.response_id, ResponseFactor.factor)
            .where(ResponseFactor.response_id.in_(ids))
            .order_by(ResponseFactor.factor)
        )
        for response_id, factor in rows:
            found[response_id].append(factor)
    return found


def response_read(response: Response, factors: list[str]) -> ResponseRead:
    scale = SCALES[response.scale]
    data = {
        c.key: getattr(response, c.key) for c in Response.__table__.columns if c.key != "evidence"
    }
    return ResponseRead(
        **data,
        evidence=response.evidence or {},
        factors=factors,
        normalised=round(scale.normalised(response.score), 2),
        band=scale.band(response.score),
    )


async def list_responses(
    session: AsyncSession, f: Filters, *, cursor: str | None, limit: int
) -> tuple[list[ResponseRead], str | None]:
    stmt = select(Response).join(FeedbackRequest, FeedbackRequest.id == Response.request_id)
    if f.connector_id:
        stmt = stmt.where(FeedbackRequest.connector_id == f.connector_id)
    if f.status == "counted":
        stmt = stmt.where(Response.automated.is_(False))
    elif f.status == "automated":
        stmt = stmt.where(Response.automated.is_(True))
    if f.requester:
        stmt = stmt.where(_requester(f.requester))
    if f.created_from:
        stmt = stmt.where(Response.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Response.created_at < f.created_to)
    rows, next_cursor = await paginate(
        session, stmt, time_col=Response.created_at, id_col=Response.id, cursor=cursor, limit=limit
    )
    factors = await _factors(session, [r.id for r in rows])
    return [response_read(r, factors.get(r.id, [])) for r in rows], next_cursor


async def get_response_read(session: AsyncSession, response_id: uuid.UUID) -> ResponseRead:
    response = await session.get(Response, response_id)
    if response is None:
        raise ResponseNotFound(f"No response {response_id}")
    factors = await _factors(session, [response.id])
    return response_read(response, factors.get(response.id, []))


class ResponseNotFound(FeedbackRequestNotFound):
    type, title = "feedback-response-not-found", "Response not found"


async def list_opt_outs(
    session: AsyncSession,
    *,
    status: str | None,
    requester: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OptOutRead], str | None]:
    stmt = select(OptOut)
    if status:
        stmt = stmt.where(OptOut.status == status)
    if requester:
        stmt = stmt.where(OptOut.requester_key.in_((requester, email_key(requester))))
    rows, next_cursor = await paginate(
        session,
        stmt,
        time_col=OptOut.created_at,
        id_col=OptOut.requester_key,
        cursor=cursor,
        limit=limit,
    )
    return [OptOutRead.model_validate(r) for r in rows], next_cursor


async def scanner_stats(
    session: AsyncSession, *, connector_id: uuid.UUID | None, day_from: date, day_to: date
) -> ScannerStats:
    """Judged clicks in [day_from, day_to], grouped in SQL by connector, day and reason list."""
    stmt = (
        select(
            FeedbackClick.connector_id,
            FeedbackClick.day,
            FeedbackClick.automated,
            FeedbackClick.reasons,
            func.count(),
        )
        .where(FeedbackClick.day >= day_from, FeedbackClick.day <= day_to)
        .group_by(
            FeedbackClick.connector_id,
            FeedbackClick.day,
            FeedbackClick.automated,
            FeedbackClick.reasons,
        )
    )
    if connector_id:
        stmt = stmt.where(FeedbackClick.connector_id == connector_id)
    counts: dict[tuple[uuid.UUID, date, str], int] = defaultdict(int)
    totals = {True: 0, False: 0}
    for connector, day, automated, reasons, n in await session.execute(stmt):
        totals[bool(automated)] += n
        if automated:
            for reason in filter(None, reasons.split(",")):
                counts[(connector, day, reason)] += n
    items = [
        ScannerCount(connector_id=c, day=d, reason=r, clicks=n)
        for (c, d, r), n in sorted(
            counts.items(), key=lambda kv: (kv[0][1], str(kv[0][0]), kv[0][2])
        )
    ]
    return ScannerStats(items=items, automated=totals[True], counted=totals[False])
