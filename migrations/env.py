"""Alembic environment: async engine, URL from settings (or -x url=…), advisory lock on Postgres."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import app.models
from app.config import get_settings
from app.db import create_engine

config = context.config
target_metadata = app.models.Base.metadata
# Any number that is XPulse's own: replicas that migrate together wait for each other.
MIGRATION_LOCK_ID = 0x5850554C5345


def _url() -> str:
    return (
        config.attributes.get("url")
        or context.get_x_argument(True).get("url")
        or (get_settings().database_url)
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,
    )


def _run_sync(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # handed in by a caller that already has one (tests)
        _run_sync(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
