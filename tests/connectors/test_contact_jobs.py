"""Requester contact look-up and the ticket-comment fallback, against loopback ITSM servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.config import Settings
from app.connectors import ingest
from app.db import make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.http import make_http_client
from app.jobs import queue
from app.jobs.models import Job
from app.jobs.worker import Worker
from app.main import load_handlers
from app.tickets.events import PostComment
from app.tickets.models import Ticket
from tests.conftest import make_settings, shared_fixture
from tests.connectors.conftest import (
    bearer,
    jira_fixture,
    jira_headers,
    make_connector,
)
from tests.connectors.fake_itsm import FakeITSM

CALLER = "681ccaf9c0a8016400b98a06818d57c7"  # Joe Employee in the shared incident
HIDDEN = "712020:4d2b1c3e-aaaa-bbbb-cccc-0123456789ab"


@pytest.fixture
def sessionmaker(committed: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(committed)


@pytest.fixture
async def worker(
    sessionmaker: async_sessionmaker[AsyncSession], pg_url: str
) -> AsyncIterator[Worker]:
    load_handlers()
    settings = make_settings(pg_url)
    async with make_http_client(settings) as http:
        yield Worker(sessionmaker, http, settings)


async def deliver(sessionmaker, settings: Settings, name: str, body: bytes, headers: dict) -> None:
    async with sessionmaker() as session:
        outcome = await ingest.receive(
            session,
            connector_name=name,
            headers=headers,
            body=body,
            settings=settings,
            now=utcnow(),
        )
        await session.commit()
    assert outcome.request_id is not None


async def jobs(sessionmaker, name: str) -> list[Job]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Job).where(Job.name == name))).all())


async def the_request(sessionmaker) -> FeedbackRequest:
    async with sessionmaker() as session:
        return await session.scalar(select(FeedbackRequest))


async def test_servicenow_caller_email_is_looked_up(sessionmaker, worker: Worker) -> None:
    with FakeITSM() as itsm:
        itsm.respond(
            "GET",
            f"/api/now/table/sys_user/{CALLER}",
            200,
            {"result": {"email": "joe@example.com"}},
        )
        async with sessionmaker() as session:
            await make_connector(
                session,
                kind="servicenow",
                name="sn",
                base_url=itsm.url,
                auth={"type": "bearer", "token": "t0k"},
            )
            await session.commit()
        body = shared_fixture("servicenow", "incident_INC0000060_display_value_all.json")
        await deliver(sessionmaker, worker.settings, "sn", body.read_bytes(), bearer())
        await worker.run_once(utcnow())  # the look-up only; the e-mail job stays queued
    [seen] = itsm.seen
    assert seen.query == {"sysparm_fields": ["email"]}
    assert seen.headers["authorization"] == "Bearer t0k"
    request = await the_request(sessionmaker)
    assert (request.recipient_email, request.channel) == ("joe@example.com", "email")
    async with sessionmaker() as session:
        ticket = await session.scalar(select(Ticket))
    assert ticket.requester_email == "joe@example.com"
    assert [j.status for j in await jobs(sessionmaker, "feedback.send_email")] == ["pending"]


async def test_hidden_email_falls_back_to_a_ticket_comment(sessionmaker, worker: Worker) -> None:
    with FakeITSM() as itsm:
        # Cloud answers the look-up without emailAddress when the profile hides it.
        itsm.respond("GET", "/rest/api/2/user", 200, {"accountId": HIDDEN, "displayName": "Bo"})
        itsm.respond("POST", "/rest/servicedeskapi/request/10088/comment", 201, {"id": "9"})
        async with sessionmaker() as session:
            await make_connector(session, kind="jira", name="jira", base_url=itsm.url)
            await session.commit()
        body = jira_fixture("cloud_resolved_hidden_email.json")
        await deliver(sessionmaker, worker.settings, "jira", body, jira_headers(body))
        await worker.run_once(utcnow())  # look-up: nothing found -> comment channel
        request = await the_request(sessionmaker)
        assert request.channel == "ticket_comment" and "no e-mail" in request.status_reason
        await worker.run_once(utcnow())  # the comment
        [job] = await jobs(sessionmaker, "connectors.post_comment")
        assert job.status == "done"
        # A second copy of the job (at-least-once delivery) posts nothing more.
        async with sessionmaker() as session:
            await queue.enqueue(session, "connectors.post_comment", PostComment(**job.payload))
            await session.commit()
        await worker.run_once(utcnow())
    lookup, comment = itsm.seen
    assert lookup.query == {"accountId": [HIDDEN]}  # an accountId: a Cloud look-up
    assert comment.path == "/rest/servicedeskapi/request/10088/comment"
    posted = comment.json()
    assert posted["public"] is True  # the requester must see the links
    assert "/f/" in posted["body"]
    request = await the_request(sessionmaker)
    assert request.status == "sent"
