"""The answers behind a figure: counted responses with their tickets (the dashboard's ticket
list, its comments page and GET /api/v1/comments), and the filter values present in the data."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, column, func, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import Response, ResponseFactor
from app.feedback.scales import SCALES, Band
from app.pagination import paginate
from app.scoring import service
from app.scoring.schemas import (
    Answer,
    AnswerBand,
    AnswerTicket,
    Dimension,
    ScoreFilter,
)
from app.scoring.sql import DIMENSIONS, counted_responses, ticket_conditions
from app.tickets.models import Ticket

# Read by name only: scoring never imports the connectors domain (import direction).
CONNECTORS = table("connectors", column("id"), column("name"))
FILTER_VALUES_LIMIT = 200  # a select box longer than this is no help; the URL still filters


def band_condition(band: AnswerBand) -> Any:
    """Responses in `band` on whichever scale they were given."""
    parts = []
    for key, s in SCALES.items():
        if band == AnswerBand.happy:
            within = Response.score >= s.happy_from
        elif band == AnswerBand.neutral:
            within = and_(Response.score >= s.neutral_from, Response.score < s.happy_from)
        else:
            within = Response.score < s.neutral_from
        parts.append(and_(Response.scale == key, within))
    return or_(*parts)


def _contains(text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(Response.comment).like(f"%{escaped.lower()}%", escape="\\")


async def answers(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    band: AnswerBand | None = None,
    q: str | None = None,
    factor: str | None = None,
    comments_only: bool = False,
    cursor: str | None,
    limit: int,
) -> tuple[list[Answer], str | None]:
    """Counted responses whose ticket is in the filter, newest answer first; with
    `comments_only` those with a comment, with `q` those whose comment contains it, with
    `factor` those that picked it."""
    conds = [counted_responses(), *ticket_conditions(filt)]
    if band is not None:
        conds.append(band_condition(band))
    if comments_only or q:
        conds += [Response.comment.is_not(None), func.trim(Response.comment) != ""]
    if q:
        conds.append(_contains(q))
    if factor:
        picked = select(ResponseFactor.response_id).where(ResponseFactor.factor == factor)
        conds.append(Response.id.in_(picked))
    stmt = select(Response).join(Ticket, Ticket.id == Response.ticket_id).where(*conds)
    rows, next_cursor = await paginate(
        session, stmt, time_col=Response.answered_at, id_col=Response.id, cursor=cursor, limit=limit
    )
    if not rows:
        return [], next_cursor
    tickets = {
        t.id: t
        for t in (
            await session.scalars(select(Ticket).where(Ticket.id.in_({r.ticket_id for r in rows})))
        ).all()
    }
    factors = await _factors(session, [r.id for r in rows])
    return [_answer(r, tickets[r.ticket_id], factors.get(r.id, {})) for r in rows], next_cursor


async def _factors(session: AsyncSession, ids: list[uuid.UUID]) -> dict[Any, dict[str, list]]:
    out: dict[Any, dict[str, list]] = {}
    stmt = select(ResponseFactor).where(ResponseFactor.response_id.in_(ids))
    for f in (await session.scalars(stmt.order_by(ResponseFactor.factor))).all():
        out.setdefault(f.response_id, {}).setdefault(f.polarity, []).append(f.factor)
    return out


def _answer(r: Response, t: Ticket, factors: dict[str, list]) -> Answer:
    scale = SCALES.get(r.scale)
    band = scale.band(r.score) if scale else Band.neutral
    return Answer(
        response_id=r.id,
        answered_at=r.answered_at,
        score=r.score,
        scale=r.scale,
        band=AnswerBand(band.value),
        normalised_score=round(scale.normalised(r.score), 1) if scale else 0.0,
        lost_minutes=r.lost_minutes,
        positive_factors=factors.get("positive", []),
        negative_factors=factors.get("negative", []),
        comment=r.comment,
        ticket=AnswerTicket(
            ticket_id=t.id,
            number=t.number,
            url=t.url,
            service=t.service,
            assignment_group=t.assignment_group,
            category=t.category,
            priority=t.priority,
            channel=t.channel,
            agent=t.assignee,
            resolved_at=t.resolved_at,
        ),
    )


async def filter_values(
    session: AsyncSession, filt: ScoreFilter, *, agents: bool
) -> dict[Dimension, list[tuple[str, str]]]:
    """(value, label) per dimension among tickets resolved in the filter's days, sorted; the
    other filter fields are ignored so a choice can always be changed."""
    out: dict[Dimension, list[tuple[str, str]]] = {}
    for dim in DIMENSIONS:
        if dim == Dimension.agent and not agents:
            continue
        found = await service.values(session, filt, dim)
        if dim == Dimension.connector:
            stmt = select(CONNECTORS.c.id, CONNECTORS.c.name).where(CONNECTORS.c.id.in_(found))
            rows = (await session.execute(stmt.order_by(CONNECTORS.c.name))).all()
            out[dim] = [(str(i), str(n)) for i, n in rows[:FILTER_VALUES_LIMIT]]
        else:
            out[dim] = [(str(v), str(v)) for v in found[:FILTER_VALUES_LIMIT]]
    return out
