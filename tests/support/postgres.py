"""Find a PostgreSQL for the tests: TEST_DATABASE_URL, else 127.0.0.1:5432, else a throwaway
cluster from local PostgreSQL binaries. Each test run gets its own throwaway database."""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


def run_blocking(func, *args):
    """Run `func(*args)` to completion even when called from inside a running event loop (a
    session fixture first requested by an async fixture): asyncio.run needs a loop-free thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func(*args)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(func, *args).result()


def _run(coro_factory, *args):
    return run_blocking(lambda: asyncio.run(coro_factory(*args)))


@dataclass
class Server:
    admin_url: str  # a SQLAlchemy URL to a maintenance database on the server
    how: str
    cleanup: list = field(default_factory=list)


async def _can_connect(url: str) -> bool:
    try:
        conn = await asyncpg.connect(_dsn(url), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_binaries() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if shutil.which("initdb"):
        candidates.insert(0, str(Path(shutil.which("initdb")).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


class Cluster:
    """A throwaway PostgreSQL cluster from local binaries, which a test may stop, start and
    restart (the fault suite does, mid-burst). `url` is its maintenance database."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.datadir = Path(tempfile.mkdtemp(prefix="xpulse-pg-"))
        self.port = _free_port()
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user if any
            shutil.chown(self.datadir, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            env=dict(os.environ),
        )

    def _ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", *args, action)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("start", "-l", str(self.datadir / "log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """fast: roll back open transactions and disconnect; immediate: as if it crashed."""
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode, "-l", str(self.datadir / "log"))

    def destroy(self) -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        stop = [*self.run_as, pg_ctl, "-D", str(self.datadir), "-m", "immediate", "stop"]
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_cluster(bindir: Path | None = None) -> Cluster:
    """A started throwaway cluster; raises RuntimeError when there are no local binaries."""
    bindir = bindir or _local_binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) found")
    cluster = Cluster(bindir)
    try:
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


def _start_cluster(bindir: Path) -> Server:
    cluster = start_cluster(bindir)
    return Server(cluster.url, f"throwaway cluster from {bindir}", [cluster.destroy])


def find_server() -> tuple[Server | None, str]:
    """A server and how it was found, or None and every reason none was."""
    reasons = []
    if url := os.environ.get("TEST_DATABASE_URL"):
        if _run(_can_connect, url):
            return Server(url, "TEST_DATABASE_URL"), ""
        reasons.append(f"TEST_DATABASE_URL={make_url(url)!r} does not answer")
    for user in ("postgres", os.environ.get("USER") or "root"):
        url = f"postgresql+asyncpg://{user}@127.0.0.1:5432/postgres"
        if _run(_can_connect, url):
            return Server(url, "server on 127.0.0.1:5432"), ""
    reasons.append("nothing answers on 127.0.0.1:5432")
    bindir = _local_binaries()
    if bindir is None:
        reasons.append("no PostgreSQL binaries (initdb, pg_ctl) found")
    else:
        try:
            return _start_cluster(bindir), ""
        except (subprocess.CalledProcessError, OSError, KeyError) as exc:
            reasons.append(f"could not start a cluster from {bindir}: {exc}")
    return None, "; ".join(reasons)


def create_database(server: Server) -> str:
    """A new empty database on `server`; its URL. Dropped by `drop_database`."""
    name = f"xpulse_test_{uuid.uuid4().hex[:10]}"

    async def run() -> None:
        conn = await asyncpg.connect(_dsn(server.admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run(run)
    return make_url(server.admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server: Server, url: str) -> None:
    name = make_url(url).database

    async def run() -> None:
        conn = await asyncpg.connect(_dsn(server.admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(run)
