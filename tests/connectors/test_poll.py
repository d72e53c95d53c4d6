"""The ServiceNow catch-up poll against a real loopback HTTP server standing in for the Table
API: a webhook that never arrived is still surveyed, once; a late webhook adds nothing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import utcnow
from app.connectors.jobs import enqueue_servicenow_polls
from app.connectors.models import Connector, InboundEvent
from app.db import make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.http import make_http_client
from app.jobs.models import Job
from app.jobs.worker import Worker
from tests.conftest import make_settings
from tests.connectors.conftest import bearer, make_connector, own_fixture
from tests.connectors.fake_itsm import FakeITSM

RAW = json.loads(own_fixture("servicenow", "incident_resolved_display_false.json"))


def as_display_all(record: dict) -> dict:
    """The record as the Table API returns it with sysparm_display_value=all."""
    out = {}
    for key, value in record.items():
        raw = value["value"] if isinstance(value, dict) else value
        out[key] = {"display_value": raw, "value": raw}
    out["state"] = {"display_value": "Resolved", "value": "6"}
    out["caller_id"]["display_value"] = "Abel Tuter"
    return out


async def count_requests(engine: AsyncEngine) -> int:
    async with make_sessionmaker(engine)() as session:
        return await session.scalar(select(func.count()).select_from(FeedbackRequest)) or 0


async def test_poll_surveys_a_lost_delivery_once(
    committed: AsyncEngine, pg_url: str, live_server_factory
) -> None:
    sessionmaker = make_sessionmaker(committed)
    now = utcnow()
    with FakeITSM() as itsm:
        itsm.respond("GET", "/api/now/table/incident", 200, {"result": [as_display_all(RAW)]})
        itsm.respond("GET", "/api/now/table/sc_req_item", 200, {"result": []}, times=None)
        itsm.respond("GET", "/api/now/table/incident", 200, {"result": []}, times=None)
        async with sessionmaker() as session:
            connector = await make_connector(
                session,
                kind="servicenow",
                name="sn-poll",
                base_url=itsm.url,
                auth={"type": "basic", "username": "xpulse", "password": "pw"},
                channel="none",
            )
            await session.commit()
        settings = make_settings(pg_url)
        async with make_http_client(settings) as http:
            worker = Worker(sessionmaker, http, settings)
            # The business rule's POST never arrived. The periodic tick enqueues the poll …
            for _ in range(2):  # two replicas ticking together enqueue one poll
                async with sessionmaker() as session:
                    await enqueue_servicenow_polls(session, settings, now)
                    await session.commit()
            async with sessionmaker() as session:
                polls = await session.scalar(
                    select(func.count()).select_from(Job).where(Job.name.like("%poll_one"))
                )
            assert polls == 1
            await worker.drain(now)  # … and the poll job asks the Table API.

            [first, second] = itsm.requests("GET")
            assert first.path == "/api/now/table/incident"
            assert (
                first.headers["authorization"] == "Basic " + base64.b64encode(b"xpulse:pw").decode()
            )
            since = (now - timedelta(hours=24)).strftime("%Y-%m-%d %H:%M:%S")
            assert first.query["sysparm_query"] == [
                f"stateIN6,7^sys_updated_on>={since}^ORDERBYsys_updated_on"
            ]
            assert first.query["sysparm_display_value"] == ["all"]
            assert "caller_id.email" in first.query["sysparm_fields"][0]
            assert second.path == "/api/now/table/sc_req_item"
            assert await count_requests(committed) == 1
            async with sessionmaker() as session:
                row = await session.get(Connector, connector.id)
                assert row.poll_watermark == datetime(2026, 11, 21, 16, 2, 34, tzinfo=UTC)
                request = await session.scalar(select(FeedbackRequest))
                assert request.recipient_email == "abel.tuter@example.com"

            # The late webhook for the same record creates nothing new.
            with live_server_factory() as server:
                async with httpx.AsyncClient(base_url=server.url) as client:
                    body = own_fixture("servicenow", "incident_resolved_display_false.json")
                    late = await client.post("/webhooks/sn-poll", content=body, headers=bearer())
            assert late.status_code == 202
            assert late.json()["feedback_request_id"] == str(request.id)
            assert await count_requests(committed) == 1

            # The next poll, from the watermark, finds nothing new either.
            later = now + timedelta(minutes=10)
            async with sessionmaker() as session:
                await enqueue_servicenow_polls(session, settings, later)
                await session.commit()
            await worker.drain(later)
            third = itsm.requests("GET", "/api/now/table/incident")[-1]
            assert third.query["sysparm_query"][0].startswith(
                "stateIN6,7^sys_updated_on>=2026-11-21 16:02:34"
            )
            assert await count_requests(committed) == 1
            async with sessionmaker() as session:
                events = await session.scalar(select(func.count()).select_from(InboundEvent))
            assert events == 2  # the polled record and the late webhook, both kept


async def test_polls_are_enqueued_per_interval_and_only_where_enabled(session) -> None:
    settings = make_settings("postgresql+asyncpg://unused/none")
    due = await make_connector(session, kind="servicenow", poll_interval_seconds=60)
    await make_connector(session, kind="servicenow", poll=False)
    await make_connector(session, kind="jira")
    now = utcnow()

    async def queued() -> list[str]:
        rows = await session.scalars(select(Job.dedupe_key).where(Job.name.like("%poll_one")))
        return list(rows.all())

    await enqueue_servicenow_polls(session, settings, now)
    assert await queued() == [f"servicenow_poll:{due.id}"]
    await session.execute(Job.__table__.update().values(status="done"))
    await enqueue_servicenow_polls(session, settings, now + timedelta(seconds=30))
    assert len(await queued()) == 1  # not due yet
    await enqueue_servicenow_polls(session, settings, now + timedelta(seconds=61))
    assert len(await queued()) == 2
