"""The hot paths' database work, counted: one webhook ingest and one answer on the page each
run a fixed number of statements. A change that adds one fails here and must say why.

Counted with SQLAlchemy's cursor and transaction events on the app's own engine (a real
PostgreSQL, the app's own sessions: no test session joined in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import make_sessionmaker
from app.http import make_http_client
from app.main import create_app
from tests.conftest import make_settings
from tests.connectors.conftest import bearer, make_connector
from tests.hotpaths.conftest import incident

# The counts this work reached (before it: 14 round trips per ingest, 12 per answer; see
# docs/benchmarks.md). Statements, then BEGIN and COMMIT.
INGEST_STATEMENTS = 4  # ticket upsert, request insert, e-mail job insert, inbox row insert
# request, response (locked), opens near the click, click row, response insert, request update,
# write-back job
ANSWER_STATEMENTS = 7


@dataclass
class Tally:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Tally]:
    tally = Tally()

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        tally.statements.append(" ".join(statement.split(None, 3)[:3]))

    def on_begin(conn) -> None:
        tally.transactions += 1

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "begin", on_begin)
    try:
        yield tally
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "begin", on_begin)


@pytest.fixture
def settings(pg_url: str) -> Settings:
    # A press straight after the page showed would be judged a scanner's: this test's person
    # is fast on purpose, so that the answer is a counted one.
    feedback = {"scanner_min_seconds_after_send": 0, "scanner_min_action_ms": 0}
    return make_settings(pg_url, feedback=feedback)


@pytest.fixture
async def app(settings: Settings, committed: AsyncEngine) -> AsyncIterator[FastAPI]:
    """The app on its own sessions (each request commits for real)."""
    application = create_app(settings, start_ticker_=False)
    application.state.engine = committed
    application.state.sessionmaker = make_sessionmaker(committed)
    application.state.http = make_http_client(settings)
    yield application
    await application.state.http.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_one_ingest_and_one_answer_run_a_fixed_number_of_statements(
    client: httpx.AsyncClient, committed: AsyncEngine, app: FastAPI
) -> None:
    async with app.state.sessionmaker() as session:
        email = await make_connector(session, kind="servicenow", channel="email")
        none = await make_connector(session, kind="servicenow", channel="none")
    headers = {**bearer(), "content-type": "application/json"}
    # The first delivery reads the connector; the next ones find it held in memory.
    for name, n in ((email.name, 1), (none.name, 2)):
        first = await client.post(f"/webhooks/{name}", content=incident(n), headers=headers)
        assert first.status_code == 202, first.text

    with counting(committed) as ingest:
        response = await client.post(
            f"/webhooks/{email.name}", content=incident(3), headers=headers
        )
    assert response.status_code == 202, response.text
    assert (len(ingest.statements), ingest.transactions) == (INGEST_STATEMENTS, 1), ingest

    async def answer_one(n: int) -> httpx.Response:
        link = await client.post(f"/webhooks/{none.name}", content=incident(n), headers=headers)
        token = link.json()["links"]["9"].split("/f/")[1].split("?")[0]
        page = await client.get(f"/f/{token}?s=9")
        assert page.status_code == 200
        view = page.text.split('name="view" value="')[1].split('"')[0]
        with counting(committed) as tally:
            saved = await client.post(
                f"/f/{token}",
                # As the page posts it: with its language.
                json={"score": 9, "lang": "de", "view": view, "signals": {"interacted": True}},
                headers={"accept": "application/json", "sec-fetch-site": "same-origin"},
            )
        assert saved.status_code == 200 and saved.json()["counted"], saved.text
        return tally

    # The first answers of a connector find its write-back lane's row and remember it.
    for n in (4, 5):
        await answer_one(n)
    answer = await answer_one(6)
    assert (len(answer.statements), answer.transactions) == (ANSWER_STATEMENTS, 1), answer
