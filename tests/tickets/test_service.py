"""Ticket upsert by (connector, external id) and resolution cycles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector
from app.tickets import service
from app.tickets.models import Ticket
from app.tickets.schemas import TicketData

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def make_connector(session: AsyncSession) -> uuid.UUID:
    connector = Connector(
        name=f"c-{uuid.uuid4().hex[:8]}",
        kind="servicenow",
        base_url="https://x.service-now.com",
        webhook_secret="s" * 16,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(connector)
    await session.flush()
    return connector.id


def data(**overrides: object) -> TicketData:
    values = {
        "external_id": "sys-1",
        "number": "INC1",
        "title": "Printer",
        "priority": "3",
        "resolved_at": NOW - timedelta(hours=1),
    }
    values.update(overrides)
    return TicketData(**values)


async def upsert(session, connector_id, cycle, guess=False, **overrides) -> Ticket:
    """The stored row after an upsert (the service answers with what it wrote, not a row)."""
    stored = await service.upsert_resolved(
        session,
        connector_id=connector_id,
        source="servicenow",
        data=data(**overrides),
        cycle=cycle,
        cycle_is_guess=guess,
        now=NOW,
    )
    ticket = await session.get(Ticket, stored.id, populate_existing=True)
    assert ticket is not None and ticket.resolution_cycle == stored.resolution_cycle
    return ticket


async def test_upsert_creates_then_refreshes_one_row(session: AsyncSession) -> None:
    connector_id = await make_connector(session)
    first = await upsert(session, connector_id, "c1")
    second = await upsert(session, connector_id, "c1", priority="1", number="INC1-moved")
    assert first.id == second.id
    assert (second.priority, second.number, second.resolution_cycle) == ("1", "INC1-moved", "c1")
    count = await session.scalar(select(func.count()).select_from(Ticket))
    assert count == 1


async def test_a_guessed_cycle_continues_until_reopened(session: AsyncSession) -> None:
    connector_id = await make_connector(session)
    await upsert(session, connector_id, "updated:1", guess=True)
    again = await upsert(session, connector_id, "updated:2", guess=True)
    assert again.resolution_cycle == "guess:updated:1"  # Resolved -> Closed: the same cycle
    reopened = await service.mark_reopened(
        session, connector_id=connector_id, external_id="sys-1", now=NOW
    )
    assert reopened is not None and reopened.resolved_at is None
    after = await upsert(session, connector_id, "updated:3", guess=True)
    assert after.resolution_cycle == "guess:updated:3"


async def test_a_guessed_cycle_is_kept_when_the_exact_key_follows(session: AsyncSession) -> None:
    """A display-value webhook (local times: a guess), then the poll's UTC record: one cycle."""
    connector_id = await make_connector(session)
    await upsert(session, connector_id, "local:resolved_at:11/21/2026 08:02:33", guess=True)
    exact = await upsert(session, connector_id, "resolved_at:2026-11-21 16:02:33")
    assert exact.resolution_cycle == "guess:local:resolved_at:11/21/2026 08:02:33"
    await service.mark_reopened(session, connector_id=connector_id, external_id="sys-1", now=NOW)
    again = await upsert(session, connector_id, "resolved_at:2026-11-22 09:00:00")
    assert again.resolution_cycle == "resolved_at:2026-11-22 09:00:00"  # a reopen ends it


async def test_an_explicit_cycle_always_wins(session: AsyncSession) -> None:
    connector_id = await make_connector(session)
    await upsert(session, connector_id, "resolved:1")
    assert (await upsert(session, connector_id, "resolved:2")).resolution_cycle == "resolved:2"


async def test_set_requester_email_fills_a_gap_only(session: AsyncSession) -> None:
    connector_id = await make_connector(session)
    ticket = await upsert(session, connector_id, "c1", table="incident")
    await service.set_requester_email(session, ticket_id=ticket.id, email="a@example.com")
    await service.set_requester_email(session, ticket_id=ticket.id, email="b@example.com")
    assert ticket.requester_email == "a@example.com"
    ref = service.ref_of(ticket)
    assert (ref.ticket_id, ref.external_id, ref.table) == (ticket.id, "sys-1", "incident")
