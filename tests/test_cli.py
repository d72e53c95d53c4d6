"""The `xpulse` command as an operator runs it: migrate, then a key that works over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import ApiKey
from app.db import Base, make_sessionmaker


def xpulse(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XPULSE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )


async def test_api_key_create_prints_a_working_key_stored_only_hashed(
    pg_url: str, committed: AsyncEngine, client: httpx.AsyncClient
) -> None:
    result = xpulse("api-key", "create", "--scope", "admin", "--name", "ops", database_url=pg_url)
    key = result.stdout.strip()
    assert key.startswith("xp_")
    response = await client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200  # an admin-only route
    assert [k["name"] for k in response.json()] == ["ops"]
    secret_part = key.split("_", 2)[2]
    async with make_sessionmaker(committed)() as s:
        assert (await s.scalars(select(ApiKey))).one().name == "ops"
        for table in Base.metadata.sorted_tables:  # every row of every table, as text
            rows = (await s.execute(text(f'SELECT t::text FROM "{table.name}" t'))).scalars()
            assert not any(secret_part in row for row in rows), table.name


def test_migrate_creates_the_embedded_database_and_its_folder(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "var" / "xpulse.db"
    result = xpulse("migrate", database_url=f"sqlite+aiosqlite:///{db}")
    assert db.exists()
    assert "database at head" in result.stdout
