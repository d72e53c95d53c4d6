"""The two paths that take load, against raw baselines in the same run, driven by wrk.

    .venv/bin/python -m bench.hot_paths                 # the table: ingest, page, answer
    .venv/bin/python -m bench.hot_paths --burst 50000   # distinct deliveries, then a count
    .venv/bin/python -m bench.hot_paths --rss 100000    # clicks, resident memory sampled

Loopback only, PostgreSQL only. A throwaway database on the server named by
XPULSE_BENCH_ADMIN_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) is
migrated; XPulse (app.main) and the baselines (bench/baselines.py: A, one asyncpg INSERT of the
body; C, one asyncpg UPDATE by token) run side by side under uvicorn, one process each.
For each path and connection count, wrk loads XPulse and its baseline in alternating rounds
after a warm-up each; the table gives the median round's req/s and p99, server CPU per request
(utime + stime of the server process ÷ requests) and the ratios. A run with any non-2xx answer,
socket error or timeout is refused (exit 1). Click tokens come from real webhooks (channel
`none` answers with the links).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench import baselines, wrk
from bench.common import (
    create_database,
    drop_database,
    dsn,
    free_port,
    migrate,
    start_server,
    stop,
    throwaway_name,
    wait_ready,
)

SECRET_KEY = "bench-secret-key-0123456789abcdef0123"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
INGEST, CLICKS = "sn-bench", "sn-clicks"
TARGETS = {  # path: (min ratio of req/s, max ratio of p99, max CPU ms per request)
    "ingest": (0.5, 2.0, 1.5),
    "page": (0.5, 2.0, 1.0),
    "answer": (0.5, 2.0, 1.5),
}


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def xpulse_env(port: int) -> dict[str, str]:
    return {
        "XPULSE_SECRET_KEY": SECRET_KEY,
        "XPULSE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # All the load comes from one loopback address and revisits tokens.
        "XPULSE_FEEDBACK__RATE_LIMIT_PER_MINUTE": "1000000000",
        "XPULSE_AUTH__MAX_FAILURES_PER_MINUTE": "1000000000",
    }


async def prepare(url: str) -> None:
    """The baselines' tables and two ServiceNow connectors, created by XPulse's own service."""
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(baselines.SCHEMA)
    finally:
        await conn.close()
    os.environ.update({"XPULSE_DATABASE_URL": url, "XPULSE_SECRET_KEY": SECRET_KEY})
    from app.config import get_settings
    from app.connectors import service
    from app.connectors.schemas import ConnectorCreate
    from app.db import create_engine, make_sessionmaker

    get_settings.cache_clear()
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        for name, channel in ((INGEST, "email"), (CLICKS, "none")):
            data = ConnectorCreate(
                name=name,
                kind="servicenow",
                base_url="https://bench.service-now.com",
                webhook_secret=WEBHOOK_SECRET,
                channel=channel,
                options={"poll": False},
            )
            await service.create_connector(session, data=data, now=datetime.now(UTC))
    await engine.dispose()


async def click_tokens(base: str, url: str, count: int, path: Path) -> None:
    """`count` feedback requests made by real webhooks; their tokens (with a signed page view,
    as the page would post it) to `path`, and the same tokens in baseline C's table."""
    from app.feedback.tokens import view_stamp

    headers = {"authorization": f"Bearer {WEBHOOK_SECRET}", "content-type": "application/json"}
    tokens: list[str] = []
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(n: int) -> None:
            body = json.dumps(
                {
                    "sys_id": f"tok{n}",
                    "number": f"INC9{n:06d}",
                    "sys_class_name": "incident",
                    "state": "6",
                    "caller_id": {"value": f"u{n}"},
                    "caller_id.email": f"p{n}@example.com",
                    "resolved_at": "2026-11-21 16:02:33",
                    "short_description": "Clicks",
                }
            )
            r = await client.post(f"/webhooks/{CLICKS}", content=body, headers=headers)
            if r.status_code != 202:
                raise SystemExit(f"bench: token webhook answered {r.status_code}: {r.text}")
            tokens.append(urlsplit(r.json()["links"]["9"]).path.rsplit("/", 1)[1])

        for start in range(0, count, 200):
            await asyncio.gather(*(one(n) for n in range(start, min(count, start + 200))))
    now_ms = int(time.time() * 1000)
    path.write_text("".join(f"{t}\n" for t in tokens))
    Path(f"{path}.views").write_text(
        "".join(f"{t} {view_stamp(SECRET_KEY, t, now_ms)}\n" for t in tokens)
    )
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.executemany("INSERT INTO bench_c (token) VALUES ($1)", [(t,) for t in tokens])
    finally:
        await conn.close()


def start(name: str, factory: str, url: str, env: dict[str, str], port: int) -> Server:
    process = start_server(factory, url, port, env)
    base = f"http://127.0.0.1:{port}"
    asyncio.run(wait_ready(base, time.monotonic() + 60))
    return Server(name, base, process)


def median_run(runs: list[wrk.Run]) -> dict[str, float]:
    return {
        "rps": statistics.median(r.rps for r in runs),
        "p50": statistics.median(r.p50_ms for r in runs),
        "p99": statistics.median(r.p99_ms for r in runs),
        "cpu": sum(r.cpu_ms for r in runs) / max(1, sum(r.requests for r in runs)),
        "failures": sum(r.failures for r in runs),
    }


def table(args: argparse.Namespace, xpulse: Server, base: Server, tokens: Path) -> bool:
    """Every path at each connection count, XPulse and its baseline in alternating rounds."""
    paths = {
        "ingest": (
            (f"{xpulse.base}/webhooks/{INGEST}", "ingest.lua", [WEBHOOK_SECRET]),
            (f"{base.base}/a", "ingest.lua", [WEBHOOK_SECRET]),
            "A",
        ),
        "page": (
            (xpulse.base, "click_get.lua", [str(tokens), "/f/"]),
            (base.base, "click_get.lua", [str(tokens), "/c/"]),
            "C",
        ),
        "answer": (
            (xpulse.base, "click_post.lua", [f"{tokens}.views", xpulse.base]),
            (base.base, "click_get.lua", [str(tokens), "/c/"]),
            "C",
        ),
    }
    ok = True
    print(
        f"{'path':<8}{'conns':>6} {'XPulse req/s':>13} {'base req/s':>11} {'ratio':>6} "
        f"{'p99 ms':>8} {'base p99':>9} {'p99 ×':>6} {'CPU ms/req':>11} {'base CPU':>9}  verdict",
        flush=True,
    )
    for path, (mine, theirs, base_name) in paths.items():
        for conns in args.connections:
            results: dict[str, list[wrk.Run]] = {"x": [], "b": []}
            for rnd in range(args.rounds + 1):  # round 0 is the warm-up
                for key, (server, (url, script, extra)) in {
                    "x": (xpulse, mine),
                    "b": (base, theirs),
                }.items():
                    run = wrk.run(
                        url,
                        script,
                        extra,
                        pid=server.pid,
                        connections=conns,
                        seconds=args.warmup if rnd == 0 else args.seconds,
                    )
                    if rnd:
                        results[key].append(run)
                    elif run.failures:
                        print(f"warm-up of {path} on {server.name}: {run.failures} failures")
                        ok = False
            x, b = median_run(results["x"]), median_run(results["b"])
            ratio, p99_ratio = x["rps"] / b["rps"], x["p99"] / b["p99"]
            min_ratio, max_p99, max_cpu = TARGETS[path]
            met = ratio >= min_ratio and p99_ratio <= max_p99 and x["cpu"] <= max_cpu
            failures = x["failures"] + b["failures"]
            verdict = (
                f"REFUSED: {failures} failures"
                if failures
                else ("meets" if met else "below target")
            )
            ok = ok and not failures
            print(
                f"{path:<8}{conns:>6} {x['rps']:>13.0f} {b['rps']:>9.0f} {base_name} "
                f"{ratio:>6.2f} {x['p99']:>8.1f} {b['p99']:>9.1f} {p99_ratio:>6.2f} "
                f"{x['cpu']:>11.2f} {b['cpu']:>9.2f}  {verdict}",
                flush=True,
            )
    return ok


async def counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tickets t JOIN connectors c ON c.id = t.connector_id"
            f"        WHERE c.name = '{INGEST}') AS tickets,"
            " (SELECT count(*) FROM feedback_requests r JOIN connectors c"
            f"   ON c.id = r.connector_id WHERE c.name = '{INGEST}') AS requests,"
            " (SELECT count(*) FROM inbound_events e JOIN connectors c"
            f"   ON c.id = e.connector_id WHERE c.name = '{INGEST}') AS inbox_rows,"
            " (SELECT count(*) FROM jobs WHERE name = 'feedback.send_email') AS delivery_jobs"
        )
        return dict(row)
    finally:
        await conn.close()


def burst(args: argparse.Namespace, xpulse: Server, url: str) -> bool:
    """At least `--burst` distinct deliveries at 64 connections, in 10 s runs, then every row
    counted: each delivery is exactly one ticket, request, inbox row and e-mail job. wrk ends a
    run with up to 64 requests in flight, which the server still stores: the rows may exceed
    the acknowledged deliveries by that much per run, never fall short of them."""
    runs: list[wrk.Run] = []
    while sum(r.requests for r in runs) < args.burst:
        runs.append(
            wrk.run(
                f"{xpulse.base}/webhooks/{INGEST}",
                "ingest.lua",
                [WEBHOOK_SECRET],
                pid=xpulse.pid,
                connections=64,
                seconds=10,
            )
        )
    acked = sum(r.requests for r in runs)
    failures = sum(r.failures for r in runs)
    found = asyncio.run(counts(url))
    seconds = sum(r.seconds for r in runs)
    cpu = sum(r.cpu_ms for r in runs) / acked
    print(
        f"burst: {acked} deliveries acknowledged in {seconds:.0f} s ({acked / seconds:.0f}/s), "
        f"{failures} failures, worst p99 {max(r.p99_ms for r in runs):.0f} ms, "
        f"{cpu:.2f} ms CPU each; rows: {found}"
    )
    stored = set(found.values())
    return failures == 0 and len(stored) == 1 and acked <= stored.pop() <= acked + 64 * len(runs)


def rss(args: argparse.Namespace, xpulse: Server, tokens: Path) -> bool:
    """At least `--rss` clicks (page and answer, 5 s each in turn); RSS after each pair."""
    samples: list[tuple[int, float]] = []
    done, failures = 0, 0
    while done < args.rss:
        for script, extra in (
            ("click_get.lua", [str(tokens), "/f/"]),
            ("click_post.lua", [f"{tokens}.views", xpulse.base]),
        ):
            run = wrk.run(xpulse.base, script, extra, pid=xpulse.pid, connections=32, seconds=5)
            done += run.requests
            failures += run.failures
        samples.append((done, wrk.rss_mib(xpulse.pid)))
        print(f"clicks {done:>7}  RSS {samples[-1][1]:6.1f} MiB", flush=True)
    half = [mib for n, mib in samples if n >= done / 2]
    spread = (max(half) - min(half)) / min(half)
    print(f"second half: RSS {min(half):.1f}–{max(half):.1f} MiB ({spread:.1%} spread)")
    return failures == 0 and spread <= 0.10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per measured round")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--tokens", type=int, default=20_000, help="click tokens to make")
    parser.add_argument("--burst", type=int, default=0, help="deliveries (instead of the table)")
    parser.add_argument("--rss", type=int, default=0, help="clicks (instead of the table)")
    args = parser.parse_args()
    wrk.ensure_wrk()
    url = asyncio.run(create_database(throwaway_name("xpulse_hot_paths")))
    servers: list[Server] = []
    try:
        migrate(url)
        asyncio.run(prepare(url))
        port = free_port()
        xpulse = start("XPulse", "app.main:app_factory", url, xpulse_env(port), port)
        servers.append(xpulse)
        tokens = Path(tempfile.mkdtemp(prefix="xpulse-bench-")) / "tokens"
        if args.burst:
            ok = burst(args, xpulse, url)
        else:
            asyncio.run(click_tokens(xpulse.base, url, args.tokens, tokens))
            if args.rss:
                ok = rss(args, xpulse, tokens)
            else:
                env = {"BENCH_DSN": dsn(url)}
                baseline = start("baseline", "bench.baselines:app_factory", url, env, free_port())
                servers.append(baseline)
                ok = table(args, xpulse, baseline, tokens)
    finally:
        for server in servers:
            stop(server.process)
        asyncio.run(drop_database(url))
    if not ok:
        sys.exit("bench: refused (failures) or a target was missed; see above")


if __name__ == "__main__":
    main()
