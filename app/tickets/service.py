"""Tickets: upsert the normalised ticket by (connector, external id) and track its cycle."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from app.db import insert_ignore
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


async def upsert_resolved(
    session: AsyncSession,
    *,
    connector_id: uuid.UUID,
    source: str,
    data: TicketData,
    cycle: str,
    cycle_is_guess: bool,
    now: datetime,
) -> Ticket:
    """Create or refresh the ticket of a resolution; its `resolution_cycle` names the cycle.

    A guessed cycle key (the sender carried no resolution time) continues the ticket's current
    cycle while it stays resolved, so Resolved → Closed never starts a second one. A guessed
    cycle is stored marked (GUESSED) and is kept too when an exact key for the same
    resolution arrives later (a ServiceNow display-value webhook, then the poll's UTC record).
    """
    if cycle_is_guess:
        cycle = GUESSED + cycle
    cycle = cycle[:255]
    values = data.model_dump()
    row = {
        "id": uuid.uuid4(),
        "connector_id": connector_id,
        "source": source,
        "resolution_cycle": cycle,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    if await insert_ignore(session, Ticket, **row) is not None:
        # Every column is known: attach the row as persistent instead of reading it back.
        ticket = Ticket(**row)
        make_transient_to_detached(ticket)
        session.add(ticket)
        return ticket
    # ON CONFLICT DO NOTHING waited for a concurrent inserter to commit: the row is visible.
    stmt = (
        select(Ticket)
        .where(Ticket.connector_id == connector_id, Ticket.external_id == data.external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    ticket = (await session.scalars(stmt)).one()
    still_resolved = ticket.resolved_at is not None and bool(ticket.resolution_cycle)
    if still_resolved and (cycle_is_guess or is_guessed(ticket.resolution_cycle)):
        cycle = ticket.resolution_cycle
    for key, value in values.items():
        if key == "resolved_at" and value is None:
            continue
        setattr(ticket, key, value)
    ticket.source = source
    ticket.resolution_cycle = cycle
    ticket.updated_at = now
    await session.flush()
    return ticket


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


def ref_of(ticket: Ticket) -> TicketRef:
    """The address of `ticket` in its ITSM tool, for job payloads."""
    return TicketRef(
        connector_id=ticket.connector_id,
        ticket_id=ticket.id,
        external_id=ticket.external_id,
        number=ticket.number,
        table=ticket.table if ticket.source == "servicenow" else None,
    )
