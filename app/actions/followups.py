"""Follow-ups: open → acknowledged → closed, each step with a person's note."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Followup, FollowupStatus
from app.actions.schemas import FollowupRead
from app.errors import Conflict, NotFound
from app.feedback.models import Response
from app.pagination import paginate
from app.tickets.models import Ticket

# The steps a follow-up may take: from each status, the one it may move to.
NEXT = {
    "acknowledge": ({FollowupStatus.open}, FollowupStatus.acknowledged),
    "close": ({FollowupStatus.open, FollowupStatus.acknowledged}, FollowupStatus.closed),
}


class FollowupNotFound(NotFound):
    type, title = "followup-not-found", "Follow-up not found"


class WrongTransition(Conflict):
    type, title = "followup-transition", "The follow-up cannot take this step"


def _query() -> Select[Any]:
    return (
        select(Followup, Ticket, Response)
        .join(Ticket, Ticket.id == Followup.ticket_id)
        .join(Response, Response.id == Followup.response_id)
    )


def read(row: Any) -> FollowupRead:
    followup, ticket, response = row
    return FollowupRead(
        id=followup.id,
        status=followup.status,
        response_id=followup.response_id,
        ticket_id=followup.ticket_id,
        ticket_number=ticket.number,
        ticket_url=ticket.url,
        service=ticket.service,
        assignment_group=ticket.assignment_group,
        rule_id=followup.rule_id,
        score=response.score,
        scale=response.scale,
        comment=response.comment,
        opened_at=followup.opened_at,
        acknowledged_at=followup.acknowledged_at,
        acknowledged_note=followup.acknowledged_note,
        closed_at=followup.closed_at,
        closed_note=followup.closed_note,
    )


async def page(
    session: AsyncSession,
    *,
    status: FollowupStatus | None,
    service: str | None,
    assignment_group: str | None,
    connector_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[FollowupRead], str | None]:
    ids = select(Followup.id).join(Ticket, Ticket.id == Followup.ticket_id)
    if status is not None:
        ids = ids.where(Followup.status == status)
    for column, value in (
        (Ticket.service, service),
        (Ticket.assignment_group, assignment_group),
        (Ticket.connector_id, connector_id),
    ):
        if value is not None:
            ids = ids.where(column == value)
    found, next_cursor = await paginate(
        session,
        select(Followup).where(Followup.id.in_(ids)),
        time_col=Followup.created_at,
        id_col=Followup.id,
        cursor=cursor,
        limit=limit,
    )
    if not found:
        return [], None
    rows = {
        r[0].id: r
        for r in await session.execute(_query().where(Followup.id.in_([f.id for f in found])))
    }
    return [read(rows[f.id]) for f in found], next_cursor


async def get(session: AsyncSession, followup_id: uuid.UUID) -> FollowupRead:
    row = (await session.execute(_query().where(Followup.id == followup_id))).one_or_none()
    if row is None:
        raise FollowupNotFound(f"No follow-up {followup_id}")
    return read(row)


async def step(
    session: AsyncSession, followup_id: uuid.UUID, *, action: str, note: str, now: datetime
) -> FollowupRead:
    """Acknowledge or close; a 409 problem when the follow-up is past that step."""
    stmt = select(Followup).where(Followup.id == followup_id).with_for_update()
    followup = (await session.scalars(stmt)).one_or_none()
    if followup is None:
        raise FollowupNotFound(f"No follow-up {followup_id}")
    allowed, target = NEXT[action]
    if followup.status not in allowed:
        raise WrongTransition(f"A follow-up that is {followup.status} cannot be {target}")
    followup.status = target
    if target == FollowupStatus.acknowledged:
        followup.acknowledged_at, followup.acknowledged_note = now, note
    else:
        followup.closed_at, followup.closed_note = now, note
    followup.updated_at = now
    await session.flush()
    return await get(session, followup_id)
