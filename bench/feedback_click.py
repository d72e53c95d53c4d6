"""Feedback click latency: the page (GET /f/{token}?s=N) and the recording POST, p99 at 32
concurrent connections against PostgreSQL.

    .venv/bin/python -m bench.feedback_click [--seconds 15] [--concurrency 32] [--budget 120]

Loopback only, PostgreSQL only. Creates a throwaway database on the server named by
XPULSE_BENCH_ADMIN_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres),
migrates it, seeds sent feedback requests, serves the real app with uvicorn (one process, access
log off, ticker off) and drives it with `--concurrency` keep-alive connections. Each simulated
person opens a fresh request's one-click link (the page, which logs the open as scanner
evidence) and then posts the score as the page's script does (judged, saved, write-back job
enqueued). Every POST is a first, counted answer. The per-token and per-address rate limits are
raised for the run: all the load comes from one loopback address. The run is bounded: the load
stops at --seconds, the whole run at --budget, and the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from sqlalchemy import insert

from app.connectors.models import Connector
from app.db import create_engine
from app.feedback.models import FeedbackRequest
from app.feedback.tokens import token_for, token_hash
from app.tickets.models import Ticket
from bench.common import (
    Series,
    create_database,
    drop_database,
    dsn,
    free_port,
    migrate,
    pooled_client,
    server,
    throwaway_name,
    wait_ready,
)

SECRET = "bench-feedback-secret-0123456789abcdef"
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


async def seed(url: str, count: int) -> list[str]:
    """`count` sent requests (0-10 scale, channel none); their tokens."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    connector_id = uuid.uuid4()
    tokens: list[str] = []
    async with engine.begin() as conn:
        await conn.execute(
            insert(Connector).values(
                id=connector_id,
                name="bench",
                kind="generic",
                base_url="https://helpdesk.example.com",
                webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                enabled=True,
                auth={},
                channel="none",
                options={},
                created_at=now,
                updated_at=now,
            )
        )
        for start in range(0, count, 2000):
            tickets, requests = [], []
            for n in range(start, min(count, start + 2000)):
                ticket_id, request_id = uuid.uuid4(), uuid.uuid4()
                token = token_for(request_id, SECRET)
                tokens.append(token)
                tickets.append(
                    {
                        "id": ticket_id,
                        "connector_id": connector_id,
                        "source": "generic",
                        "external_id": f"T-{n}",
                        "number": f"HD-{n}",
                        "title": f"Bench ticket {n}",
                        "requester_email": f"p{n}@example.com",
                        "requester_locale": ("en", "de", "fr", "es", "fi", "sv")[n % 6],
                        "resolved_at": now,
                        "raw": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                requests.append(
                    {
                        "id": request_id,
                        "ticket_id": ticket_id,
                        "connector_id": connector_id,
                        "dedupe_key": f"{connector_id}:T-{n}:c1",
                        "token_hash": token_hash(token),
                        "status": "sent",
                        "channel": "none",
                        "scale": "happiness-0-10",
                        "locale": None,
                        "recipient_email": f"p{n}@example.com",
                        "requester_key": f"email:p{n}@example.com",
                        "sent_at": now - timedelta(hours=1),
                        "expires_at": now + timedelta(days=7),
                        "resend_count": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            await conn.execute(insert(Ticket), tickets)
            await conn.execute(insert(FeedbackRequest), requests)
    await engine.dispose()
    return tokens


async def drive(
    base: str, tokens: list[str], *, concurrency: int, seconds: float, warmup: float
) -> tuple[Series, Series, int]:
    page, post = Series("page GET /f/{token}?s=N"), Series("record POST /f/{token}")
    queue = iter(tokens)
    headers = {"user-agent": UA, "accept-language": "de-DE,de;q=0.9,en;q=0.5"}
    started = time.monotonic()
    measure_from, stop_at = started + warmup, started + warmup + seconds
    done = 0

    async def person(client: httpx.AsyncClient, n: int) -> None:
        nonlocal done
        for token in queue:
            now = time.monotonic()
            if now > stop_at:
                return
            score = (n + done) % 11
            t0 = time.perf_counter()
            r1 = await client.get(f"/f/{token}", params={"s": score})
            t1 = time.perf_counter()
            r2 = await client.post(
                f"/f/{token}",
                data={"score": str(score), "lang": "de", "signals": '{"interacted":false}'},
                headers={
                    "accept": "application/json",
                    "origin": base,
                    "sec-fetch-site": "same-origin",
                },
            )
            t2 = time.perf_counter()
            if now < measure_from:
                continue
            done += 1
            for series, response, ms in ((page, r1, t1 - t0), (post, r2, t2 - t1)):
                if response.status_code == 200:
                    series.latencies_ms.append(ms * 1000)
                else:
                    series.errors += 1

    async with pooled_client(base, concurrency, headers=headers) as c:
        await asyncio.gather(*(person(c, n) for n in range(concurrency)))
    return page, post, done


async def counted(url: str) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return await conn.fetchval("SELECT count(*) FROM responses WHERE NOT automated")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20_000, help="seeded requests")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds, overall")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    url = asyncio.run(create_database(throwaway_name("xpulse_bench_feedback")))
    try:
        migrate(url)
        tokens = asyncio.run(seed(url, args.requests))
        port = free_port()
        env = {
            "XPULSE_DATABASE_POOL_SIZE": "16",  # up to 32 connections with overflow
            "XPULSE_SECRET_KEY": SECRET,
            "XPULSE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "XPULSE_FEEDBACK__RATE_LIMIT_PER_MINUTE": "100000000",
        }
        with server("app.main:app_factory", url, port=port, env=env) as base:
            asyncio.run(wait_ready(base, min(deadline, time.monotonic() + 30)))
            seconds = max(1.0, min(args.seconds, deadline - time.monotonic() - args.warmup - 10))
            page, post, pairs = asyncio.run(
                drive(
                    base, tokens, concurrency=args.concurrency, seconds=seconds, warmup=args.warmup
                )
            )
        print(f"concurrency {args.concurrency}, {seconds:.0f} s measured, {pairs} clicks")
        for s in (page, post):
            print(
                f"{s.name:<28} n={s.n:<6} errors={s.errors:<3} "
                f"p50 {s.pct(50):7.1f} ms  p99 {s.pct(99):7.1f} ms"
            )
        print(f"throughput: {pairs / seconds:.0f} clicks/s (page + POST each)")
        print(f"counted responses stored: {asyncio.run(counted(url))}")
    finally:
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
