"""POST /webhooks/{name}: resolutions, cycles, ignored and unparseable deliveries, replay."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.connectors.models import InboundEvent
from app.connectors.options import ConnectorOptions
from app.connectors.servicenow.connector import ServiceNowKind
from app.feedback.models import FeedbackRequest
from app.jobs.models import Job
from app.tickets.models import Ticket
from tests.connectors.conftest import (
    bearer,
    jira_fixture,
    jira_headers,
    make_connector,
    own_fixture,
    record_body,
)


async def requests_of(session: AsyncSession) -> list[FeedbackRequest]:
    return list((await session.scalars(select(FeedbackRequest))).all())


async def post(client: httpx.AsyncClient, name: str, body: bytes, headers=None) -> httpx.Response:
    return await client.post(f"/webhooks/{name}", content=body, headers=headers or bearer())


async def test_servicenow_resolution_answers_202_with_links(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="servicenow")
    response = await post(client, connector.name, record_body())
    assert response.status_code == 202
    answer = response.json()
    ticket = await session.get(Ticket, answer["ticket_id"])
    assert (ticket.number, ticket.requester_email, ticket.source) == (
        "INC0010042",
        "abel.tuter@example.com",
        "servicenow",
    )
    [request] = await requests_of(session)
    assert str(request.id) == answer["feedback_request_id"]
    assert request.ticket_id == ticket.id
    assert set(answer["links"]) == {str(s) for s in range(11)}  # happiness 0-10
    assert all(link.startswith("http://testserver/f/") for link in answer["links"].values())
    event = await session.scalar(select(InboundEvent))
    assert (event.status, event.ticket_id) == ("processed", ticket.id)
    assert "authorization" not in event.headers  # credentials are never stored


async def test_resolved_then_closed_is_one_cycle_and_reopen_starts_another(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="servicenow")
    first = (await post(client, connector.name, record_body())).json()
    closed = own_fixture("servicenow", "incident_closed_display_false.json")
    second = (await post(client, connector.name, closed)).json()
    assert second["feedback_request_id"] == first["feedback_request_id"]
    reopened = own_fixture("servicenow", "incident_in_progress.json")
    ignored = await post(client, connector.name, reopened)
    assert ignored.status_code == 200 and "not resolved" in ignored.json()["ignored"]
    again = record_body(resolved_at="2026-11-23 09:00:00", sys_updated_on="2026-11-23 09:00:01")
    third = (await post(client, connector.name, again)).json()
    assert third["ticket_id"] == first["ticket_id"]
    assert third["feedback_request_id"] != first["feedback_request_id"]
    assert len(await requests_of(session)) == 2
    ticket = await session.get(Ticket, first["ticket_id"])
    assert ticket.resolution_cycle == "resolved_at:2026-11-23 09:00:00"


async def test_jira_done_to_done_is_the_same_cycle(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")
    resolved = jira_fixture("cloud_resolved_hidden_email.json")
    closed = jira_fixture("cloud_resolved_to_closed.json")
    a = await post(client, connector.name, resolved, jira_headers(resolved, delivery="d-1"))
    b = await post(client, connector.name, closed, jira_headers(closed, delivery="d-2"))
    assert a.status_code == b.status_code == 202
    assert a.json()["feedback_request_id"] == b.json()["feedback_request_id"]
    assert len(await requests_of(session)) == 1


async def test_missing_email_enqueues_one_contact_lookup(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")
    body = jira_fixture("cloud_resolved_hidden_email.json")
    answer = (await post(client, connector.name, body, jira_headers(body, delivery="x"))).json()
    await post(client, connector.name, body, jira_headers(body, delivery="x"))  # Jira retry
    jobs = (await session.scalars(select(Job).where(Job.name == "connectors.lookup_contact"))).all()
    assert [j.dedupe_key for j in jobs] == [f"lookup_contact:{answer['feedback_request_id']}"]
    assert jobs[0].payload["user_id"] == "712020:4d2b1c3e-aaaa-bbbb-cccc-0123456789ab"
    assert await session.scalar(select(func.count()).select_from(InboundEvent)) == 1


async def test_ignored_delivery_is_200_and_kept(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")
    body = jira_fixture("cloud_resolved_hidden_email.json")
    created = json.loads(body)
    created["webhookEvent"] = "jira:issue_created"
    body = json.dumps(created).encode()
    response = await post(client, connector.name, body, jira_headers(body))
    assert response.status_code == 200
    assert response.json() == {"ignored": "issue created events are never surveyed"}
    event = await session.scalar(select(InboundEvent))
    assert (event.status, event.reason) == ("ignored", "issue created events are never surveyed")
    assert await requests_of(session) == []


def _sent_ago(body: bytes, minutes: int) -> bytes:
    data = json.loads(body)
    data["timestamp"] = int((utcnow() - timedelta(minutes=minutes)).timestamp() * 1000)
    return json.dumps(data).encode()


async def test_a_jira_body_older_than_the_replay_window_is_kept_not_applied(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    connector = await make_connector(session, kind="jira")  # the default window: 60 minutes
    fresh = _sent_ago(jira_fixture("cloud_resolved_hidden_email.json"), 59)
    stale = _sent_ago(jira_fixture("cloud_resolved_to_closed.json"), 61)
    response = await post(client, connector.name, stale, jira_headers(stale, delivery="old"))
    assert response.status_code == 200
    assert "replay_window_minutes" in response.json()["ignored"]
    event = await session.scalar(select(InboundEvent))
    assert event.status == "ignored" and "more than 60 minutes ago" in event.reason
    assert await requests_of(session) == []  # nothing applied

    # An admin who knows it is genuine replays it: the age limit is for unknown senders.
    replayed = await client.post(f"/api/v1/inbound-events/{event.id}/replay", headers=admin_headers)
    assert replayed.json()["event"]["status"] == "processed"
    assert len(await requests_of(session)) == 1
    response = await post(client, connector.name, fresh, jira_headers(fresh, delivery="new"))
    assert response.status_code == 202  # within the window: applied (the same cycle)


async def test_the_replay_window_can_be_lifted_but_not_shortened(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira", replay_window_minutes=None)
    old = _sent_ago(jira_fixture("cloud_resolved_hidden_email.json"), 60 * 24 * 365)
    assert (await post(client, connector.name, old, jira_headers(old))).status_code == 202
    with pytest.raises(ValidationError):
        ConnectorOptions(replay_window_minutes=10)  # Jira retries for longer than that


async def test_only_a_readable_webhook_timestamp_is_judged(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")
    fixture = json.loads(jira_fixture("cloud_resolved_hidden_email.json"))
    for n, stamp in enumerate([10**20, "1795363452000", None]):  # out of range, a string, none
        body = json.dumps({**fixture, "timestamp": stamp}).encode()
        response = await post(client, connector.name, body, jira_headers(body, delivery=str(n)))
        assert response.status_code == 202, stamp  # applied, never a 500 that keeps nothing
    automation = json.loads(own_fixture("jira", "automation_issue_done.json"))
    automation["timestamp"] = 0  # a rule's own JSON: not a webhook's send time
    body = json.dumps(automation).encode()
    assert (await post(client, connector.name, body, bearer())).status_code == 202


async def test_unknown_or_disabled_connector_is_404(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    assert (await post(client, "nope", record_body())).status_code == 404
    connector = await make_connector(session, kind="servicenow")
    await client.post(f"/api/v1/connectors/{connector.id}/disable", headers=admin_headers)
    response = await post(client, connector.name, record_body())
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_unparseable_delivery_is_422_kept_and_replayable(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = await make_connector(session, kind="servicenow")
    body = record_body(resolved_at="21/11/2026 16:02")  # not the UTC format a raw record has
    response = await post(client, connector.name, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "resolved_at is not a UTC datetime" in problem["detail"]
    assert await requests_of(session) == []

    listed = await client.get("/api/v1/inbound-events?status=failed", headers=admin_headers)
    [item] = listed.json()["items"]
    assert item["id"] == problem["inbound_event_id"] and item["status"] == "failed"
    detail = (
        await client.get(f"/api/v1/inbound-events/{item['id']}", headers=admin_headers)
    ).json()
    assert detail["body"] == body.decode()

    # Replaying without a fix fails again, and says so.
    still = await client.post(f"/api/v1/inbound-events/{item['id']}/replay", headers=admin_headers)
    assert still.json()["event"]["status"] == "failed"

    # "The fix": a parser that reads day-first dates (here by patching the kind).
    original = ServiceNowKind.parse

    def fixed(self, raw: bytes, config):
        data = json.loads(raw)
        data["resolved_at"] = "2026-11-21 16:02:00"
        return original(self, json.dumps(data).encode(), config)

    monkeypatch.setattr(ServiceNowKind, "parse", fixed)
    replayed = await client.post(
        f"/api/v1/inbound-events/{item['id']}/replay", headers=admin_headers
    )
    assert replayed.status_code == 200
    result = replayed.json()
    assert result["event"]["status"] == "processed" and result["event"]["replay_count"] == 2
    [request] = await requests_of(session)
    assert result["feedback_request_id"] == str(request.id)
    again = await client.post(f"/api/v1/inbound-events/{item['id']}/replay", headers=admin_headers)
    assert again.json()["feedback_request_id"] == str(request.id)  # idempotent
    assert len(await requests_of(session)) == 1


async def test_jira_reopen_and_resolve_again_is_a_new_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")
    resolved = json.loads(jira_fixture("cloud_resolved_hidden_email.json"))

    async def send(payload: dict, delivery: str) -> httpx.Response:
        body = json.dumps(payload).encode()
        return await post(client, connector.name, body, jira_headers(body, delivery=delivery))

    first = (await send(resolved, "r1")).json()
    reopened = json.loads(json.dumps(resolved))
    reopened["issue"]["fields"].update(
        status={"name": "Reopened", "statusCategory": {"key": "new"}},
        resolution=None,
        resolutiondate=None,
    )
    reopened["changelog"]["items"][0].update(fromString="Resolved", toString="Reopened")
    answer = await send(reopened, "r2")
    assert answer.status_code == 200 and "not in the done category" in answer.json()["ignored"]
    ticket = await session.get(Ticket, first["ticket_id"])
    assert ticket.resolved_at is None  # the reopen ended the cycle
    again = json.loads(json.dumps(resolved))
    again["issue"]["fields"]["resolutiondate"] = "2026-11-25T09:30:00.000+0000"
    second = (await send(again, "r3")).json()
    assert second["ticket_id"] == first["ticket_id"]
    assert second["feedback_request_id"] != first["feedback_request_id"]
    assert len(await requests_of(session)) == 2
