"""Keeps ticket_scores, ticket_not_sent and their bucket sums exact off the write path
(docs/scoring.md, "Databases").

A write only appends its ticket to `scoring_dirty` (triggers, app/scoring/rollup.py). A drain
deletes queued rows and recomputes their tickets set-based in one transaction, moving the
bucket sums by difference (app/scoring/bucket_sql.py):
- in the background, every `XPULSE_SCORING__DRAIN_SECONDS` in every process that runs the
  ticker, claiming rows with SKIP LOCKED so replicas share the queue;
- by every reader of those tables first (`catch_up`): everything queued, without SKIP LOCKED,
  so a reader waits for a drain in flight rather than reading around it. A figure read after a
  write committed includes it.
On PostgreSQL one transaction drains at a time (DRAINING, a transaction-level advisory lock):
what a drain subtracts from the sums must be what an earlier one added, and two drains taking
queue and ticket rows in different orders deadlocked. A reader waits for the lock; the
background drain skips its tick while another transaction holds it.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL is built from fixed names here and in rollup.py, never from input
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import dialect_name
from app.jobs.registry import ticking
from app.scoring import bucket_sql, rollup

log = logging.getLogger("xpulse.scoring")

BATCH = 2000  # queued changes per drain transaction: bounded work and locks
# docs/scoring.md's bound: with the ticker running, a change is in the stored tables within
# XPULSE_SCORING__DRAIN_SECONDS plus this, while fewer than BATCH changes wait (one batch takes
# about 0.1 s on PostgreSQL here; the rest is room for a busy machine).
PASS_BOUND_SECONDS = 5.0
# The background drain never queues behind a row lock: only drains write its tables and they
# take turns, so whatever holds such a row is foreign (an operator's session, say); it rolls
# back after this and the next tick goes on. Below PostgreSQL's deadlock_timeout (1 s).
BACKGROUND_LOCK_TIMEOUT = "200ms"
DRAINING = 0x5C0_0001  # the advisory lock key of a drain (any constant no other lock uses)
LOCK_DRAINING = text("SELECT pg_advisory_xact_lock(:key)")
WROTE = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")  # this transaction wrote
CAUGHT_UP = "xpulse.scoring.caught_up"  # session.info: the transaction that last caught up
REPEATABLE_READ = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


@dataclass(frozen=True)
class _Statements:
    newest: TextClause
    queued_upto: TextClause
    take: TextClause
    take_upto: TextClause
    take_skip_locked: TextClause
    subtract: tuple[TextClause, ...]
    recompute: tuple[TextClause, ...]


def _take(where: str = "", lock: str = "") -> TextClause:
    # MATERIALIZED: the LIMIT is evaluated once (PostgreSQL could otherwise re-run it).
    return text(
        "WITH picked AS MATERIALIZED "
        f"(SELECT id FROM scoring_dirty{where} ORDER BY id LIMIT :n{lock}) "
        "DELETE FROM scoring_dirty WHERE id IN (SELECT id FROM picked) RETURNING ticket_id"
    )


@cache
def _statements(dialect: str) -> _Statements:
    """Built once per dialect; the batch's ticket ids are one parameter (`:ids`)."""
    postgres = dialect == "postgresql"

    def batch(col: str) -> str:
        if postgres:
            return f"{col} = ANY(CAST(:ids AS uuid[]))"
        return f"{col} IN (SELECT value FROM json_each(:ids))"

    return _Statements(
        newest=text("SELECT max(id) FROM scoring_dirty"),
        queued_upto=text("SELECT 1 FROM scoring_dirty WHERE id <= :hi LIMIT 1"),
        take=_take(),
        take_upto=_take(" WHERE id <= :hi"),
        take_skip_locked=_take(lock=" FOR UPDATE SKIP LOCKED" if postgres else ""),
        subtract=tuple(text(s) for s in bucket_sql.subtract(dialect, batch)),
        recompute=tuple(
            text(s)
            for s in [
                rollup.rebuild(batch),
                rollup.drop_gone(batch),
                *rollup.rebuild_not_sent(batch),
                *bucket_sql.add(dialect, batch),
            ]
        ),
    )


def _ids(dialect: str, tickets: Iterable[uuid.UUID]) -> Any:
    if dialect == "postgresql":
        return list(tickets)
    return json.dumps([t.hex for t in tickets])  # how SQLite keeps a Uuid column


async def drain_batch(
    session: AsyncSession, *, upto: int | None = None, skip_locked: bool = False
) -> int:
    """Take up to BATCH queued rows (oldest first; with ids up to `upto`) and recompute their
    tickets in the session's transaction. Returns the number of queue rows taken."""
    dialect = dialect_name(session)
    st = _statements(dialect)
    if dialect == "postgresql":
        # One drain at a time, or the bucket sums go wrong. Both callers below hold it already
        # (it is re-entrant); taking it here keeps the rule true for any caller.
        await session.execute(LOCK_DRAINING, {"key": DRAINING})
    if skip_locked:
        take, params = st.take_skip_locked, {"n": BATCH}
    elif upto is not None:
        take, params = st.take_upto, {"n": BATCH, "hi": upto}
    else:
        take, params = st.take, {"n": BATCH}
    taken = (await session.execute(take, params)).scalars().all()
    # A ticket deleted since it was queued simply has no row to recompute.
    tickets = sorted({uuid.UUID(str(t)) for t in taken})
    if tickets:
        ids = {"ids": _ids(dialect, tickets)}
        # The buckets lose what the stored rows gave them, and get the new rows after the
        # recompute. Only a drain writes these rows, and drains take turns: no row lock needed.
        for statement in (*st.subtract, *st.recompute):
            await session.execute(statement, ids)
    return len(taken)


async def catch_up(session: AsyncSession) -> int:
    """Call before reading ticket_scores, ticket_not_sent or the bucket sums: drains every row
    queued when it starts, so the reads that follow include every write committed before.

    On PostgreSQL, in a transaction that has only read so far (every dashboard and API read),
    once per request: that transaction ends (it holds nothing), the drain runs in a short
    transaction of its own on the same connection and commits, and the request's reads go on
    in one REPEATABLE READ snapshot taken after it. So the lock that makes drains take turns is
    held for the drain only, not until the response is sent (readers queued behind each other's
    whole requests under a steady answer load), and every figure of the request sees the same
    sums: a drain another request commits meanwhile cannot land between the statements of one
    figure. A transaction that wrote (its changes are visible to no other) drains in itself
    before every read, holding the lock until it ends; so does every transaction on SQLite."""
    if dialect_name(session) != "postgresql" or not isinstance(session.bind, AsyncEngine):
        return await _catch_up_in(session)
    if (await session.execute(WROTE)).scalar():
        return await _catch_up_in(session)
    if session.info.get(CAUGHT_UP) is session.sync_session.get_transaction():
        return 0  # this request's snapshot is taken
    await session.commit()  # it only read: ending it loses nothing
    drained = await _catch_up_in(session)
    await session.commit()
    await session.execute(REPEATABLE_READ)
    session.info[CAUGHT_UP] = session.sync_session.get_transaction()
    return drained


async def _catch_up_in(session: AsyncSession) -> int:
    """Drain, in the session's transaction, every row queued when it starts. A quiet queue
    costs one tiny query."""
    st = _statements(dialect_name(session))
    newest = (await session.execute(st.newest)).scalar()
    if newest is None:
        return 0
    if dialect_name(session) == "postgresql":  # held until this transaction ends
        await session.execute(LOCK_DRAINING, {"key": DRAINING})
    drained = 0
    while True:
        n = await drain_batch(session, upto=newest)
        drained += n
        # Fewer than a batch: done, unless rows another drain held were given back meanwhile.
        if n < BATCH and (await session.execute(st.queued_upto, {"hi": newest})).first() is None:
            return drained


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


async def queued(session: AsyncSession) -> int:
    """How many changes wait in the queue (for tests and operators)."""
    return (await session.execute(text("SELECT count(*) FROM scoring_dirty"))).scalar_one()


@ticking("scoring.drain", every=lambda settings: settings.scoring.drain_seconds)
async def drain_in_background(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """One tick: drain batch after batch, each in its own short transaction, until the queue
    has less than a batch left. Returns the number of queue rows taken."""
    async with sessionmaker() as session:  # an idle tick: one tiny query, no write
        if (await session.execute(_statements(dialect_name(session)).newest)).scalar() is None:
            return 0
    total = 0
    while True:
        async with sessionmaker() as session:
            postgres = dialect_name(session) == "postgresql"
            try:
                if postgres:
                    await session.execute(
                        text(f"SET LOCAL lock_timeout = '{BACKGROUND_LOCK_TIMEOUT}'")
                    )
                    free = text("SELECT pg_try_advisory_xact_lock(:key)")
                    if not (await session.execute(free, {"key": DRAINING})).scalar():
                        return total  # a reader is draining: the next tick goes on
                n = await drain_batch(session, skip_locked=True)
                await session.commit()
            except DBAPIError as exc:
                if _sqlstate(exc) != "55P03":  # lock_not_available
                    raise
                log.info("scoring drain gave way to a reader; next tick continues")
                return total
        total += n
        if n < BATCH:
            return total
