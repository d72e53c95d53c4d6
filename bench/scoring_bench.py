"""p50/p99 of every scoring endpoint the dashboard uses, and of the dashboard page, against the
bench.scoring_generate database.

    .venv/bin/python -m bench.scoring_bench [--url URL] [--requests 20] [--users 8]
        [--rounds 2] [--answers 200] [--budget 900]

Starts the real app (uvicorn, one worker) on a loopback port with read and admin keys and three
XLA targets (all, the largest service, the largest group; removed afterwards), then:
1. sequential: each endpoint `--requests` times after a warm-up, with the CPU per call of the
   server process and of PostgreSQL (all its processes: keep the machine otherwise quiet);
   the first line, GET /readyz (one query, no key), is the baseline;
2. concurrent: `--users` dashboard users, each calling every endpoint `--rounds` times in its
   own shuffled order; p50/p99 per endpoint over all users' calls;
3. with `--answers` > 0: step 2 again while bench.scoring_answers posts that many answers a
   second to the click path (POST /f/{token}, as the page's script does) in its own process.
The dashboard page is `GET /dashboard` (a week trend over the default period) signed in with
the read key through POST /dashboard/login. Targets (issue 15, 1M tickets): every endpoint p99
≤ 150 ms sequential, ≤ 300 ms concurrent; the page ≤ 500 ms. The overall budget stops a step
early; each line says how many calls it made.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import delete

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.db import create_engine, make_sessionmaker
from app.feedback.tokens import token_for, token_hash, view_stamp
from bench.common import dsn, free_port, percentile, stop
from bench.hot_paths import SECRET_KEY, start, xpulse_env
from bench.scoring_generate import ADMIN_URL, NAME
from bench.wrk import cpu_seconds, database_cpu_seconds

ENDPOINT_P99 = {"sequential": 150.0, "concurrent": 300.0}
PAGE_P99 = 500.0
PAGE = "dashboard page"
BASELINE = "baseline: GET /readyz"
Endpoint = tuple[str, str, dict[str, str]]
# (path, status) -> count of answers other than 200, reported after each step
ERRORS: collections.Counter[tuple[str, str]] = collections.Counter()


def endpoints(today: datetime, service: str, group: str) -> list[Endpoint]:
    year = (today - timedelta(days=364)).date().isoformat()
    quarter = (today - timedelta(days=89)).date().isoformat()
    end = today.date().isoformat()
    y = {"date_from": year, "date_to": end}
    q = {"date_from": quarter, "date_to": end}
    berlin, kolkata = {"tz": "Europe/Berlin"}, {"tz": "Asia/Kolkata"}
    scores, trend = "/api/v1/scores", "/api/v1/scores/trend"
    dims = ("service", "assignment_group", "agent", "category", "priority", "channel", "connector")
    return [
        (BASELINE, "/readyz", {}),
        ("summary, 1 year", scores, y),
        ("summary, 90 days", scores, q),
        ("summary, 1 year, Berlin", scores, {**y, **berlin}),
        ("summary, 1 year, one service", scores, {**y, "service": service}),
        (
            "summary, 1 year, group + priority",
            scores,
            {**y, "assignment_group": group, "priority": "3"},
        ),
        (
            "summary, 1 year, group + priority + channel",
            scores,
            {**y, "assignment_group": group, "priority": "3", "channel": "email"},
        ),
        *(
            (f"breakdown by {by}, 1 year", "/api/v1/scores/breakdown", {**y, "by": by})
            for by in dims
        ),
        (
            "breakdown by agent, 1 year, one group",
            "/api/v1/scores/breakdown",
            {**y, "by": "agent", "assignment_group": group},
        ),
        ("trend daily, 90 days", trend, {**q, "interval": "day"}),
        ("trend daily, 90 days, Berlin", trend, {**q, "interval": "day", **berlin}),
        ("trend daily, 90 days, Kolkata", trend, {**q, "interval": "day", **kolkata}),
        ("trend weekly, 1 year", trend, {**y, "interval": "week"}),
        ("trend weekly, 1 year, Berlin", trend, {**y, "interval": "week", **berlin}),
        ("trend monthly, 1 year", trend, {**y, "interval": "month"}),
        ("trend monthly, 1 year, Berlin", trend, {**y, "interval": "month", **berlin}),
        ("factors, 1 year", "/api/v1/factors", y),
        ("watermelon, 1 year", "/api/v1/insights/watermelon", y),
        ("XLA status (3 targets)", "/api/v1/xlas", {}),
        (PAGE, "/dashboard", {}),
    ]


# --- setup and teardown ---------------------------------------------------------------------


async def make_keys(url: str) -> dict[str, tuple[str, str]]:
    """{scope: (key id, plain key)} for a read and an admin key."""
    engine = create_engine(url)
    keys = {}
    async with make_sessionmaker(engine)() as session:
        for scope in (Scope.read, Scope.admin):
            key, plain = await auth_service.create_key(
                session, name=f"scoring-bench-{scope}", scope=scope, now=datetime.now(UTC)
            )
            keys[scope.value] = (str(key.id), plain)
        await session.commit()
    await engine.dispose()
    return keys


async def drop_keys(url: str, ids: list[str]) -> None:
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        await session.execute(delete(ApiKey).where(ApiKey.id.in_(ids)))
        await session.commit()
    await engine.dispose()


async def largest(url: str) -> tuple[str, str]:
    conn = await asyncpg.connect(dsn(url))
    try:
        top = "SELECT {c} FROM ticket_scores GROUP BY {c} ORDER BY count(*) DESC LIMIT 1"
        return (
            await conn.fetchval(top.format(c="service")),
            await conn.fetchval(top.format(c="assignment_group")),
        )
    finally:
        await conn.close()


async def answer_tokens(url: str, path: Path, count: int = 5000) -> int:
    """Give up to `count` open requests a token this server's secret derives (their stored
    hashes are random), and write "token view" lines for bench.scoring_answers. Only the token
    hash changes: no scoring row is touched."""
    conn = await asyncpg.connect(dsn(url))
    try:
        ids = await conn.fetch(
            "SELECT id FROM feedback_requests WHERE status IN ('sent', 'responded') "
            "AND expires_at > now() AND sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT $1",
            count,
        )
        tokens = [(r["id"], token_for(r["id"], SECRET_KEY)) for r in ids]
        await conn.executemany(
            "UPDATE feedback_requests SET token_hash = $2 WHERE id = $1",
            [(i, token_hash(t)) for i, t in tokens],
        )
    finally:
        await conn.close()
    seen_ms = int(time.time() * 1000) - 60_000  # the page was rendered a minute ago
    path.write_text("".join(f"{t} {view_stamp(SECRET_KEY, t, seen_ms)}\n" for _, t in tokens))
    return len(tokens)


async def make_xlas(base: str, admin: str, service: str, group: str) -> list[str]:
    bodies = [
        {"name": "All, monthly", "min_happiness": 60, "max_lost_minutes": 30},
        {
            "name": "Largest service",
            "scope": "service",
            "scope_value": service,
            "period": "week",
            "min_happiness": 50,
            "min_response_rate": 0.25,
        },
        {
            "name": "Largest group",
            "scope": "group",
            "scope_value": group,
            "period": "quarter",
            "min_happiness": 55,
        },
    ]
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        ids = []
        for body in bodies:
            r = await client.post("/api/v1/xlas", json=body)
            r.raise_for_status()
            ids.append(r.json()["id"])
        return ids


async def drop_xlas(base: str, admin: str, ids: list[str]) -> None:
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        for i in ids:
            await client.delete(f"/api/v1/xlas/{i}")


# --- measuring ------------------------------------------------------------------------------


class User:
    """One dashboard user: a bearer key for the API and a signed-in cookie for the page."""

    def __init__(self, base: str, key: str) -> None:
        self.key = key
        self.client = httpx.AsyncClient(base_url=base, timeout=120)

    async def sign_in(self) -> None:
        r = await self.client.post("/dashboard/login", data={"key": self.key})
        if r.status_code != 303:
            raise SystemExit(f"bench: sign-in answered {r.status_code}")

    async def call(self, path: str, params: dict[str, str]) -> float | None:
        """Milliseconds, or None (and the status counted in ERRORS) for any other answer."""
        headers = {} if path == "/dashboard" else {"Authorization": f"Bearer {self.key}"}
        started = time.perf_counter()
        r = await self.client.get(path, params=params, headers=headers)
        took = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or (path == "/dashboard" and 'name="key"' in r.text):
            ERRORS[(path, str(r.status_code))] += 1
            return None
        return took

    async def close(self) -> None:
        await self.client.aclose()


def report(
    mode: str, times: dict[str, list[float]], cpu: dict[str, tuple[float, float]] | None = None
) -> list[tuple[str, int, float, float]]:
    """One line per endpoint: p50 and p99 against its target, and with `cpu` the server's and
    PostgreSQL's CPU milliseconds per call."""
    rows = []
    for name, values in times.items():
        if not values:
            continue
        p50, p99 = percentile(values, 50), percentile(values, 99)
        target = PAGE_P99 if name == PAGE else ENDPOINT_P99.get(mode, ENDPOINT_P99["concurrent"])
        verdict = "" if name == BASELINE else "ok" if p99 <= target else f"over {target:.0f} ms"
        used = ""
        if cpu and name in cpu:
            used = f"  CPU app {cpu[name][0]:6.1f} ms  db {cpu[name][1]:6.1f} ms"
        took = f"p50 {p50:7.0f} ms  p99 {p99:7.0f} ms"
        print(f"  {name:<44} n={len(values):<4} {took}{used}  {verdict}")
        rows.append((name, len(values), p50, p99))
    if ERRORS:
        print(f"  failed calls: {dict(ERRORS)}")
        ERRORS.clear()
    sys.stdout.flush()
    return rows


async def sequential(
    base: str, key: str, eps: list[Endpoint], n: int, deadline: float, pid: int
) -> tuple[dict[str, list[float]], dict[str, tuple[float, float]]]:
    """Latencies per endpoint, and the CPU per call of the server process `pid` and of
    PostgreSQL over the timed calls (nothing else runs: the two cores are quiet)."""
    user = User(base, key)
    await user.sign_in()
    times: dict[str, list[float]] = {name: [] for name, _, _ in eps}
    cpu: dict[str, tuple[float, float]] = {}
    try:
        for name, path, params in eps:
            for _ in range(2):  # warm-up: connection pool, plans, caches
                await user.call(path, params)
            app, db = cpu_seconds(pid), database_cpu_seconds()
            for _ in range(n):
                if time.monotonic() > deadline:
                    break
                if (took := await user.call(path, params)) is not None:
                    times[name].append(took)
            if times[name]:
                calls = len(times[name])
                app = (cpu_seconds(pid) - app) * 1000 / calls
                cpu[name] = (app, (database_cpu_seconds() - db) * 1000 / calls)
    finally:
        await user.close()
    return times, cpu


async def concurrent(
    base: str, key: str, eps: list[Endpoint], users: int, rounds: int, deadline: float
) -> dict:
    times: dict[str, list[float]] = {name: [] for name, _, _ in eps}

    async def one(seed: int) -> None:
        user = User(base, key)
        await user.sign_in()
        order = random.Random(seed)
        try:
            for _ in range(rounds):
                for name, path, params in order.sample(eps, len(eps)):
                    if time.monotonic() > deadline:
                        return
                    if (took := await user.call(path, params)) is not None:
                        times[name].append(took)
        finally:
            await user.close()

    await asyncio.gather(*(one(s) for s in range(users)))
    return times


def with_answers(base: str, tokens: Path, rate: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.scoring_answers", base, str(tokens), "--rate", str(rate)]
    )


def measure(
    args: argparse.Namespace, base: str, key: str, eps: list[Endpoint], tokens: Path, pid: int
) -> None:
    steps = args.steps.split(",")
    if "sequential" in steps:
        print(f"sequential, {args.requests} calls each")
        deadline = time.monotonic() + args.budget
        times, cpu = asyncio.run(sequential(base, key, eps, args.requests, deadline, pid))
        report("sequential", times, cpu)
    many = f"{args.users} users × {args.rounds} rounds"
    eps = [e for e in eps if e[0] != BASELINE]  # the dashboard users call what they show
    if "concurrent" in steps:
        print(f"concurrent, {many}")
        deadline = time.monotonic() + args.budget
        times = asyncio.run(concurrent(base, key, eps, args.users, args.rounds, deadline))
        report("concurrent", times)
    if "answers" in steps and args.answers > 0:
        n = asyncio.run(answer_tokens(args.url, tokens))
        print(f"concurrent, {many}, with {args.answers:.0f} answers/s on {n} open requests")
        loader = with_answers(base, tokens, args.answers)
        try:
            time.sleep(3)  # the load settles
            deadline = time.monotonic() + args.budget
            started, used = time.monotonic(), cpu_seconds(loader.pid)
            times = asyncio.run(concurrent(base, key, eps, args.users, args.rounds, deadline))
            report("concurrent", times)
            # It shares the two cores: what it took is not the server's.
            used = (cpu_seconds(loader.pid) - used) / (time.monotonic() - started)
            print(f"  the answer load's own client used {used:.0%} of a core meanwhile")
        finally:
            loader.terminate()  # it prints the answers it got through
            try:
                loader.wait(timeout=30)
            except subprocess.TimeoutExpired:
                loader.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + NAME
    parser.add_argument("--url", default=default_url)
    parser.add_argument("--requests", type=int, default=20, help="sequential calls per endpoint")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="concurrent: calls per user")
    parser.add_argument("--answers", type=float, default=200.0, help="answers/s; 0: skip")
    parser.add_argument(
        "--steps", default="sequential,concurrent,answers", help="which of the three to run"
    )
    parser.add_argument("--budget", type=float, default=900.0, help="seconds, per step")
    args = parser.parse_args()
    keys = asyncio.run(make_keys(args.url))
    read, admin = keys["read"][1], keys["admin"][1]
    service, group = asyncio.run(largest(args.url))
    eps = endpoints(datetime.now(UTC), service, group)
    tokens = Path(f"/tmp/scoring-bench-{uuid.uuid4().hex[:8]}.tokens")
    port = free_port()
    try:
        xpulse = start("xpulse", "app.main:app_factory", args.url, xpulse_env(port), port)
        try:
            xlas = asyncio.run(make_xlas(xpulse.base, admin, service, group))
            try:
                measure(args, xpulse.base, read, eps, tokens, xpulse.pid)
            finally:
                asyncio.run(drop_xlas(xpulse.base, admin, xlas))
        finally:
            stop(xpulse.process)
    finally:
        tokens.unlink(missing_ok=True)
        asyncio.run(drop_keys(args.url, [keys["read"][0], keys["admin"][0]]))


if __name__ == "__main__":
    main()
