"""The audit log: each admin action is recorded with its actor and target, never a secret, and
/api/v1/audit lists them newest first with filters and pages."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.clock import utcnow
from app.jobs.models import Job, JobStatus

SECRET = "audit-webhook-secret-0123456789"
NEW_SECRET = "audit-webhook-secret-rotated-987"
PASSWORD = "audit-itsm-password-xyz"


async def _admin_prefix(session: AsyncSession) -> str:
    key = await session.scalar(select(ApiKey).where(ApiKey.name == "test-admin"))
    assert key is not None
    return key.prefix


async def _dead_job(session: AsyncSession) -> int:
    job = Job(name="feedback.send_email", payload={}, status=JobStatus.dead, run_after=utcnow())
    session.add(job)
    await session.flush()
    await session.commit()
    return job.id


async def test_admin_actions_are_recorded_with_actor_and_target_and_no_secret(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    actor = f"key:{await _admin_prefix(session)}"
    body = {
        "name": "audited",
        "kind": "servicenow",
        "base_url": "https://acme.service-now.com",
        "webhook_secret": SECRET,
        "auth": {"type": "basic", "username": "xpulse", "password": PASSWORD},
    }
    created = await client.post("/api/v1/connectors", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    calls = [
        ("PATCH", f"/api/v1/connectors/{cid}", {"channel": "none"}),
        ("PATCH", f"/api/v1/connectors/{cid}", {"webhook_secret": NEW_SECRET}),
        ("POST", f"/api/v1/connectors/{cid}/disable", None),
        ("POST", f"/api/v1/connectors/{cid}/enable", None),
        ("POST", f"/api/v1/connectors/{cid}/retry-dead", None),
        ("POST", f"/api/v1/jobs/{await _dead_job(session)}/retry", None),
        ("DELETE", f"/api/v1/connectors/{cid}", None),
    ]
    for method, path, payload in calls:
        answer = await client.request(method, path, json=payload, headers=admin_headers)
        assert answer.status_code < 300, (path, answer.text)

    listed = await client.get("/api/v1/audit", headers=admin_headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["action"] for i in items] == [
        "connector.delete",
        "job.retry",
        "connector.retry_dead",
        "connector.enable",
        "connector.disable",
        "connector.rotate_secret",
        "connector.update",
        "connector.create",
    ]
    assert {i["actor"] for i in items} == {actor}
    assert {i["target"] for i in items if i["action"].startswith("connector.")} == {
        f"connector:{cid}"
    }
    assert items[1]["target"].startswith("job:") and items[1]["detail"] == {
        "name": "feedback.send_email"
    }
    assert items[5]["detail"]["fields"] == ["webhook_secret"]
    for secret in (SECRET, NEW_SECRET, PASSWORD):
        assert secret not in listed.text


async def test_the_audit_list_filters_and_pages(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    from app.audit import service as audit

    start = utcnow()
    for n in range(3):
        await audit.record(
            session, actor="user:ann", action="privacy.export", target=f"t{n}", now=start
        )
    await audit.record(session, actor="key:abc", action="job.retry", now=start)
    await session.commit()

    mine = await client.get(
        "/api/v1/audit", params={"actor": "user:ann", "limit": 2}, headers=admin_headers
    )
    page = mine.json()
    assert [i["target"] for i in page["items"]] == ["t2", "t1"]
    rest = await client.get(
        "/api/v1/audit",
        params={"actor": "user:ann", "limit": 2, "cursor": page["next_cursor"]},
        headers=admin_headers,
    )
    assert [i["target"] for i in rest.json()["items"]] == ["t0"]
    assert rest.json()["next_cursor"] is None
    retried = await client.get(
        "/api/v1/audit", params={"action": "job.retry"}, headers=admin_headers
    )
    assert [i["actor"] for i in retried.json()["items"]] == ["key:abc"]
    later = await client.get(
        "/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert later.json()["items"] == []
    before = await client.get(
        "/api/v1/audit", params={"until": start.isoformat()}, headers=admin_headers
    )
    assert before.json()["items"] == []


async def test_the_audit_log_needs_an_admin_key(
    client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/audit")).status_code == 401
    refused = await client.get("/api/v1/audit", headers=read_headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
