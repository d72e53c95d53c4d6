"""The job queue's fixtures: committed rows on a migrated PostgreSQL and SQLite database, and
workers with quick settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine, make_sessionmaker
from app.http import make_http_client
from app.jobs.worker import Worker
from tests.conftest import make_settings, truncate_all


@pytest.fixture(params=["postgres", "sqlite"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Committed rows on a migrated database of each kind, emptied before and after."""
    eng = create_engine(db_url)
    await truncate_all(eng)
    yield eng
    await truncate_all(eng)
    await eng.dispose()


def make_worker(engine: AsyncEngine, name: str, **jobs: object) -> Worker:
    settings = make_settings(
        str(engine.url.render_as_string(hide_password=False)),
        jobs={
            "enabled": False,
            "batch_size": 10,
            "lease_seconds": 60,
            "backoff_base_seconds": 1,
            **jobs,
        },
    )
    return Worker(make_sessionmaker(engine), make_http_client(settings), settings, name=name)
