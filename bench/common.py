"""Plumbing the benchmarks share: a throwaway PostgreSQL database, the real app under uvicorn on
a loopback port, a pooled load client and nearest-rank percentiles.

Each benchmark keeps its own load loop and report; only what is literally the same lives here.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
import httpx
from alembic import command
from sqlalchemy.engine import make_url

from app.migrate import alembic_config

ADMIN_URL = os.environ.get(
    "XPULSE_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
HOST = "127.0.0.1"


# --- database -------------------------------------------------------------------------------


def dsn(url: str) -> str:
    """The asyncpg DSN for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def throwaway_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def create_database(name: str, *, admin_url: str = ADMIN_URL, replace: bool = False) -> str:
    """Create database `name` on the admin URL's server (dropping it first if `replace`); its
    SQLAlchemy URL."""
    conn = await asyncpg.connect(dsn(admin_url))
    try:
        if replace:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(url: str, *, admin_url: str = ADMIN_URL) -> None:
    conn = await asyncpg.connect(dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await conn.close()


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


# --- server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(
    factory: str, url: str, port: int, env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """`factory` (module:function) under uvicorn, one process, access log and ticker off.

    Its own process group, so stop() also ends anything it spawned."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={
            **os.environ,
            "XPULSE_DATABASE_URL": url,
            "XPULSE_JOBS__ENABLED": "false",
            "XPULSE_LOG_LEVEL": "WARNING",
            **(env or {}),
        },
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


async def wait_ready(base: str, deadline: float) -> None:
    """Poll /healthz until it answers 200; RuntimeError at `deadline` (time.monotonic())."""
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base} did not start")


# --- load and figures -----------------------------------------------------------------------


def pooled_client(base: str, concurrency: int, **kwargs: object) -> httpx.AsyncClient:
    """A client whose pool keeps one keep-alive connection per concurrent worker."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=30, **kwargs)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class Series:
    """Latencies of the successful calls of one kind, and how many failed."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)
