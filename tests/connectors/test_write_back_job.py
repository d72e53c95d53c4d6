"""connectors.write_back skips a payload older than the stored answer (its newer job wins)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import respx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors.jobs import write_back
from app.feedback.models import FeedbackRequest, Response
from app.jobs.registry import JobContext
from app.tickets import service as tickets_service
from app.tickets.events import WriteBack
from app.tickets.models import Ticket
from tests.connectors.conftest import bearer, make_connector, record_body


async def test_stale_write_back_is_skipped(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    connector = await make_connector(session, kind="servicenow")
    assert (
        await client.post(f"/webhooks/{connector.name}", content=record_body(), headers=bearer())
    ).status_code == 202
    request = await session.scalar(select(FeedbackRequest))
    ticket = await session.scalar(select(Ticket))
    now = utcnow()
    response = Response(
        request_id=request.id,
        ticket_id=ticket.id,
        score=8,
        scale=request.scale,
        answered_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(response)
    await session.flush()

    def payload(updated_at, score: int) -> WriteBack:
        return WriteBack(
            ticket=tickets_service.ref_of(ticket),
            request_id=request.id,
            response_id=response.id,
            response_updated_at=updated_at,
            score=score,
            scale=request.scale,
            normalised=score * 10.0,
            label=str(score),
        )

    url = f"{connector.base_url}/api/now/table/incident/{ticket.external_id}"
    with respx.mock:
        respx.get(url).respond(200, json={"result": {"u_experience_score": ""}})
        journal = f"{connector.base_url}/api/now/table/sys_journal_field"
        respx.get(journal).respond(200, json={"result": []})
        route = respx.patch(url).respond(200, json={})
        async with httpx.AsyncClient() as http:
            ctx = JobContext(session, http, settings, now, 1, 1)
            await write_back(ctx, payload(now - timedelta(seconds=5), 3))  # superseded
            assert route.call_count == 0
            await write_back(ctx, payload(now, 8))
            assert route.call_count == 1
    assert b'"u_experience_score":"8"' in route.calls.last.request.content.replace(b" ", b"")
