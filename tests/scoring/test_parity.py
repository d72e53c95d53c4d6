"""The same queries give the same numbers on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import create_engine
from app.scoring import exports, insights, service, sql
from app.scoring.privacy import Privacy
from app.scoring.schemas import Dimension, Interval, ScoreFilter
from tests.conftest import rolled_back_session
from tests.scoring.builders import EDGE_CASES, FIXED, TZ_CASES, seed

CASES = FIXED + TZ_CASES + EDGE_CASES
FILTERS = [
    ScoreFilter(),
    ScoreFilter(date_from="2026-01-05", date_to="2026-01-31", tz="Europe/Berlin"),
    ScoreFilter(date_from="2025-12-01", date_to="2026-03-31", tz="America/New_York"),
    ScoreFilter(service="Email", agent="ann"),
    ScoreFilter(service="VPN"),  # empty
    ScoreFilter(date_from="2025-12-29", date_to="2026-01-11", tz="Asia/Kolkata"),
]


@pytest.fixture
async def sqlite_session(sqlite_url: str) -> AsyncIterator[AsyncSession]:
    """A session on the migrated SQLite file, rolled back after the test like `session`."""
    engine = create_engine(sqlite_url)
    async with rolled_back_session(engine) as s:
        yield s
    await engine.dispose()


async def _everything(session: AsyncSession) -> dict[str, Any]:
    """Every figure the API reports, for several filters, with database ids masked."""
    out: dict[str, Any] = {}
    for i, filt in enumerate(FILTERS):
        out[f"{i}:summary"] = (await service.summary(session, filt, hourly_cost=42.5)).model_dump()
        out[f"{i}:factors"] = (await service.factors(session, filt)).model_dump()
        for by in Dimension:
            rows = await service.breakdown(session, filt, by=by, hourly_cost=1.0)
            masked = [("<connector>" if by == Dimension.connector else k, f) for k, f in rows]
            out[f"{i}:by:{by}"] = [(k, f.model_dump()) for k, f in masked]
        for interval in Interval:
            page, _ = await service.trend_page(
                session, filt, interval=interval, hourly_cost=1.0, cursor=None, limit=500
            )
            out[f"{i}:trend:{interval}"] = [(p, f.model_dump()) for p, f in page]
        groups = await insights.groups(
            session, filt, sla_min=0.7, happiness_max=30, min_responses=3, privacy=Privacy()
        )
        out[f"{i}:melons"] = [g.model_dump() for g in groups]
        tickets, _ = await insights.tickets(session, filt, cursor=None, limit=50)
        out[f"{i}:melon_tickets"] = [(t.number, t.score, t.scale, t.answered_at) for t in tickets]
        rows = [rec async for batch in exports.records(session, filt) for rec in batch]
        ids = ("response_id", "ticket_id", "connector_id")
        out[f"{i}:export"] = [{k: v for k, v in r.items() if k not in ids} for r in rows]
    return out


async def test_postgresql_and_sqlite_agree(session: AsyncSession, sqlite_session: AsyncSession):
    assert session.get_bind().dialect.name == "postgresql"
    assert sqlite_session.get_bind().dialect.name == "sqlite"
    await seed(session, CASES)
    await seed(sqlite_session, CASES)
    on_pg = await _everything(session)
    on_sqlite = await _everything(sqlite_session)
    assert on_pg.keys() == on_sqlite.keys()
    for key in on_pg:
        assert on_pg[key] == on_sqlite[key], key
    # The comparison is not vacuous: the data set reaches every kind of figure.
    assert on_pg["0:summary"]["responses"] == len([c for c in CASES if c.score is not None]) - 1
    assert on_pg["1:trend:week"][0][0].isoformat() == "2026-01-05"
    assert on_pg["0:melons"] and on_pg["0:melon_tickets"] and on_pg["0:export"]
    assert sql._SQLITE_BOUNDS == {}  # a trend keeps its bounds only while it runs
