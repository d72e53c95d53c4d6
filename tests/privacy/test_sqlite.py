"""Erasure and export in embedded mode (SQLite, the quick-start default)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.clock import utcnow
from app.connectors import ingest
from app.connectors.models import InboundEvent
from app.db import create_engine, make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.privacy import erasure, export
from app.tickets.models import Ticket
from tests.conftest import make_settings, migrate
from tests.connectors.conftest import make_connector, std_headers
from tests.privacy.conftest import ADA, resolved_body


async def test_erasure_and_export_on_sqlite(tmp_path: Path) -> None:
    # A database of its own: this test commits, and the shared SQLite file must stay empty for
    # the tests that compare figures on it.
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'xpulse.db'}"
    migrate(sqlite_url)
    settings = make_settings(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as s:
            connector = await make_connector(s, kind="generic")
            await s.commit()
        body = resolved_body(ADA, 4242)
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
        assert outcome.request_id is not None
        async with sessions() as s:
            held = await export.export(s, email=ADA.email.upper(), now=utcnow())
            assert [t.requester_name for t in held.tickets] == [ADA.name]
            assert len(held.feedback_requests) == 1 and len(held.inbound_events) == 1
            _, changed = await erasure.erase(
                s, email=ADA.email, secret="test-secret-key-0123456789", now=utcnow()
            )
            await s.commit()
        assert changed["tickets"] == 1 and changed["inbound_events"] == 1
        async with sessions() as s:
            ticket = await s.scalar(select(Ticket).where(Ticket.connector_id == connector.id))
            assert ticket is not None and ticket.requester_email is None
            request = await s.get(FeedbackRequest, outcome.request_id)
            assert request is not None and request.recipient_email is None
            event = await s.scalar(
                select(InboundEvent).where(InboundEvent.connector_id == connector.id)
            )
            assert event is not None and event.body == b""
            again = await export.export(s, email=ADA.email, now=utcnow() + timedelta(seconds=1))
            assert json.loads(again.model_dump_json())["tickets"] == []
    finally:
        await engine.dispose()
