"""XLA targets: stored rows, and their status for a period (docs/scoring.md, "XLA status")."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, Unprocessable
from app.pagination import paginate
from app.scoring import formulas, service
from app.scoring.models import XlaScope, XlaTarget
from app.scoring.schemas import (
    ScoreFilter,
    TargetStatus,
    XlaCreate,
    XlaRead,
    XlaStatus,
    XlaUpdate,
)


class XlaNotFound(NotFound):
    type, title = "xla-not-found", "XLA target not found"


async def create(session: AsyncSession, data: XlaCreate) -> XlaTarget:
    target = XlaTarget(**data.model_dump())
    session.add(target)
    await session.flush()
    return target


async def get(session: AsyncSession, xla_id: uuid.UUID) -> XlaTarget:
    target = await session.get(XlaTarget, xla_id)
    if target is None:
        raise XlaNotFound(f"No XLA target {xla_id}")
    return target


async def update(session: AsyncSession, xla_id: uuid.UUID, data: XlaUpdate) -> XlaTarget:
    target = await get(session, xla_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("min_happiness", 0) is None:
        raise Unprocessable("min_happiness cannot be null")
    merged = {**_fields(target), **changes}
    if merged.get("scope") == XlaScope.all and "scope" in changes and "scope_value" not in changes:
        merged["scope_value"] = None
    try:
        valid = XlaCreate.model_validate(merged)
    except ValueError as exc:
        raise Unprocessable(str(exc).splitlines()[-1].strip()) from exc
    for name, value in valid.model_dump().items():
        setattr(target, name, value)
    await session.flush()
    return target


async def delete(session: AsyncSession, xla_id: uuid.UUID) -> None:
    await session.delete(await get(session, xla_id))
    await session.flush()


async def page(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[XlaTarget], str | None]:
    return await paginate(
        session,
        select(XlaTarget),
        time_col=XlaTarget.created_at,
        id_col=XlaTarget.id,
        cursor=cursor,
        limit=limit,
    )


def _fields(target: XlaTarget) -> dict[str, Any]:
    return {name: getattr(target, name) for name in XlaCreate.model_fields}


def period_bounds(target_period: str, at: date) -> tuple[date, date]:
    """The first and last day of the XLA period holding `at`."""
    start = formulas.period_start(at, target_period)
    return start, formulas.next_period(start, target_period) - timedelta(days=1)


async def status(
    session: AsyncSession, target: XlaTarget, *, at: date, tz: str, hourly_cost: float
) -> XlaStatus:
    """The target's status over the period (in `tz`) that holds the local day `at`."""
    start, end = period_bounds(target.period, at)
    scope: dict[str, Any] = {}
    if target.scope == XlaScope.service:
        scope["service"] = target.scope_value
    elif target.scope == XlaScope.group:
        scope["assignment_group"] = target.scope_value
    filt = ScoreFilter(date_from=start, date_to=end, tz=tz, **scope)
    figures = await service.summary(session, filt, hourly_cost=hourly_cost)
    checks = formulas.xla_checks(
        min_happiness=target.min_happiness,
        max_lost_minutes=target.max_lost_minutes,
        min_response_rate=target.min_response_rate,
        happiness_value=figures.happiness.value,
        mean_lost_minutes=figures.lost_time.mean_minutes,
        response_rate=figures.response_rate,
    )
    return XlaStatus(
        period_start=start,
        period_end=end,
        tz=tz,
        status=formulas.xla_status(checks, figures.responses),
        targets=[TargetStatus(**vars(c)) for c in checks],
        figures=figures,
    )


async def read(
    session: AsyncSession, target: XlaTarget, *, at: date, tz: str, hourly_cost: float
) -> XlaRead:
    current = await status(session, target, at=at, tz=tz, hourly_cost=hourly_cost)
    return XlaRead.model_validate(target).model_copy(update={"current": current})
