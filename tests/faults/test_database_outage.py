"""A PostgreSQL restart and a 5-second stop in the middle of a burst of distinct webhook
deliveries, against a real server process and a throwaway cluster from local binaries.

Nothing acknowledged may be lost, every failure must be a 503 problem with Retry-After (never a
500, never a dropped connection), the server must recover by itself, and once the sender has
retried its failures each delivery is exactly one ticket and one feedback request."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.connectors.signatures import standard_webhooks_signature
from tests.conftest import IN_CI, migrate
from tests.support import postgres
from tests.support.server_process import ServerProcess, admin_key

pytestmark = pytest.mark.postgres

SECRET = "fault-suite-webhook-secret"
CONCURRENCY = 12
MIN_DELIVERIES = 300  # the burst goes on until the outage is over and at least this many
ACKS_PER_PHASE = 40  # acknowledged deliveries before each fault, and after it to show recovery
PHASE_BUDGET_SECONDS = 30.0
RETRY_BUDGET_SECONDS = 60.0
PAUSE_AFTER_FAILURE_SECONDS = 0.2  # a sender backs off a little before its next delivery


@pytest.fixture
def cluster():
    try:
        cluster = postgres.start_cluster()
    except (RuntimeError, OSError, KeyError) as exc:
        if IN_CI:
            pytest.fail(f"the fault suite needs local PostgreSQL binaries: {exc}")
        pytest.skip(f"the fault suite needs local PostgreSQL binaries: {exc}")
    yield cluster
    cluster.destroy()


@functools.cache
def delivery(i: int) -> tuple[dict[str, str], bytes]:
    """Delivery i: a distinct resolved ticket, signed as a Standard Webhooks sender signs it;
    a retry sends the very same bytes and headers."""
    body = json.dumps(
        {
            "type": "ticket.resolved",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {
                "id": f"T-{i}",
                "number": f"HD-{i}",
                "title": f"Burst ticket {i}",
                "requester": {"id": f"u-{i}", "email": f"user{i}@example.com"},
                "resolved_at": datetime.now(UTC).isoformat(),
                "sla_met": True,
            },
        }
    ).encode()
    msg_id, stamp = f"msg-{i}", int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(SECRET, msg_id, stamp, body),
    }, body


@dataclass
class Burst:
    acked: set[int] = field(default_factory=set)
    failed: dict[int, httpx.Response] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # transport errors: no answer at all
    malformed: list[str] = field(default_factory=list)  # failures without problem/Retry-After
    statuses: Counter[int] = field(default_factory=Counter)
    readyz_while_stopped: list[int] = field(default_factory=list)
    sent: int = 0
    done: bool = False


async def send(client: httpx.AsyncClient, i: int, burst: Burst) -> httpx.Response | None:
    headers, body = delivery(i)
    try:
        response = await client.post("/webhooks/burst", content=body, headers=headers)
    except httpx.TransportError as exc:
        burst.dropped.append(f"delivery {i}: {type(exc).__name__}: {exc}")
        return None
    burst.statuses[response.status_code] += 1
    if response.status_code >= 300 and not (
        response.headers.get("content-type") == "application/problem+json"
        and int(response.headers.get("retry-after", "0")) > 0
        and response.headers.get("x-request-id")
    ):
        burst.malformed.append(f"delivery {i}: {response.status_code} {dict(response.headers)}")
    return response


async def sender(client: httpx.AsyncClient, burst: Burst) -> None:
    while not (burst.done and burst.sent >= MIN_DELIVERIES):
        i = burst.sent
        burst.sent += 1
        response = await send(client, i, burst)
        if response is not None and 200 <= response.status_code < 300:
            burst.acked.add(i)
            burst.failed.pop(i, None)
        else:
            if response is not None:
                burst.failed[i] = response
            await asyncio.sleep(PAUSE_AFTER_FAILURE_SECONDS)


async def until_acked(burst: Burst, count: int) -> None:
    """Wait for `count` more acknowledgements: before a fault, and to show recovery after."""
    target = len(burst.acked) + count
    deadline = time.monotonic() + PHASE_BUDGET_SECONDS
    while len(burst.acked) < target:
        assert time.monotonic() < deadline, f"no recovery: {burst.statuses}"
        await asyncio.sleep(0.05)


async def faults(cluster: postgres.Cluster, client: httpx.AsyncClient, burst: Burst) -> None:
    await until_acked(burst, ACKS_PER_PHASE)
    await asyncio.to_thread(cluster.restart, "fast")
    await until_acked(burst, ACKS_PER_PHASE)
    await asyncio.to_thread(cluster.stop, "fast")
    stopped_until = time.monotonic() + 5
    while time.monotonic() < stopped_until:
        burst.readyz_while_stopped.append((await client.get("/readyz")).status_code)
        await asyncio.sleep(0.5)
    await asyncio.to_thread(cluster.start)
    await until_acked(burst, ACKS_PER_PHASE)
    burst.done = True


async def run_burst(cluster: postgres.Cluster, base_url: str) -> Burst:
    burst = Burst()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with (
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client,
        httpx.AsyncClient(base_url=base_url, timeout=10) as probe,
    ):
        await asyncio.gather(
            faults(cluster, probe, burst), *(sender(client, burst) for _ in range(CONCURRENCY))
        )
    return burst


async def retry_failures(base_url: str, burst: Burst) -> None:
    """The sender's retries, as an ITSM makes them: each failure again until acknowledged."""
    deadline = time.monotonic() + RETRY_BUDGET_SECONDS
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while burst.failed:
            assert time.monotonic() < deadline, f"{len(burst.failed)} still failing"
            for i in list(burst.failed):
                response = await send(client, i, burst)
                if response is not None and 200 <= response.status_code < 300:
                    burst.acked.add(i)
                    del burst.failed[i]
            if burst.failed:
                await asyncio.sleep(0.5)


async def stored(database_url: str) -> dict[str, list]:
    conn = await asyncpg.connect(postgres._dsn(database_url))
    try:
        return {
            "tickets": [r[0] for r in await conn.fetch("SELECT external_id FROM tickets")],
            "requests": [
                r[0]
                for r in await conn.fetch(
                    "SELECT t.external_id FROM feedback_requests r JOIN tickets t"
                    " ON t.id = r.ticket_id"
                )
            ],
            "events": [r[0] for r in await conn.fetch("SELECT delivery_id FROM inbound_events")],
        }
    finally:
        await conn.close()


def test_restart_and_stop_mid_burst_lose_nothing_and_answer_503(
    cluster: postgres.Cluster, tmp_path: Path
) -> None:
    server = postgres.Server(cluster.url, "fault suite cluster")
    url = postgres.create_database(server)
    migrate(url)
    key = admin_key(url)
    with ServerProcess(url, tmp_path / "server.log") as xpulse:
        created = httpx.post(
            f"{xpulse.base_url}/api/v1/connectors",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "name": "burst",
                "kind": "generic",
                "base_url": "https://helpdesk.example.com",
                "webhook_secret": SECRET,
            },
        )
        assert created.status_code == 201, created.text

        burst = postgres.run_blocking(lambda: asyncio.run(run_burst(cluster, xpulse.base_url)))

        assert burst.dropped == [], burst.dropped[:5]
        assert set(burst.statuses) <= {202, 503}, (burst.statuses, xpulse.log())
        assert burst.statuses[503] > 0, "the outage was not seen: the test proves nothing"
        assert burst.malformed == [], burst.malformed[:5]
        assert 503 in burst.readyz_while_stopped
        before_retries = postgres.run_blocking(lambda: asyncio.run(stored(url)))
        missing = {f"T-{i}" for i in burst.acked} - set(before_retries["tickets"])
        assert missing == set(), f"acknowledged but not stored: {sorted(missing)[:10]}"

        postgres.run_blocking(lambda: asyncio.run(retry_failures(xpulse.base_url, burst)))
        assert httpx.get(f"{xpulse.base_url}/readyz").status_code == 200
        assert xpulse.alive(), "the server recovered by restarting"

    after = postgres.run_blocking(lambda: asyncio.run(stored(url)))
    expected = {f"T-{i}" for i in range(burst.sent)}
    assert burst.acked == set(range(burst.sent))
    for table in ("tickets", "requests"):
        counts = Counter(after[table])
        assert set(counts) == expected, table
        assert set(counts.values()) == {1}, f"{table} doubled: {counts.most_common(3)}"
    assert sorted(after["events"]) == sorted(f"msg-{i}" for i in range(burst.sent))
    print(f"\n{burst.sent} deliveries; answers during the burst and retries: {burst.statuses}")


async def _terminate_backends(database_url: str) -> int:
    """Kill every server connection to the database but this one: the pool's connections die
    while they sit idle, as after a failover or an idle timeout on a proxy."""
    conn = await asyncpg.connect(postgres._dsn(database_url))
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()


def test_pooled_connections_killed_between_requests_cost_no_500(
    cluster: postgres.Cluster, tmp_path: Path
) -> None:
    """Whether or not the pool pings before use, a dead pooled connection is at worst a 503
    with Retry-After, and the next requests on the same connection are served from new ones."""
    server = postgres.Server(cluster.url, "fault suite cluster")
    url = postgres.create_database(server)
    migrate(url)
    key = admin_key(url)
    with ServerProcess(url, tmp_path / "server.log") as xpulse:
        auth = {"Authorization": f"Bearer {key}"}
        statuses: list[int] = []
        with httpx.Client(base_url=xpulse.base_url, headers=auth, timeout=30) as client:
            for _ in range(5):  # fill the pool
                assert client.get("/api/v1/jobs").status_code == 200
            killed = postgres.run_blocking(lambda: asyncio.run(_terminate_backends(url)))
            assert killed > 0
            for _ in range(20):
                response = client.get("/api/v1/jobs")
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert int(response.headers["retry-after"]) > 0
        assert set(statuses) <= {200, 503}, (statuses, xpulse.log())
        assert statuses[-10:] == [200] * 10
        assert xpulse.alive()
