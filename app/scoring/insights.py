"""Watermelon detection (docs/scoring.md): green on SLA, red on experience."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import Response
from app.feedback.scales import SCALES
from app.pagination import paginate
from app.scoring import service
from app.scoring.privacy import Privacy
from app.scoring.schemas import (
    Dimension,
    HiddenWatermelonGroup,
    ScoreFigures,
    ScoreFilter,
    WatermelonGroup,
    WatermelonTicket,
)
from app.scoring.sql import counted_responses, ticket_conditions
from app.tickets.models import Ticket

SLA_MIN = 0.9
HAPPINESS_MAX = 30.0
MIN_RESPONSES = 10
GROUP_DIMENSIONS = (Dimension.service, Dimension.assignment_group)


def unhappy() -> object:
    """The unhappy band on every scale (0–6 on 0–10, 1–2 on 1–5)."""
    return or_(
        *(and_(Response.scale == k, Response.score < s.neutral_from) for k, s in SCALES.items())
    )


def pick(
    rows_by: dict[Dimension, list[tuple[str | None, ScoreFigures]]],
    *,
    sla_min: float,
    happiness_max: float,
    min_responses: int,
    privacy: Privacy,
) -> list[WatermelonGroup | HiddenWatermelonGroup]:
    """The watermelon groups among breakdown rows, the unhappiest first, then the groups too
    small to be judged (fewer counted responses than the minimum group size), by name."""
    found: list[WatermelonGroup] = []
    hidden: list[HiddenWatermelonGroup] = []
    for by, rows in rows_by.items():
        for key, fig in rows:
            h, sla = fig.happiness, fig.sla.attainment
            if key is None:
                continue
            if fig.responses and privacy.hides(ScoreFilter(), by, fig.responses):
                hidden.append(HiddenWatermelonGroup(by=by.value, key=key, hidden=privacy.reason))
                continue
            if h.value is None or sla is None:
                continue
            if sla >= sla_min and h.value <= happiness_max and h.responses >= min_responses:
                found.append(
                    WatermelonGroup(
                        by=by.value,
                        key=key,
                        sla_attainment=sla,
                        happiness=h.value,
                        margin=h.margin,
                        responses=h.responses,
                    )
                )
    ordered: list[WatermelonGroup | HiddenWatermelonGroup] = sorted(
        found, key=lambda g: (g.happiness, g.by, g.key)
    )
    return ordered + sorted(hidden, key=lambda g: (g.by, g.key))


async def groups(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    sla_min: float,
    happiness_max: float,
    min_responses: int,
    privacy: Privacy,
) -> list[WatermelonGroup | HiddenWatermelonGroup]:
    """Services and groups with SLA attainment ≥ sla_min and happiness ≤ happiness_max over at
    least min_responses responses."""
    rows_by = {
        by: [
            (k, c.figures(0.0))
            for k, c in await service.breakdown_counts(session, filt, by=by, with_not_sent=False)
        ]
        for by in GROUP_DIMENSIONS
    }
    return pick(
        rows_by,
        sla_min=sla_min,
        happiness_max=happiness_max,
        min_responses=min_responses,
        privacy=privacy,
    )


async def tickets(
    session: AsyncSession, filt: ScoreFilter, *, cursor: str | None, limit: int
) -> tuple[list[WatermelonTicket], str | None]:
    """Responses in the unhappy band on tickets that met their SLA, newest answer first."""
    stmt = (
        select(Response)
        .join(Ticket, Ticket.id == Response.ticket_id)
        .where(counted_responses(), Ticket.sla_met.is_(True), unhappy(), *ticket_conditions(filt))
    )
    rows, next_cursor = await paginate(
        session,
        stmt,
        time_col=Response.answered_at,
        id_col=Response.id,
        cursor=cursor,
        limit=limit,
    )
    ids = {r.ticket_id for r in rows}
    by_id = (
        {t.id: t for t in (await session.scalars(select(Ticket).where(Ticket.id.in_(ids)))).all()}
        if ids
        else {}
    )
    items = []
    for r in rows:
        t = by_id[r.ticket_id]
        items.append(
            WatermelonTicket(
                ticket_id=t.id,
                number=t.number,
                url=t.url,
                service=t.service,
                assignment_group=t.assignment_group,
                agent=t.assignee,
                resolved_at=t.resolved_at,
                response_id=r.id,
                score=r.score,
                scale=r.scale,
                answered_at=r.answered_at,
                comment=r.comment,
            )
        )
    return items, next_cursor
