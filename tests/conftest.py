"""The root fixtures own the database: a migrated throwaway PostgreSQL (and SQLite) per run,
a rolled-back transaction per test, an app wired to it, and a live server for browser tests."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.config import Settings
from app.db import Base, create_engine, get_session, make_sessionmaker
from app.http import make_http_client
from app.main import create_app
from app.migrate import alembic_config
from tests.support import postgres

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
OUTPUT = REPO / "test-output"


def shared_fixture(*parts: str) -> Path:
    """A file under ../shared/fixtures, read in place; skips (never under CI) when absent."""
    path = SHARED.joinpath("fixtures", *parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing: CI runs with ../shared beside the clone")
        pytest.skip(f"{path} is absent (../shared is not beside this checkout)")
    return path


def output_dir(request: pytest.FixtureRequest) -> Path:
    """A folder under test-output/ for this test's artefacts (screenshots)."""
    path = OUTPUT / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def migrate(url: str) -> None:
    postgres.run_blocking(command.upgrade, alembic_config(url), "head")


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "secret_key": "test-secret-key-0123456789",
        "public_url": "http://testserver",
        "log_json": False,
        "jobs": {"enabled": False, "backoff_base_seconds": 1, "backoff_max_seconds": 5},
        # No SMTP server named: mails go to the development outbox, kept out of the work tree.
        "smtp": {"outbox_dir": str(Path(tempfile.gettempdir()) / "xpulse-test-outbox")},
    }
    return Settings(**{**values, **overrides})


# --- databases --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.Server]:
    server, why = postgres.find_server()
    if server is None:
        message = f"PostgreSQL tests need a server: {why}"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing PostgreSQL is a failure)")
        print(f"\n*** SKIPPING POSTGRESQL TESTS: {why} ***\n")
        pytest.skip(message)
    yield server
    for stop in server.cleanup:
        stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: postgres.Server) -> Iterator[str]:
    """A migrated throwaway PostgreSQL database shared by the run."""
    url = postgres.create_database(pg_server)
    migrate(url)
    yield url
    postgres.drop_database(pg_server, url)


@pytest.fixture
def blank_pg_url(pg_server: postgres.Server) -> Iterator[str]:
    """An empty throwaway database (no schema), dropped after the test."""
    url = postgres.create_database(pg_server)
    yield url
    postgres.drop_database(pg_server, url)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'xpulse.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    yield engine
    await engine.dispose()


@asynccontextmanager
async def rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back at the end; its commits are savepoints."""
    async with engine.connect() as conn:
        await conn.begin()
        s = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield s
        finally:
            await s.close()
            await conn.rollback()


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


@pytest.fixture
async def session(pg_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """The test's PostgreSQL session, rolled back after the test."""
    async with rolled_back_session(pg_engine) as s:
        yield s


async def truncate_all(engine: AsyncEngine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(table.delete())


@pytest.fixture
async def committed(pg_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """For tests whose work must really commit (concurrency, live servers): truncates after."""
    await truncate_all(pg_engine)
    yield pg_engine
    await truncate_all(pg_engine)


# --- the app ----------------------------------------------------------------------------


@pytest.fixture
def settings(pg_url: str) -> Settings:
    return make_settings(pg_url)


@pytest.fixture
async def app(
    settings: Settings, session: AsyncSession, pg_engine: AsyncEngine
) -> AsyncIterator[FastAPI]:
    """The app with its request sessions joined to the test's rolled-back transaction."""
    application = create_app(settings, start_ticker_=False)
    application.state.engine = pg_engine
    application.state.sessionmaker = make_sessionmaker(pg_engine)
    application.state.http = make_http_client(settings)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        else:
            await session.commit()

    application.dependency_overrides[get_session] = test_session
    yield application
    await application.state.http.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def admin_headers(session: AsyncSession) -> dict[str, str]:
    _, plain = await auth_service.create_key(
        session, name="test-admin", scope=Scope.admin, now=utcnow()
    )
    await session.commit()  # a savepoint: a request that rolls back keeps the key
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
async def read_headers(session: AsyncSession) -> dict[str, str]:
    _, plain = await auth_service.create_key(
        session, name="test-read", scope=Scope.read, now=utcnow()
    )
    await session.commit()  # a savepoint: a request that rolls back keeps the key
    return {"Authorization": f"Bearer {plain}"}


# --- a real server on loopback ----------------------------------------------------------


class LiveServer:
    """The real app (its own engine, sessions and commits) served by uvicorn in a thread."""

    def __init__(self, build: Callable[[str], FastAPI], **uvicorn_options: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app = build(self.url)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", **uvicorn_options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server_factory(committed: AsyncEngine, pg_url: str) -> Iterator:
    """Start the real app on a loopback port: `with live_server_factory(**settings) as srv`."""

    def make(**overrides: object) -> LiveServer:
        def build(url: str) -> FastAPI:
            settings = make_settings(pg_url, **{"public_url": url, **overrides})
            return create_app(settings, start_ticker_=False)

        return LiveServer(build)

    yield make
