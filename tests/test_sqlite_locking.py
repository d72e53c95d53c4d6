"""The embedded SQLite database under the quick start's load: webhooks, clicks and the job
worker writing at once never meet "database is locked" (every transaction takes the write lock
up front and waits its turn, instead of failing when a reader tries to become a writer)."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from sqlalchemy import func, select, text

from app.db import create_engine, make_sessionmaker
from app.feedback.models import FeedbackRequest
from app.jobs.models import Job
from app.jobs.worker import Worker
from app.main import create_app
from tests.conftest import make_settings
from tests.connectors.conftest import make_connector, own_fixture, std_headers


async def test_transactions_that_read_then_write_wait_instead_of_failing(sqlite_url: str) -> None:
    """The shape behind the quick start's lock errors: two transactions that both read first
    and then write. With a deferred BEGIN the second writer fails at once (SQLite cannot wait
    for a reader to become a writer); with the lock taken at BEGIN it waits its turn."""
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (n INTEGER)"))
            await conn.execute(text("INSERT INTO counter VALUES (0)"))

        async def bump() -> None:
            async with engine.begin() as conn:
                n = (await conn.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.05)  # the other transaction reads meanwhile
                await conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(bump() for _ in range(8)))
        async with engine.connect() as conn:
            # No update was lost either: each read saw the previous write.
            assert (await conn.execute(text("SELECT n FROM counter"))).scalar_one() == 8
    finally:
        await engine.dispose()


async def test_webhooks_and_jobs_at_once_on_sqlite(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        sqlite_url, smtp={"host": "127.0.0.1", "port": 9, "timeout_seconds": 1}
    )
    app = create_app(settings, start_ticker_=False)
    event = json.loads(own_fixture("generic", "resolved.json"))
    async with app.router.lifespan_context(app):
        sessions = make_sessionmaker(app.state.engine)
        async with sessions() as s:
            connector = await make_connector(s, kind="generic")
            await s.commit()
        worker = Worker(sessions, app.state.http, settings)
        transport = httpx.ASGITransport(app=app)
        statuses: list[int] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://xpulse") as client:

            async def deliver(n: int) -> None:
                data = {**event["data"], "id": f"T-{n}", "number": f"INC{n:05d}"}
                body = json.dumps({**event, "data": data}).encode()
                response = await client.post(
                    f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
                )
                statuses.append(response.status_code)

            async def work() -> None:
                # The e-mail jobs fail (nothing listens on port 9) and are rescheduled: writes.
                for _ in range(15):
                    await worker.run_once()
                    await asyncio.sleep(0.01)

            with caplog.at_level(logging.WARNING):
                await asyncio.gather(work(), *(deliver(n) for n in range(40)))
        assert statuses == [202] * 40, statuses
        assert "database is locked" not in caplog.text
        async with sessions() as s:
            assert await s.scalar(select(func.count()).select_from(FeedbackRequest)) == 40
            errors = await s.scalars(select(Job.last_error).where(Job.last_error.is_not(None)))
            assert not [e for e in errors if "locked" in e]
