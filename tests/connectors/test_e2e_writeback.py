"""End to end with stateful loopback stand-ins for ServiceNow and Jira: webhook in, a response
recorded on the public form, the score and one note land on the ticket with the right auth;
429 Retry-After is honoured, 500 retried, 400 dead, listed and retried from the API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.db import make_sessionmaker
from app.http import make_http_client
from app.jobs.models import Job
from app.jobs.worker import Worker
from tests.conftest import make_settings
from tests.connectors.conftest import SECRET, bearer, jira_fixture, jira_headers, own_fixture
from tests.connectors.standins import JiraStandIn, ServiceNowStandIn, StandIn

SN_BODY = own_fixture("servicenow", "incident_resolved_display_false.json")
SN_SYS_ID = "9d385017c611228701d22104cc95c371"
JIRA_BODY = jira_fixture("cloud_resolved_hidden_email.json")


@dataclass
class Rig:
    api: httpx.AsyncClient
    admin: dict[str, str]
    worker: Worker
    sessionmaker: async_sessionmaker[AsyncSession]

    async def drain(self, ahead_seconds: float = 0) -> None:
        await self.worker.drain(utcnow() + timedelta(seconds=ahead_seconds))

    async def write_back_job(self) -> Job:
        async with self.sessionmaker() as session:
            return await session.scalar(select(Job).where(Job.name == "connectors.write_back"))

    async def resolve_and_answer(self, connector: dict, body: bytes, headers: dict) -> None:
        created = await self.api.post("/api/v1/connectors", json=connector, headers=self.admin)
        assert created.status_code == 201, created.text
        hook = await self.api.post(f"/webhooks/{connector['name']}", content=body, headers=headers)
        assert hook.status_code == 202, hook.text
        token = urlsplit(hook.json()["links"]["9"]).path.rsplit("/", 1)[-1]
        answer = await self.api.post(
            f"/f/{token}",
            data={"score": "9"},
            headers={"Accept": "application/json", "Sec-Fetch-Site": "same-origin"},
        )
        assert answer.status_code < 300, answer.text

    async def retry_dead_write_back(self) -> None:
        dead = await self.api.get("/api/v1/jobs?status=dead", headers=self.admin)
        [job] = [j for j in dead.json()["items"] if j["name"] == "connectors.write_back"]
        assert "permanent" in job["last_error"] and "HTTP 400" in job["last_error"]
        retried = await self.api.post(f"/api/v1/jobs/{job['id']}/retry", headers=self.admin)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"


@asynccontextmanager
async def rig(engine: AsyncEngine, pg_url: str, live_server_factory) -> AsyncIterator[Rig]:
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        _, plain = await auth_service.create_key(
            session, name="e2e", scope=Scope.admin, now=utcnow()
        )
        await session.commit()
    settings = make_settings(pg_url)
    # Write-backs normally wait out an edit window; these tests send them at once.
    # The answer comes right after the links were handed out: no "too soon" scanner rule here.
    feedback = {"writeback_delay_seconds": 0, "scanner_min_seconds_after_send": 0}
    with live_server_factory(feedback=feedback) as server:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=30) as api,
            make_http_client(settings) as http,
        ):
            worker = Worker(sessionmaker, http, settings)
            yield Rig(api, {"Authorization": f"Bearer {plain}"}, worker, sessionmaker)


async def assert_retry_sequence(r: Rig, itsm: StandIn) -> None:
    """429 (Retry-After: 1) -> waits; then 500 -> retried; then 400 -> dead."""
    itsm.fail(429, {"Retry-After": "1"}, times=1)
    await r.drain()
    assert [s.status for s in itsm.seen] == [429]
    job = await r.write_back_job()
    assert job.status == "pending" and "HTTP 429" in job.last_error
    assert utcnow() < job.run_after <= utcnow() + timedelta(seconds=1.5)
    await r.drain()  # Retry-After has not passed: nothing is sent
    assert len(itsm.seen) == 1
    itsm.fail(500, times=1)
    await r.drain(ahead_seconds=2)  # the retry gets the 500
    assert (await r.write_back_job()).status == "pending"
    itsm.fail(400, times=1)
    await r.drain(ahead_seconds=10)  # backoff passed: the 400 kills it
    assert (await r.write_back_job()).status == "dead"
    assert [s.status for s in itsm.seen] == [429, 500, 400]


async def test_servicenow_write_back_end_to_end(
    committed: AsyncEngine, pg_url: str, live_server_factory
) -> None:
    basic = "Basic " + base64.b64encode(b"xpulse:s3cret").decode()
    with ServiceNowStandIn(auth=basic) as sn:
        sn.add_record("incident", SN_SYS_ID, number="INC0000060", u_experience_score="")
        async with rig(committed, pg_url, live_server_factory) as r:
            connector = {
                "name": "sn-e2e",
                "kind": "servicenow",
                "base_url": sn.url,
                "webhook_secret": SECRET,
                "auth": {"type": "basic", "username": "xpulse", "password": "s3cret"},
                "channel": "none",
            }
            await r.resolve_and_answer(connector, SN_BODY, bearer())
            await assert_retry_sequence(r, sn)
            await r.retry_dead_write_back()
            await r.drain(ahead_seconds=1)
            assert (await r.write_back_job()).status == "done"

    assert sn.record("incident", SN_SYS_ID)["u_experience_score"] == "9"
    [note] = sn.journal(SN_SYS_ID)  # the failed attempts wrote nothing
    assert note.startswith("XPulse feedback: 😀 9/10\n")
    [patch] = sn.requests("PATCH")
    assert patch.query == {"sysparm_fields": ["sys_id,number"]}
    assert {s.status for s in sn.seen[3:]} == {200}  # the basic credentials were accepted


async def test_jira_write_back_end_to_end(
    committed: AsyncEngine, pg_url: str, live_server_factory
) -> None:
    with JiraStandIn(auth="Bearer dc-personal-access-token") as jira:
        jira.add_issue("10088", "PROJ-12")
        async with rig(committed, pg_url, live_server_factory) as r:
            connector = {
                "name": "jira-e2e",
                "kind": "jira",
                "base_url": jira.url,
                "webhook_secret": SECRET,
                "auth": {"type": "bearer", "token": "dc-personal-access-token"},
                "channel": "none",
                "options": {"score_custom_field": "customfield_10050", "comment": "internal"},
            }
            headers = jira_headers(JIRA_BODY, delivery="e2e-1")
            await r.resolve_and_answer(connector, JIRA_BODY, headers)
            await assert_retry_sequence(r, jira)
            await r.retry_dead_write_back()
            await r.drain(ahead_seconds=1)
            assert (await r.write_back_job()).status == "done"

    document = jira.property("10088", "xpulse.experience")
    assert document["score"] == 9 and document["label"] == "😀" and document["text"] == "😀 9/10"
    assert jira.issues["10088"].fields == {"customfield_10050": 9}
    [comment] = jira.issues["10088"].comments
    assert comment["public"] is False  # internal: the customer never sees it
    assert comment["body"].startswith("XPulse feedback: 😀 9/10\n")
    field_write = [s for s in jira.requests("PUT") if s.path == "/rest/api/2/issue/10088"][-1]
    assert field_write.query == {"notifyUsers": ["false"]}
