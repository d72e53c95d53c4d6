from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import create_engine
from app.tickets.models import Ticket
from tests.conftest import make_settings, rolled_back_session
from tests.scoring.builders import FIXED, seed

# The hand-computed figures of these tests include groups of one or two responses: they are
# checked with the minimum group size off (k = 0); test_privacy.py checks the hiding itself.
SHOW_EVERY_GROUP = {"min_group_responses": 0}


@pytest.fixture
def settings(pg_url: str) -> Settings:
    return make_settings(pg_url, privacy=SHOW_EVERY_GROUP)


@pytest.fixture
async def fixed(session: AsyncSession) -> list[Ticket]:
    """The fixed data set of builders.FIXED in the test's rolled-back transaction."""
    return await seed(session, FIXED)


@pytest.fixture(params=["postgresql", "sqlite"])
async def any_session(request, session: AsyncSession, sqlite_url: str) -> AsyncIterator:
    """The test's rolled-back session on PostgreSQL, then on the migrated SQLite file."""
    if request.param == "postgresql":
        yield session
        return
    engine = create_engine(sqlite_url)
    async with rolled_back_session(engine) as s:
        yield s
    await engine.dispose()
