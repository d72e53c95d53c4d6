"""Embedded mode (SQLite, one process): the answer pass, follow-ups and their figures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.actions.jobs import evaluate
from app.actions.models import AlertRule, Followup
from app.clock import utcnow
from app.db import create_engine, make_sessionmaker
from app.scoring import followups as followup_figures
from app.scoring.schemas import ScoreFilter
from tests.conftest import make_settings, truncate_all
from tests.scoring.builders import Case, add_case, make_connector


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await truncate_all(engine)
    yield engine
    await truncate_all(engine)
    await engine.dispose()


async def test_the_answer_pass_opens_followups_on_sqlite(
    sqlite_engine: AsyncEngine, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url, actions={"settle_seconds": 0})
    sm = make_sessionmaker(sqlite_engine)
    resolved = utcnow().strftime("%Y-%m-%dT%H:%M:%S")
    async with sm() as session:
        session.add(
            AlertRule(name="unhappy", condition="unhappy", actions={"email": ["a@example.com"]})
        )
        connector = await make_connector(session)
        for n, score in enumerate([1, 9, 4]):
            await add_case(session, connector, Case(resolved, group="Desk", score=score), n)
        await session.commit()
    assert await evaluate(sm, settings) == 3
    assert await evaluate(sm, settings) == 0  # past the watermark
    async with sm() as session:
        found = (await session.scalars(select(Followup))).all()
        assert len(found) == 2 and {f.status for f in found} == {"open"}
        found[0].status, found[0].closed_at = "closed", found[0].opened_at
        await session.commit()
        figures = await followup_figures.figures(session, ScoreFilter())
    assert (figures.opened, figures.closed, figures.rate) == (2, 1, 0.5)
    assert figures.median_hours_to_close == 0.0
