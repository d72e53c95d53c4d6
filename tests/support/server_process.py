"""A real XPulse server in its own process (uvicorn, as `xpulse serve` runs it) on a loopback
port, against a given database; and an admin key for it. Used by the fault suite and the
Schemathesis run, which must not share a process or an event loop with what they test."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.db import create_engine, make_sessionmaker
from tests.support.postgres import run_blocking

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_key(database_url: str) -> str:
    """A new admin API key in that database (plain text)."""

    async def create() -> str:
        engine = create_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                _, plain = await auth_service.create_key(
                    session, name="test-admin", scope=Scope.admin, now=utcnow()
                )
                await session.commit()
        finally:
            await engine.dispose()
        return plain

    return run_blocking(lambda: asyncio.run(create()))


class ServerProcess:
    """`with ServerProcess(url, log_path, **env) as server:` serves at `server.base_url`."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "XPULSE_DATABASE_URL": database_url,
            "XPULSE_SECRET_KEY": "fault-suite-secret-key-0123456789",
            "XPULSE_PUBLIC_URL": self.base_url,
            "XPULSE_JOBS__ENABLED": "false",
            "XPULSE_LOG_LEVEL": "WARNING",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"the server did not start within 60 s: {self.log()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
