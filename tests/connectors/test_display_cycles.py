"""A ServiceNow record sent with sysparm_display_value=true carries local times: its cycle key
is a guess, so the same resolution seen raw (the poll) is still one feedback request, in
either order."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors.jobs import servicenow_poll_one
from app.connectors.models import Connector
from app.connectors.schemas import PollConnector
from app.feedback.models import FeedbackRequest
from app.jobs.registry import JobContext
from app.tickets.models import Ticket
from tests.connectors.conftest import bearer, make_connector, record_body
from tests.connectors.fake_itsm import FakeITSM
from tests.connectors.test_poll import as_display_all

RAW = json.loads(record_body())  # INC0010042 resolved 2026-11-21 16:02:33 UTC
# The same record as a business rule serialises it with display values (US Pacific).
DISPLAY = {
    "sys_id": RAW["sys_id"],
    "number": RAW["number"],
    "sys_class_name": "Incident",
    "short_description": RAW["short_description"],
    "state": "Resolved",
    "caller_id": "Abel Tuter",
    "priority": "2 - High",
    "opened_at": "11/20/2026 00:15:00",
    "resolved_at": "11/21/2026 08:02:33",
    "closed_at": "",
    "sys_updated_on": "11/21/2026 08:02:34",
}


async def webhook(client: httpx.AsyncClient, connector: Connector) -> httpx.Response:
    body = json.dumps(DISPLAY).encode()
    response = await client.post(f"/webhooks/{connector.name}", content=body, headers=bearer())
    assert response.status_code == 202
    return response


async def poll(session: AsyncSession, settings: Settings, itsm: FakeITSM, connector) -> None:
    itsm.respond("GET", "/api/now/table/incident", 200, {"result": [as_display_all(RAW)]})
    itsm.respond("GET", "/api/now/table/sc_req_item", 200, {"result": []})
    async with httpx.AsyncClient() as http:
        ctx = JobContext(session, http, settings, utcnow(), 1, 1)
        await servicenow_poll_one(ctx, PollConnector(connector_id=connector.id))


async def requests(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(FeedbackRequest)) or 0


async def test_display_webhook_then_poll_is_one_request(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    with FakeITSM() as itsm:
        connector = await make_connector(session, kind="servicenow", base_url=itsm.url)
        first = await webhook(client, connector)
        await poll(session, settings, itsm, connector)
    assert await requests(session) == 1
    ticket = await session.get(Ticket, first.json()["ticket_id"])
    assert ticket.resolution_cycle == "guess:local:resolved_at:11/21/2026 08:02:33"
    assert ticket.requester_email == "abel.tuter@example.com"  # the poll still refreshed it


async def test_poll_then_display_webhook_is_one_request(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    with FakeITSM() as itsm:
        connector = await make_connector(session, kind="servicenow", base_url=itsm.url)
        await poll(session, settings, itsm, connector)
        assert await requests(session) == 1
        late = await webhook(client, connector)
    assert await requests(session) == 1
    [request] = (await session.scalars(select(FeedbackRequest))).all()
    assert late.json()["feedback_request_id"] == str(request.id)
    ticket = await session.get(Ticket, request.ticket_id)
    assert ticket.resolution_cycle == "resolved_at:2026-11-21 16:02:33"
