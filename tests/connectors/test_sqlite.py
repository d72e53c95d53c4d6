"""Embedded mode: a webhook on SQLite, including a delivery whose effect fails (a savepoint)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.clock import utcnow
from app.connectors import ingest
from app.connectors.models import InboundEvent
from app.db import create_engine, make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.tickets.models import Ticket
from tests.conftest import make_settings
from tests.connectors.conftest import make_connector, own_fixture, std_headers
from tests.connectors.test_failures import fail_for


async def test_deliveries_and_a_failed_one_on_sqlite(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    event = json.loads(own_fixture("generic", "resolved.json"))
    fail_for(monkeypatch, "T-bad")
    try:
        async with sessions() as s:
            connector = await make_connector(s, kind="generic")
            await s.commit()
        statuses = []
        for ticket_id in ("T-bad", "T-good"):
            body = json.dumps({**event, "data": {**event["data"], "id": ticket_id}}).encode()
            async with sessions() as s:
                outcome = await ingest.receive(
                    s,
                    connector_name=connector.name,
                    headers=std_headers(body),
                    body=body,
                    settings=settings,
                    now=utcnow(),
                )
                await s.commit()
            statuses.append((outcome.status, outcome.stage))
        assert statuses == [("failed", "apply"), ("processed", None)]
        async with sessions() as s:
            mine = Ticket.connector_id == connector.id
            assert list(await s.scalars(select(Ticket.external_id).where(mine))) == ["T-good"]
            events = await s.scalars(
                select(InboundEvent.status).where(InboundEvent.connector_id == connector.id)
            )
            assert sorted(events) == ["failed", "processed"]
            requests = select(func.count()).where(FeedbackRequest.connector_id == connector.id)
            assert await s.scalar(requests) == 1
    finally:
        await engine.dispose()
