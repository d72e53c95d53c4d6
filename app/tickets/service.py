"""Tickets: upsert the normalised ticket by (connector, external id) and track its cycle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.events import TicketRef
from app.tickets.models import Ticket
from app.tickets.schemas import TicketData


async def get_ticket(session: AsyncSession, ticket_id: uuid.UUID) -> Ticket | None:
    return await session.get(Ticket, ticket_id)


async def find_ticket(
    session: AsyncSession, *, connector_id: uuid.UUID, external_id: str
) -> Ticket | None:
    return await session.scalar(
        select(Ticket).where(Ticket.connector_id == connector_id, Ticket.external_id == external_id)
    )


# Marks a stored `resolution_cycle` whose key was guessed (no exact resolution time).
GUESSED = "guess:"


def is_guessed(cycle: str | None) -> bool:
    return cycle is not None and cycle.startswith(GUESSED)


@dataclass(frozen=True)
class ResolvedTicket:
    """What the webhook path needs of a ticket it just stored (no ORM object, no read back)."""

    id: uuid.UUID
    connector_id: uuid.UUID
    source: str
    external_id: str
    number: str
    title: str
    table: str | None
    requester_id: str | None
    requester_email: str | None
    requester_locale: str | None
    resolution_cycle: str


# Per dialect: the upsert below, built once (building it per call cost more than running it).
_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (connector, external id) DO UPDATE: every field from the delivery,
    a missing resolution time kept, and the cycle continued where upsert_resolved says."""
    if dialect in _UPSERTS:
        return _UPSERTS[dialect]
    table = Ticket.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values({c.key: bindparam(c.key, type_=c.type) for c in table.columns})
    new, old = stmt.excluded, table.c
    still_resolved = and_(
        old.resolved_at.is_not(None), func.coalesce(old.resolution_cycle, "") != ""
    )
    guessed = or_(
        new.resolution_cycle.startswith(GUESSED), old.resolution_cycle.startswith(GUESSED)
    )
    updates = {c.key: new[c.key] for c in table.columns if c.key not in ("id", "created_at")}
    updates["resolved_at"] = func.coalesce(new.resolved_at, old.resolved_at)
    updates["resolution_cycle"] = case(
        (and_(still_resolved, guessed), old.resolution_cycle), else_=new.resolution_cycle
    )
    _UPSERTS[dialect] = stmt.on_conflict_do_update(
        index_elements=[old.connector_id, old.external_id], set_=updates
    ).returning(old.id, old.resolution_cycle)
    return _UPSERTS[dialect]


async def upsert_resolved(
    session: AsyncSession,
    *,
    connector_id: uuid.UUID,
    source: str,
    data: TicketData,
    cycle: str,
    cycle_is_guess: bool,
    now: datetime,
) -> ResolvedTicket:
    """Create or refresh the ticket of a resolution in one statement; its `resolution_cycle`
    names the cycle.

    A guessed cycle key (the sender carried no resolution time) continues the ticket's current
    cycle while it stays resolved, so Resolved → Closed never starts a second one. A guessed
    cycle is stored marked (GUESSED) and is kept too when an exact key for the same
    resolution arrives later (a ServiceNow display-value webhook, then the poll's UTC record).
    """
    if cycle_is_guess:
        cycle = GUESSED + cycle
    values = data.model_dump()
    row = {
        **values,
        "id": uuid.uuid4(),
        "connector_id": connector_id,
        "source": source,
        "resolution_cycle": cycle[:255],
        "created_at": now,
        "updated_at": now,
    }
    stmt = _upsert(session.get_bind().dialect.name)
    ticket_id, stored_cycle = (await session.execute(stmt, row)).one()
    return ResolvedTicket(
        id=ticket_id,
        connector_id=connector_id,
        source=source,
        external_id=data.external_id,
        number=data.number,
        title=data.title,
        table=data.table,
        requester_id=data.requester_id,
        requester_email=data.requester_email,
        requester_locale=data.requester_locale,
        resolution_cycle=stored_cycle,
    )


async def mark_reopened(
    session: AsyncSession, *, connector_id: uuid.UUID, external_id: str, now: datetime
) -> Ticket | None:
    """A reopen ends the current cycle: the next resolution starts a new one."""
    ticket = await find_ticket(session, connector_id=connector_id, external_id=external_id)
    if ticket is not None and ticket.resolved_at is not None:
        ticket.resolved_at = None
        ticket.updated_at = now
        await session.flush()
    return ticket


async def set_requester_email(session: AsyncSession, *, ticket_id: uuid.UUID, email: str) -> None:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is not None and not ticket.requester_email:
        ticket.requester_email = email
        await session.flush()


def ref_of(ticket: Ticket | ResolvedTicket) -> TicketRef:
    """The address of `ticket` in its ITSM tool, for job payloads."""
    return TicketRef(
        connector_id=ticket.connector_id,
        ticket_id=ticket.id,
        external_id=ticket.external_id,
        number=ticket.number,
        table=ticket.table if ticket.source == "servicenow" else None,
    )
