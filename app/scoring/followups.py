"""Follow-up figures for /api/v1/scores (docs/actions.md, "Follow-up figures").

The follow-ups belong to app/actions, which reads scoring (its digests quote these figures), so
scoring may not import it: the table is named here as plain SQL columns instead."""

from __future__ import annotations

from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime
from app.scoring import formulas
from app.scoring.schemas import FollowupFigures, ScoreFilter
from app.scoring.sql import ticket_conditions
from app.tickets.models import Ticket

followups = table(
    "followups",
    column("id"),
    column("ticket_id"),
    column("status"),
    column("opened_at", UTCDateTime()),
    column("closed_at", UTCDateTime()),
)


async def figures(session: AsyncSession, filt: ScoreFilter) -> FollowupFigures:
    """The follow-ups of answers on tickets in scope (the filter's resolution days and fields)."""
    f = followups.c
    stmt = (
        select(f.status, f.opened_at, f.closed_at)
        .join(Ticket, Ticket.id == f.ticket_id)
        .where(*ticket_conditions(filt))
    )
    rows = (await session.execute(stmt)).all()
    opened = len(rows)
    closed = [r.closed_at - r.opened_at for r in rows if r.status == "closed" and r.closed_at]
    hours = sorted(d.total_seconds() / 3600 for d in closed)
    median = None
    if hours:
        mid = len(hours) // 2
        median = hours[mid] if len(hours) % 2 else (hours[mid - 1] + hours[mid]) / 2
    return FollowupFigures(
        opened=opened,
        acknowledged=sum(r.status == "acknowledged" for r in rows),
        closed=len(closed),
        rate=formulas.ratio(len(closed), opened),
        median_hours_to_close=None if median is None else round(median, 1),
    )


async def waiting(session: AsyncSession, filt: ScoreFilter, *, limit: int) -> list[dict]:
    """The oldest follow-ups nobody has closed yet, with their tickets, for the dashboard."""
    f = followups.c
    stmt = (
        select(
            f.id,
            f.status,
            f.opened_at,
            Ticket.number,
            Ticket.url,
            Ticket.service,
            Ticket.assignment_group,
        )
        .join(Ticket, Ticket.id == f.ticket_id)
        .where(f.status != "closed", *ticket_conditions(filt))
        .order_by(f.opened_at, f.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in (await session.execute(stmt)).all()]
