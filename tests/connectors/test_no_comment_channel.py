"""A generic connector without callback_url cannot post comments: a requester without an
e-mail address is suppressed with the reason at once, not left pending until expiry."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors.jobs import lookup_contact, post_comment
from app.connectors.schemas import LookupContact
from app.feedback.models import FeedbackRequest
from app.jobs.models import Job
from app.jobs.registry import JobContext
from app.tickets.events import PostComment
from tests.connectors.conftest import make_connector, own_fixture, std_headers


async def deliver(client: httpx.AsyncClient, session: AsyncSession, channel: str) -> str:
    connector = await make_connector(session, kind="generic", channel=channel)
    event = json.loads(own_fixture("generic", "resolved.json"))
    del event["data"]["requester"]["email"]
    body = json.dumps(event).encode()
    response = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert response.status_code == 202
    return connector.name


async def run(session: AsyncSession, settings: Settings, name: str, handler, model) -> None:
    job = await session.scalar(select(Job).where(Job.name == name))
    assert job is not None
    async with httpx.AsyncClient() as http:  # never used: nothing can be called
        await handler(
            JobContext(session, http, settings, utcnow(), 1, job.id), model(**job.payload)
        )


async def the_request(session: AsyncSession) -> FeedbackRequest:
    stmt = select(FeedbackRequest).execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def test_no_email_and_no_callback_is_suppressed_with_the_reason(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    name = await deliver(client, session, "email")
    await run(session, settings, "connectors.lookup_contact", lookup_contact, LookupContact)
    request = await the_request(session)
    assert request.status == "suppressed"
    assert request.status_reason == (
        f"no e-mail address for the requester in generic; "
        f"the generic connector {name} cannot post ticket comments"
    )
    posts = await session.scalar(select(Job).where(Job.name == "connectors.post_comment"))
    assert posts is None  # no comment job bound to go dead


async def test_a_comment_channel_that_cannot_post_is_suppressed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    name = await deliver(client, session, "ticket_comment")
    await run(session, settings, "connectors.post_comment", post_comment, PostComment)
    request = await the_request(session)
    assert (request.status, request.status_reason) == (
        "suppressed",
        f"the generic connector {name} cannot post ticket comments",
    )
