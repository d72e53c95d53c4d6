"""What the bucket sums add to the scoring upkeep of an answer, on the bench.scoring_generate
database.

    .venv/bin/python -m bench.scoring_upkeep [--url URL] [--tickets 200] [--rounds 10]

An answer queues its ticket; a drain later recomputes the ticket's rows (ticket_scores,
ticket_not_sent) and, since migration 0014, moves its bucket sums by difference. This runs the
drain's statements on `--tickets` random answered tickets, in interleaved rounds with and
without the bucket statements, each round rolled back so the data never changes, and prints
the database time per ticket of each, their difference, and the ratio. The drain runs in one
PostgreSQL backend on data in cache, so its time is CPU time. Compare the difference with the
answer's own CPU per request from bench.hot_paths (issue 15's target: at most 20% more).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from app.scoring import bucket_sql, rollup, upkeep
from bench.common import dsn
from bench.scoring_generate import ADMIN_URL, NAME


def _batch(col: str) -> str:
    return f"{col} = ANY($1::uuid[])"


RECOMPUTE = [rollup.rebuild(_batch), rollup.drop_gone(_batch), *rollup.rebuild_not_sent(_batch)]
WITH_BUCKETS = [
    *bucket_sql.subtract("postgresql", _batch),
    *RECOMPUTE,
    *bucket_sql.add("postgresql", _batch),
]


async def _timed(conn: asyncpg.Connection, statements: list[str], ids: list) -> float:
    tx = conn.transaction()
    await tx.start()
    try:
        # Drains take turns (app/scoring/upkeep.py), this one too, if a server shares the data.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", upkeep.DRAINING)
        started = time.perf_counter()
        for statement in statements:
            await conn.execute(statement, ids)
        return time.perf_counter() - started
    finally:
        await tx.rollback()


async def run(url: str, tickets: int, rounds: int) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        without, with_buckets = [], []
        for i in range(rounds + 1):  # the first round warms the cache and is not counted
            ids = [
                r["ticket_id"]
                for r in await conn.fetch(
                    "SELECT ticket_id FROM ticket_scores TABLESAMPLE SYSTEM (1) "
                    "WHERE responses > 0 LIMIT $1",
                    tickets,
                )
            ]
            a = await _timed(conn, RECOMPUTE, ids)
            b = await _timed(conn, WITH_BUCKETS, ids)
            if i:
                without.append(a / len(ids) * 1000)
                with_buckets.append(b / len(ids) * 1000)
        w, b = statistics.median(without), statistics.median(with_buckets)
        print(f"{tickets} answered tickets per drain, {rounds} rounds, medians, ms per ticket:")
        print(f"  recompute only            {w:.3f}")
        print(f"  recompute + bucket sums   {b:.3f}")
        print(f"  added by the bucket sums  {b - w:.3f}  ({(b - w) / w:.0%} of the recompute)")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=ADMIN_URL.rsplit("/", 1)[0] + f"/{NAME}", help="the generated database"
    )
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.url, args.tickets, args.rounds))


if __name__ == "__main__":
    main()
