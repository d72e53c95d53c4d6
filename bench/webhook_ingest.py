"""Webhook ingest throughput: XPulse's POST /webhooks/{name} against a one-INSERT baseline.

    .venv/bin/python -m bench.webhook_ingest [--seconds 10] [--concurrency 32]

Loopback only, PostgreSQL only. Creates a throwaway database on the server named by
XPULSE_BENCH_ADMIN_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), migrates
it, then serves both apps with uvicorn (one process each, access log off) and drives each with
`--concurrency` keep-alive connections for `--seconds`, split into rounds that alternate
between the two apps, each after a short warm-up. Every XPulse request is a new resolved
ServiceNow incident (new ticket, inbox row, feedback request and e-mail job).
Prints requests/s and p99 for both and the ratio (target: XPulse >= 50% of the baseline).
The run is bounded: each phase stops at its deadline, and the whole run at --budget seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.connectors.options import ConnectorOptions
from bench.common import (
    Series,
    create_database,
    drop_database,
    dsn,
    migrate,
    pooled_client,
    server,
    throwaway_name,
    wait_ready,
)
from bench.webhook_baseline import metadata as baseline_metadata

SECRET = "bench-webhook-secret-0123456789"
CONNECTOR = "sn-bench"
TARGET_RATIO = 0.5


@dataclass
class Result(Series):
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.n / self.seconds if self.seconds else 0.0


async def prepare(url: str) -> None:
    """The baseline's table and one ServiceNow connector (raw SQL: the bench owns no models)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(baseline_metadata.create_all)
    await engine.dispose()
    conn = await asyncpg.connect(dsn(url))
    try:
        now = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO connectors (id, name, kind, base_url, enabled, webhook_secret, auth,"
            " channel, options, created_at, updated_at)"
            " VALUES ($1, $2, 'servicenow', 'https://bench.service-now.com', true, $3,"
            " '{}'::jsonb, 'email', $4::jsonb, $5, $5)",
            uuid.uuid4(),
            CONNECTOR,
            SECRET,
            ConnectorOptions(poll=False).model_dump_json(),
            now,
        )
    finally:
        await conn.close()


def incident(n: int) -> bytes:
    """A new resolved incident, as the business rule of docs/servicenow.md posts it."""
    return json.dumps(
        {
            "sys_id": uuid.uuid4().hex,
            "number": f"INC{n:07d}",
            "sys_class_name": "incident",
            "short_description": "Bench incident",
            "state": "6",
            "caller_id": {"value": uuid.uuid4().hex},
            "caller_id.email": f"user{n}@example.com",
            "assignment_group": {"value": "287ebd7da9fe198100f92cc8d1d2154e"},
            "priority": "3",
            "opened_at": "2026-11-20 08:15:00",
            "resolved_at": "2026-11-21 16:02:33",
            "sys_updated_on": "2026-11-21 16:02:34",
        }
    ).encode()


async def load(
    name: str,
    base: str,
    path: str,
    make_body: Callable[[int], bytes],
    headers: dict[str, str],
    *,
    concurrency: int,
    warmup: float,
    seconds: float,
) -> Result:
    """`concurrency` workers POST back to back: unrecorded for `warmup`, then for `seconds`."""
    counter = itertools.count()
    result = Result(name)
    async with pooled_client(base, concurrency) as client:

        async def worker(until: float, record: bool) -> None:
            while time.monotonic() < until:
                body = make_body(next(counter))
                started = time.perf_counter()
                try:
                    response = await client.post(path, content=body, headers=headers)
                    ok = response.status_code == 202
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                if record:
                    if ok:
                        result.latencies_ms.append(elapsed)
                    else:
                        result.errors += 1

        warm_until = time.monotonic() + warmup
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
        result.seconds = time.monotonic() - started
    return result


async def measure(args: argparse.Namespace, url: str) -> list[Result]:
    """Both servers up at once (an idle one costs nothing); their loads alternate in rounds so
    drift in the machine's other load hits both alike."""
    apps = [
        (
            "baseline (1 INSERT)",
            "bench.webhook_baseline:app_factory",
            "/ingest",
            {"content-type": "application/json"},
        ),
        (
            "XPulse webhook",
            "app.main:app_factory",
            f"/webhooks/{CONNECTOR}",
            {"content-type": "application/json", "authorization": f"Bearer {SECRET}"},
        ),
    ]
    env = {"BENCH_DATABASE_URL": url, "XPULSE_PUBLIC_URL": "http://127.0.0.1:8000"}
    totals = [Result(name) for name, *_ in apps]
    with ExitStack() as servers:
        bases = [servers.enter_context(server(module, url, env=env)) for _, module, *_ in apps]
        for base in bases:
            await wait_ready(base, time.monotonic() + 30)
        for _ in range(args.rounds):
            for total, (name, _, path, headers), base in zip(totals, apps, bases, strict=True):
                part = await load(
                    name,
                    base,
                    path,
                    incident,
                    headers,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    seconds=args.seconds / args.rounds,
                )
                total.errors += part.errors
                total.seconds += part.seconds
                total.latencies_ms += part.latencies_ms
    for result in totals:
        print(
            f"{result.name:<22} {result.rps:8.1f} req/s   p50 {result.pct(50):7.1f} ms   "
            f"p99 {result.pct(99):7.1f} ms   n={result.n} errors={result.errors}",
            flush=True,
        )
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per app")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, each round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per app")
    parser.add_argument("--budget", type=float, default=180.0, help="hard limit, whole run")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("bench: budget exceeded"))
    signal.alarm(int(args.budget))
    url = asyncio.run(create_database(throwaway_name("xpulse_webhook_bench")))
    try:
        migrate(url)
        asyncio.run(prepare(url))
        print(
            f"webhook ingest, {args.concurrency} connections, {args.seconds:.0f} s each, "
            f"PostgreSQL {make_url(url).host}:{make_url(url).port}",
            flush=True,
        )
        baseline, xpulse = asyncio.run(measure(args, url))
        ratio = xpulse.rps / baseline.rps if baseline.rps else 0.0
        verdict = "meets" if ratio >= TARGET_RATIO else "below"
        print(f"ratio XPulse/baseline: {ratio:.0%} ({verdict} the {TARGET_RATIO:.0%} target)")
    finally:
        signal.alarm(0)
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
