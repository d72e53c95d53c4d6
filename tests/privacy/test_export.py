"""GET /api/v1/privacy/export: everything held about one person, every kind of row present."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.privacy.conftest import ADA, BOB, trail


async def test_the_export_holds_every_kind_of_row_about_the_person_and_nobody_else(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    admin_headers: dict[str, str],
) -> None:
    await trail(client, session, settings)
    answer = await client.get(
        "/api/v1/privacy/export", params={"email": ADA.email.lower()}, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    held = answer.json()
    assert held["email"] == ADA.email.lower()

    (ticket,) = held["tickets"]
    assert ticket["requester_email"].lower() == ADA.email.lower()  # the ITSM's case, kept
    assert (ticket["requester_name"], ticket["requester_id"]) == (
        ADA.name,
        ADA.requester_id,
    )
    (request,) = held["feedback_requests"]
    assert (
        request["recipient_email"] == ticket["requester_email"]
        and request["ticket_id"] == ticket["id"]
    )
    (response,) = held["responses"]
    assert response["comment"] == ADA.comment and response["score"] == 3
    assert response["factors"] == ["not_solved", "slow"] and response["lost_time"] == "1_2h"
    assert held["link_fetches"] and {o["request_id"] for o in held["link_fetches"]} == {
        request["id"]
    }
    assert {c["kind"] for c in held["clicks"]} >= {"answer", "opt_out"}
    (opt_out,) = held["opt_outs"]
    assert opt_out["requester_key"] == "email:" + ADA.email.lower()
    assert opt_out["status"] == "applied"
    # Her delivery, and Bob's that names her as a watcher.
    assert len(held["inbound_events"]) == 2
    assert all(ADA.email in e["body"] for e in held["inbound_events"])  # as sent
    names = sorted(j["name"] for j in held["jobs"])
    assert "connectors.post_comment" in names and "feedback.send_email" in names
    assert any(ADA.email in (j["last_error"] or "") for j in held["jobs"])
    assert BOB.email not in str(held["tickets"]) + str(held["feedback_requests"])
    assert BOB.comment not in answer.text

    audit = await client.get(
        "/api/v1/audit", params={"action": "privacy.export"}, headers=admin_headers
    )
    (event,) = audit.json()["items"]
    assert event["target"].startswith("subject:hmac:") and ADA.email.lower() not in audit.text
    assert event["detail"]["rows"]["responses"] == 1


async def test_an_export_for_someone_unknown_is_empty(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.get(
        "/api/v1/privacy/export", params={"email": "nobody@example.com"}, headers=admin_headers
    )
    assert answer.status_code == 200
    held = answer.json()
    assert all(held[k] == [] for k in held if k not in ("email", "generated_at"))


async def test_the_export_needs_an_admin_key_and_an_address(
    client: httpx.AsyncClient, read_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    refused = await client.get(
        "/api/v1/privacy/export", params={"email": ADA.email}, headers=read_headers
    )
    assert refused.status_code == 403
    missing = await client.get("/api/v1/privacy/export", headers=admin_headers)
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
