"""Two server processes on one database, as replicas behind a load balancer: a connector
changed through one is seen by the other within FRESH_SECONDS (each process holds enabled
connectors in memory that long)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.connectors.service import FRESH_SECONDS
from tests.hotpaths.conftest import incident
from tests.support.server_process import ServerProcess, admin_key

SECRET, NEW_SECRET = "replica-secret-0123456789", "replica-secret-rotated-0123456789"
numbers = itertools.count(100)


def deliver(server: ServerProcess, name: str, secret: str) -> int:
    response = httpx.post(
        f"{server.base_url}/webhooks/{name}",
        content=incident(next(numbers)),
        headers={"authorization": f"Bearer {secret}", "content-type": "application/json"},
        timeout=10,
    )
    return response.status_code


def seconds_until(server: ServerProcess, name: str, secret: str, status: int) -> float:
    """How long until a delivery to `server` answers `status` (fails past twice the bound)."""
    started = time.monotonic()
    while deliver(server, name, secret) != status:
        assert time.monotonic() - started < 2 * FRESH_SECONDS + 5, f"never {status}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.usefixtures("committed")
def test_a_change_through_one_replica_reaches_the_other_within_the_bound(
    pg_url: str, tmp_path: Path, committed: AsyncEngine
) -> None:
    key = admin_key(pg_url)
    with (
        ServerProcess(pg_url, tmp_path / "one.log") as one,
        ServerProcess(pg_url, tmp_path / "two.log") as two,
    ):
        admin = {"authorization": f"Bearer {key}"}
        created = httpx.post(
            f"{one.base_url}/api/v1/connectors",
            json={
                "name": "sn-replicas",
                "kind": "servicenow",
                "base_url": "https://acme.service-now.com",
                "webhook_secret": SECRET,
                "options": {"poll": False},
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        connector = created.json()["id"]
        assert deliver(two, "sn-replicas", SECRET) == 202  # two now holds the connector

        # A new secret: the old one is refused and the new one taken on both, within the bound.
        patched = httpx.patch(
            f"{one.base_url}/api/v1/connectors/{connector}",
            json={"webhook_secret": NEW_SECRET},
            headers=admin,
        )
        assert patched.status_code == 200
        assert deliver(one, "sn-replicas", NEW_SECRET) == 202  # at once where it was changed
        assert seconds_until(two, "sn-replicas", SECRET, 401) <= FRESH_SECONDS + 1
        assert deliver(two, "sn-replicas", NEW_SECRET) == 202

        disabled = httpx.post(
            f"{one.base_url}/api/v1/connectors/{connector}/disable", headers=admin
        )
        assert disabled.status_code == 200
        assert deliver(one, "sn-replicas", NEW_SECRET) == 404
        assert seconds_until(two, "sn-replicas", NEW_SECRET, 404) <= FRESH_SECONDS + 1
        # …and it stays refused (no stale entry comes back).
        assert [deliver(two, "sn-replicas", NEW_SECRET) for _ in range(5)] == [404] * 5
