from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.tickets.models import Ticket
from tests.conftest import make_settings
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
