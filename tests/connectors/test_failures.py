"""An authentic delivery whose processing fails after parsing is kept (failed, replayable) and
answered 422, in the webhook and in the catch-up poll alike: nothing authentic is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors import ingest
from app.connectors.jobs import servicenow_poll_one
from app.connectors.models import Connector, InboundEvent
from app.connectors.schemas import PollConnector
from app.feedback.models import FeedbackRequest
from app.jobs.registry import JobContext
from app.tickets.models import Ticket
from tests.connectors.conftest import (
    bearer,
    make_connector,
    own_fixture,
    record_body,
    std_headers,
)
from tests.connectors.fake_itsm import FakeITSM


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


def fail_for(monkeypatch: pytest.MonkeyPatch, external_id: str) -> None:
    """A fault after the ticket is written: the feedback request cannot be created."""
    original = ingest.feedback_service.create_request

    async def failing(session: AsyncSession, *, ticket: Ticket, **kwargs: Any):
        if ticket.external_id == external_id:
            raise RuntimeError("feedback store unavailable")
        return await original(session, ticket=ticket, **kwargs)

    monkeypatch.setattr(ingest.feedback_service, "create_request", failing)


async def test_a_failure_after_parsing_is_422_kept_and_replayable(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = await make_connector(session, kind="generic")
    body = own_fixture("generic", "resolved.json")
    fail_for(monkeypatch, "T-1001")
    response = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("unprocessable-delivery")
    assert "feedback store unavailable" in problem["detail"]
    event = await session.get(InboundEvent, problem["inbound_event_id"])
    assert (event.status, event.body) == ("failed", body)
    assert "RuntimeError" in event.reason
    # The savepoint undid the half-done work: no ticket without its request.
    assert await count(session, Ticket) == 0

    monkeypatch.undo()  # the fault is gone: the admin replays the kept delivery
    replayed = await client.post(f"/api/v1/inbound-events/{event.id}/replay", headers=admin_headers)
    assert replayed.status_code == 200
    assert replayed.json()["event"]["status"] == "processed"
    assert await count(session, FeedbackRequest) == 1


async def test_one_bad_polled_record_is_kept_failed_and_the_poll_goes_on(
    session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(record_body())
    good = {k: {"display_value": v, "value": v} for k, v in raw.items() if isinstance(v, str)}
    good["state"] = {"display_value": "Resolved", "value": "6"}
    bad = {**good, "sys_id": {"display_value": "bad1", "value": "bad1"}}
    bad["sys_updated_on"] = {"display_value": "x", "value": "2026-11-21 16:00:00"}
    fail_for(monkeypatch, "bad1")
    now = utcnow()
    with FakeITSM() as itsm:
        itsm.respond("GET", "/api/now/table/incident", 200, {"result": [bad, good]})
        itsm.respond("GET", "/api/now/table/sc_req_item", 200, {"result": []})
        connector = await make_connector(session, kind="servicenow", base_url=itsm.url)
        async with httpx.AsyncClient() as http:
            ctx = JobContext(session, http, settings, now, 1, 1)
            await servicenow_poll_one(ctx, PollConnector(connector_id=connector.id))
    events = (await session.scalars(select(InboundEvent).order_by(InboundEvent.status))).all()
    assert [e.status for e in events] == ["failed", "processed"]
    assert "feedback store unavailable" in events[0].reason
    assert await count(session, FeedbackRequest) == 1
    assert [t.external_id for t in (await session.scalars(select(Ticket))).all()] == [raw["sys_id"]]
    row = await session.get(Connector, connector.id)
    assert row.poll_watermark == datetime(2026, 11, 21, 16, 2, 34, tzinfo=UTC)  # moved on


async def test_an_overlong_title_is_cut_to_its_column(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="generic")
    event = json.loads(own_fixture("generic", "resolved.json"))
    event["data"]["title"] = "Printer " * 150  # 1,200 characters; tickets.title is 1,000
    body = json.dumps(event).encode()
    response = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert response.status_code == 202
    ticket = await session.get(Ticket, response.json()["ticket_id"])
    assert ticket.title == ("Printer " * 150)[:1000]
    assert await count(session, FeedbackRequest) == 1


async def test_an_overlong_identifier_is_422_and_kept(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="servicenow")
    body = record_body(number="INC" + "0" * 120)  # tickets.number is 100
    response = await client.post(f"/webhooks/{connector.name}", content=body, headers=bearer())
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("unparseable-delivery") and "number" in problem["detail"]
    event = await session.get(InboundEvent, problem["inbound_event_id"])
    assert (event.status, event.body) == ("failed", body)
    assert await count(session, Ticket) == 0
