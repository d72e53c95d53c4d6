"""Admin reads: feedback requests and responses with filters and cursor pagination."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.feedback.scales import SCALES
from app.feedback.schemas import FeedbackRequestRead, ResponseRead
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
