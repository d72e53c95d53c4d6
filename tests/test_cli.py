"""The `xpulse` command as an operator runs it: migrate, then a key that works over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import ApiKey
from app.db import Base, make_sessionmaker


def xpulse(
    *args: str, database_url: str | None, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XPULSE_DATABASE_URL"}
    if database_url is not None:
        env["XPULSE_DATABASE_URL"] = database_url
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert not check or result.returncode == 0, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's answer to a usual mistake: exit 1, one `error:` line, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "╭" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


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


def test_a_command_outside_the_project_folder_says_where_the_database_is(tmp_path: Path) -> None:
    """The default embedded database is ./var/xpulse.db: from another folder there is none,
    and the CLI says so instead of creating an empty one or printing a traceback."""
    line = one_line_error(xpulse("api-key", "create", database_url=None, cwd=tmp_path, check=False))
    assert str(tmp_path / "var" / "xpulse.db") in line
    assert "make run" in line and "XPULSE_DATABASE_URL" in line
    assert not (tmp_path / "var").exists()


def test_an_unmigrated_database_says_run_migrate(tmp_path: Path, blank_pg_url: str) -> None:
    db = tmp_path / "var" / "xpulse.db"
    db.parent.mkdir()
    db.touch()
    sqlite_url = f"sqlite+aiosqlite:///{db}"
    for url in (sqlite_url, blank_pg_url):
        line = one_line_error(xpulse("api-key", "list", database_url=url, check=False))
        assert "not migrated" in line and "xpulse migrate" in line


def test_an_unreachable_database_names_it_without_the_password() -> None:
    url = "postgresql+asyncpg://xpulse:s3cret@127.0.0.1:9/xpulse"  # port 9: nothing listens
    for args in (("api-key", "list"), ("connector", "list"), ("migrate",)):
        line = one_line_error(xpulse(*args, database_url=url, check=False))
        assert "cannot reach the database" in line and "127.0.0.1:9" in line
        assert "s3cret" not in line


async def test_api_key_revoke_by_prefix_stops_the_key(
    pg_url: str, committed: AsyncEngine, client: httpx.AsyncClient
) -> None:
    key = xpulse("api-key", "create", database_url=pg_url).stdout.strip()
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/scores", headers=auth)).status_code == 200
    prefix = key.rsplit("_", 1)[0]
    assert "revoked" in xpulse("api-key", "revoke", prefix, database_url=pg_url).stdout
    assert (await client.get("/api/v1/scores", headers=auth)).status_code == 401
    listed = xpulse("api-key", "list", database_url=pg_url).stdout
    assert "\trevoked\t" in listed
    line = one_line_error(
        xpulse("api-key", "revoke", "xp_nosuchkey", database_url=pg_url, check=False)
    )
    assert "no API key" in line


async def test_connector_list_and_check(
    pg_url: str, committed: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import secrets_box
    from app.config import Settings
    from tests.connectors.conftest import make_connector

    # The CLI reads connector secrets with the keys of its own settings: write them with those.
    monkeypatch.setattr(secrets_box, "_box", secrets_box.SecretBox.from_settings(Settings()))

    async with make_sessionmaker(committed)() as s:
        await make_connector(s, kind="generic", name="helpdesk")
        await s.commit()
    listed = xpulse("connector", "list", database_url=pg_url).stdout
    assert listed.startswith("helpdesk\tgeneric\temail\tenabled\t")
    # A generic connector has nothing to ask its ITSM: the check passes with no lines.
    assert xpulse("connector", "check", "helpdesk", database_url=pg_url).returncode == 0
    line = one_line_error(xpulse("connector", "check", "nope", database_url=pg_url, check=False))
    assert "no connector named 'nope'" in line


def test_help_texts_match_the_defaults() -> None:
    out = xpulse("api-key", "create", "--help", database_url=None).stdout
    assert "read (the default)" in out
    assert "read keys by default" in xpulse("api-key", "--help", database_url=None).stdout
    for command in ("revoke", "list", "create"):
        assert command in xpulse("api-key", "--help", database_url=None).stdout
    assert "check" in xpulse("connector", "--help", database_url=None).stdout


def test_serve_trusts_forwarded_headers_only_from_the_configured_proxies(monkeypatch) -> None:
    """`xpulse serve` hands XPULSE_FORWARDED_ALLOW_IPS to uvicorn's proxy-header handling."""
    import uvicorn
    from typer.testing import CliRunner

    from app.cli import cli
    from app.config import get_settings

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("XPULSE_FORWARDED_ALLOW_IPS", "10.0.0.0/8,192.168.1.7")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--port", "9"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is True
    assert seen["forwarded_allow_ips"] == "10.0.0.0/8,192.168.1.7"


def test_serve_keeps_idle_connections_open_for_the_configured_time(tmp_path: Path) -> None:
    """A load balancer reuses an idle connection until its own idle timeout: `xpulse serve` must
    not close it sooner (uvicorn's 5 s default made such a balancer answer 502 now and then),
    and does close it once XPULSE_KEEP_ALIVE_SECONDS have passed."""
    import http.client
    import socket
    import time

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    xpulse("migrate", database_url=database_url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPULSE_")}
    env |= {"XPULSE_DATABASE_URL": database_url, "XPULSE_KEEP_ALIVE_SECONDS": "6"}
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn.connect()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
        first = conn.sock
        for _ in range(2):  # the second request comes after longer than uvicorn's default
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b'{"status":"ok"}'
            assert conn.sock is first  # the same connection, not a new one
            idle = time.monotonic()
            time.sleep(5.5)
        # Past the setting, the server closes the connection: a read sees its end.
        assert first.recv(1) == b""
        assert time.monotonic() - idle < 6 + 5
    finally:
        conn.close()
        server.terminate()
        server.wait(timeout=20)
