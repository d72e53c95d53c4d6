"""The same resolved event delivered concurrently to the real server on PostgreSQL: exactly
one ticket, one feedback request and one inbox row."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.connectors.models import InboundEvent
from app.db import make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.tickets.models import Ticket
from tests.connectors.conftest import jira_fixture, jira_headers, make_connector

BODY = jira_fixture("cloud_resolved_hidden_email.json")


@pytest.mark.parametrize(
    ("deliveries", "inbox_rows"),
    [
        (["same-id"] * 8, 1),  # Jira retrying one delivery while the first is in flight
        ([f"id-{n}" for n in range(8)], 8),  # distinct deliveries of one resolution
    ],
    ids=["same-delivery", "same-resolution"],
)
async def test_concurrent_duplicates_make_one_ticket_and_one_request(
    committed: AsyncEngine, live_server_factory, deliveries: list[str], inbox_rows: int
) -> None:
    sessionmaker = make_sessionmaker(committed)
    async with sessionmaker() as session:
        connector = await make_connector(session, kind="jira", name="jira-cloud")
        await session.commit()
    with live_server_factory() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"/webhooks/{connector.name}",
                        content=BODY,
                        headers=jira_headers(BODY, delivery=d),
                    )
                    for d in deliveries
                )
            )
    assert [r.status_code for r in responses] == [202] * len(deliveries)
    assert len({r.json()["feedback_request_id"] for r in responses}) == 1
    assert len({r.json()["ticket_id"] for r in responses}) == 1
    async with sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Ticket, FeedbackRequest, InboundEvent)
        ]
    assert counts == [1, 1, inbox_rows]
