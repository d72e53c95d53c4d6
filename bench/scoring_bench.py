"""p50/p99 of the scoring endpoints against the bench.scoring_generate database.

    .venv/bin/python -m bench.scoring_bench [--url URL] [--requests 50] [--budget 300]

Starts the real app (uvicorn, one worker) on a loopback port, creates a read key, then calls
each endpoint sequentially (after a warm-up) and prints p50/p99 per endpoint. Bounded in time:
an endpoint stops early when the overall budget runs out, and says how many calls it made.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import delete

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.db import create_engine, make_sessionmaker
from bench.common import percentile, server, wait_ready
from bench.scoring_generate import ADMIN_URL, NAME

TARGET_MS = 300.0


def endpoints(today: datetime) -> list[tuple[str, str, dict[str, str]]]:
    year = (today - timedelta(days=364)).date().isoformat()
    quarter = (today - timedelta(days=89)).date().isoformat()
    end = today.date().isoformat()
    y = {"date_from": year, "date_to": end}
    q = {"date_from": quarter, "date_to": end}
    return [
        ("summary, 1 year", "/api/v1/scores", y),
        ("summary, 90 days", "/api/v1/scores", q),
        ("summary, 1 year, one service", "/api/v1/scores", {**y, "service": "service-7"}),
        ("breakdown by service, 1 year", "/api/v1/scores/breakdown", {**y, "by": "service"}),
        ("breakdown by agent, 90 days", "/api/v1/scores/breakdown", {**q, "by": "agent"}),
        ("trend weekly, 1 year", "/api/v1/scores/trend", {**y, "interval": "week"}),
        (
            "trend daily, 90 days, Berlin",
            "/api/v1/scores/trend",
            {**q, "interval": "day", "tz": "Europe/Berlin"},
        ),
    ]


async def make_key(url: str) -> tuple[str, str]:
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        key, plain = await auth_service.create_key(
            session, name="scoring-bench", scope=Scope.read, now=datetime.now(UTC)
        )
        await session.commit()
        key_id = str(key.id)
    await engine.dispose()
    return key_id, plain


async def drop_key(url: str, key_id: str) -> None:
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        await session.execute(delete(ApiKey).where(ApiKey.id == key_id))
        await session.commit()
    await engine.dispose()


async def run(base: str, key: str, requests: int, budget: float) -> list[tuple]:
    deadline = time.monotonic() + budget
    rows = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for name, path, params in endpoints(datetime.now(UTC)):
            for _ in range(3):  # warm-up: connection pool, plans, caches
                (await client.get(path, params=params)).raise_for_status()
            times: list[float] = []
            for _ in range(requests):
                if time.monotonic() > deadline:
                    break
                started = time.perf_counter()
                response = await client.get(path, params=params)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            p50, p99 = percentile(times, 50), percentile(times, 99)
            rows.append((name, len(times), p50, p99))
            verdict = "ok" if p99 < TARGET_MS else "over target"
            print(f"{name:<32} n={len(times):<4} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  {verdict}")
            sys.stdout.flush()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + NAME
    parser.add_argument("--url", default=default_url)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds, overall")
    args = parser.parse_args()
    key_id, key = asyncio.run(make_key(args.url))
    try:
        with server("app.main:app_factory", args.url) as base:
            asyncio.run(wait_ready(base, time.monotonic() + 30))
            rows = asyncio.run(run(base, key, args.requests, args.budget))
            worst = max(r[3] for r in rows)
            print(f"worst p99: {worst:.1f} ms (target {TARGET_MS:.0f} ms)")
    finally:
        asyncio.run(drop_key(args.url, key_id))


if __name__ == "__main__":
    main()
