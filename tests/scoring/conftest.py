from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.tickets.models import Ticket
from tests.scoring.builders import FIXED, seed


@pytest.fixture
async def fixed(session: AsyncSession) -> list[Ticket]:
    """The fixed data set of builders.FIXED in the test's rolled-back transaction."""
    return await seed(session, FIXED)
