"""/api/v1/connectors: create, list, get, update, disable, delete; secrets write-only."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.connectors.models import Connector
from app.jobs import lanes, queue
from app.jobs.models import Job

SECRET = "sn-webhook-secret-0123456789"
PASSWORD = "integration-password-xyz"


def create_body(**overrides: object) -> dict:
    body = {
        "name": "sn-prod",
        "kind": "servicenow",
        "base_url": "https://acme.service-now.com/",
        "webhook_secret": SECRET,
        "auth": {"type": "basic", "username": "xpulse.integration", "password": PASSWORD},
        "channel": "email",
        "options": {"score_field": "u_xp_score", "tables": ["incident", "sc_req_item", "sc_task"]},
    }
    body.update(overrides)
    return body


async def test_connector_lifecycle(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    created = await client.post("/api/v1/connectors", json=create_body(), headers=admin_headers)
    assert created.status_code == 201, created.text
    data = created.json()
    assert SECRET not in created.text and PASSWORD not in created.text
    assert data["auth"] == {
        "type": "basic",
        "username": "xpulse.integration",
        "client_id": None,
        "token_url": None,
        "scope": None,
    }
    assert data["base_url"] == "https://acme.service-now.com"
    assert data["webhook_path"] == "/webhooks/sn-prod" and data["webhook_secret_set"] is True
    assert data["options"]["score_field"] == "u_xp_score"
    assert data["options"]["work_note"] is True  # the kind's defaults filled in
    assert "property_key" not in data["options"]  # and no other kind's options
    row = await session.get(Connector, data["id"])
    assert row.webhook_secret == SECRET and row.auth["password"] == PASSWORD

    listed = await client.get("/api/v1/connectors", headers=admin_headers)
    assert [c["id"] for c in listed.json()["items"]] == [data["id"]]
    got = await client.get(f"/api/v1/connectors/{data['id']}", headers=admin_headers)
    assert got.json() == data

    patched = await client.patch(
        f"/api/v1/connectors/{data['id']}",
        json={"options": {"work_note": False}, "channel": "ticket_comment"},
        headers=admin_headers,
    )
    assert patched.status_code == 200
    assert patched.json()["options"]["work_note"] is False
    assert patched.json()["options"]["score_field"] == "u_xp_score"  # merged, not replaced
    assert patched.json()["channel"] == "ticket_comment"

    disabled = await client.post(f"/api/v1/connectors/{data['id']}/disable", headers=admin_headers)
    assert disabled.json()["enabled"] is False
    deleted = await client.delete(f"/api/v1/connectors/{data['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    missing = await client.get(f"/api/v1/connectors/{data['id']}", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_create_errors(
    client: httpx.AsyncClient, admin_headers: dict[str, str], read_headers: dict[str, str]
) -> None:
    ok = await client.post("/api/v1/connectors", json=create_body(), headers=admin_headers)
    assert ok.status_code == 201
    duplicate = await client.post("/api/v1/connectors", json=create_body(), headers=admin_headers)
    assert duplicate.status_code == 409
    unknown = await client.post(
        "/api/v1/connectors", json=create_body(name="x", kind="zendesk"), headers=admin_headers
    )
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("unknown-connector-kind")
    short = await client.post(
        "/api/v1/connectors",
        json=create_body(name="y", webhook_secret="short"),
        headers=admin_headers,
    )
    assert short.status_code == 422 and "short" not in short.text  # secrets never echoed
    bad_option = await client.post(
        "/api/v1/connectors",
        json=create_body(name="z", options={"score_custom_field": "summary"}),
        headers=admin_headers,
    )
    assert bad_option.status_code == 422
    forbidden = await client.post(
        "/api/v1/connectors", json=create_body(name="w"), headers=read_headers
    )
    assert forbidden.status_code == 403


async def test_bearer_and_oauth_auth_are_write_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    bearer = create_body(
        name="jira-dc", kind="jira", auth={"type": "bearer", "token": "pat-123"}, options={}
    )
    response = await client.post("/api/v1/connectors", json=bearer, headers=admin_headers)
    assert response.status_code == 201 and "pat-123" not in response.text
    oauth = create_body(
        name="sn-oauth",
        auth={"type": "oauth_client_credentials", "client_id": "cid", "client_secret": "cs-999"},
    )
    response = await client.post("/api/v1/connectors", json=oauth, headers=admin_headers)
    assert response.status_code == 201 and "cs-999" not in response.text
    assert response.json()["auth"]["client_id"] == "cid"


OWN_OPTIONS = {
    "servicenow": {"tables", "resolved_states", "score_field", "work_note", "poll"},
    "jira": {"property_key", "score_custom_field", "replay_window_minutes", "comment"},
    "generic": {"callback_url"},
}
COMMON_OPTIONS = {"sampling_percent", "language", "requests_per_second"}


@pytest.mark.parametrize("kind", sorted(OWN_OPTIONS))
async def test_each_kind_accepts_and_echoes_only_its_own_options(
    client: httpx.AsyncClient, admin_headers: dict[str, str], kind: str
) -> None:
    created = await client.post(
        "/api/v1/connectors",
        json=create_body(name=f"{kind}-own", kind=kind, options={"language": "de"}),
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    echoed = set(created.json()["options"])
    assert OWN_OPTIONS[kind] | COMMON_OPTIONS <= echoed
    for other, names in OWN_OPTIONS.items():
        if other != kind:
            assert not names & echoed, other
    assert created.json()["options"]["language"] == "de"

    # Every other kind's option, and a made-up one, is refused by name, on create and on update.
    foreign = sorted(n for other, names in OWN_OPTIONS.items() if other != kind for n in names)
    for name in [*foreign, "no_such_option"]:
        refused = await client.post(
            "/api/v1/connectors",
            json=create_body(name=f"{kind}-bad", kind=kind, options={name: None}),
            headers=admin_headers,
        )
        assert refused.status_code == 422, (name, refused.text)
        problem = refused.json()
        assert f"options.{name}" in problem["detail"]
        assert {"field": f"options.{name}", "type": "extra_forbidden"}.items() <= (
            problem["errors"][0].items()
        )
        patched = await client.patch(
            f"/api/v1/connectors/{created.json()['id']}",
            json={"options": {name: None}},
            headers=admin_headers,
        )
        assert patched.status_code == 422 and f"options.{name}" in patched.json()["detail"]


async def test_a_row_stored_with_another_kinds_options_echoes_only_its_own(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    """Before options were per kind every connector stored every option: those never applied
    and are neither shown nor in the way of an update."""
    created = await client.post(
        "/api/v1/connectors",
        json=create_body(name="jira-old", kind="jira", options={}),
        headers=admin_headers,
    )
    connector_id = created.json()["id"]
    await session.execute(
        update(Connector)
        .where(Connector.id == uuid.UUID(connector_id))
        .values(options={"tables": ["incident"], "poll": True, "comment": "platform"})
    )
    got = await client.get(f"/api/v1/connectors/{connector_id}", headers=admin_headers)
    assert got.json()["options"]["comment"] == "platform"
    assert "tables" not in got.json()["options"] and "poll" not in got.json()["options"]
    patched = await client.patch(
        f"/api/v1/connectors/{connector_id}",
        json={"options": {"language": "fi"}},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["options"]["comment"] == "platform"
    row = await session.get(Connector, uuid.UUID(connector_id))
    await session.refresh(row)
    assert "tables" not in row.options and row.options["language"] == "fi"


class Probe(BaseModel):
    n: int


async def test_outbound_state_and_retry_dead(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    created = await client.post("/api/v1/connectors", json=create_body(), headers=admin_headers)
    data = created.json()
    assert data["outbound"] == {
        "state": "ok",
        "failing_since": None,
        "failing_seconds": None,
        "last_error": None,
        "last_error_at": None,
        "jobs_waiting": 0,
        "dead_jobs": 0,
    }
    lane = lanes.connector_lane(uuid.UUID(data["id"]))
    for n in range(4):
        await queue.enqueue(session, "connectors.write_back", Probe(n=n), lane=lane)
    started = utcnow()
    for _ in range(lanes.FAILING_AFTER):  # the ITSM keeps failing
        await lanes.failed(
            session,
            lane,
            now=started,
            error="HTTP 503",
            retry_after=None,
            delay=lambda _: 5,
            fresh=True,
        )
    await session.execute(
        update(Job).where(Job.lane == lane, Job.payload["n"].as_integer() < 2).values(status="dead")
    )
    await session.commit()

    url = f"/api/v1/connectors/{data['id']}"
    outbound = (await client.get(url, headers=read_headers)).json()["outbound"]
    assert outbound["state"] == "failing" and outbound["last_error"] == "HTTP 503"
    assert outbound["failing_since"] and outbound["failing_seconds"] >= 0
    assert (outbound["jobs_waiting"], outbound["dead_jobs"]) == (2, 2)
    [item] = (await client.get("/api/v1/connectors", headers=read_headers)).json()["items"]
    assert item["outbound"]["state"] == "failing" and item["outbound"]["dead_jobs"] == 2

    forbidden = await client.post(f"{url}/retry-dead", headers=read_headers)
    assert forbidden.status_code == 403
    retried = await client.post(f"{url}/retry-dead", headers=admin_headers)
    assert retried.status_code == 200 and retried.json() == {"retried": 2}
    again = await client.post(f"{url}/retry-dead", headers=admin_headers)
    assert again.json() == {"retried": 0}
    outbound = (await client.get(url, headers=read_headers)).json()["outbound"]
    assert (outbound["jobs_waiting"], outbound["dead_jobs"]) == (4, 0)
    missing = await client.post(
        f"/api/v1/connectors/{uuid.uuid4()}/retry-dead", headers=admin_headers
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
