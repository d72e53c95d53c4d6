"""The job queue on real databases: exactly-once under concurrent workers, lease expiry,
guarded finish, backoff then dead (PostgreSQL and the embedded SQLite)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.db import make_sessionmaker
from app.jobs import queue
from app.jobs.models import Job, JobStatus
from app.jobs.registry import PermanentError, TransientError, handler
from tests.conftest import truncate_all
from tests.jobs.conftest import make_worker

RUNS: Counter[int] = Counter()
FAILURES: dict[int, Exception] = {}


class Numbered(BaseModel):
    n: int


@handler("test.count", payload=Numbered)
async def count(ctx, payload: Numbered) -> None:
    await asyncio.sleep(0)  # yield, so the other worker's claim interleaves with this one
    RUNS[payload.n] += 1
    if payload.n in FAILURES:
        raise FAILURES[payload.n]


@handler("test.flaky", payload=Numbered, max_attempts=3)
async def flaky(ctx, payload: Numbered) -> None:
    RUNS[payload.n] += 1
    raise TransientError("ITSM answered 503")


@handler("test.writes_then_fails", payload=Numbered)
async def writes_then_fails(ctx, payload: Numbered) -> None:
    await queue.enqueue(ctx.session, "test.count", Numbered(n=99), dedupe_key="side-effect")
    raise PermanentError("no")


@handler("test.slow_429", payload=Numbered)
async def slow_429(ctx, payload: Numbered) -> None:
    await asyncio.sleep(0.5)  # earlier calls of the same job took a while
    raise TransientError("429", retry_after=1)


@pytest.fixture(autouse=True)
def reset_runs() -> None:
    RUNS.clear()
    FAILURES.clear()


async def enqueue_many(sm: async_sessionmaker[AsyncSession], name: str, count: int) -> None:
    async with sm() as s:
        for n in range(count):
            await queue.enqueue(s, name, Numbered(n=n), dedupe_key=f"{name}:{n}")
        await s.commit()


async def statuses(sm: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sm() as s:
        return Counter((await s.scalars(select(Job.status))).all())


async def test_enqueue_is_idempotent_on_the_dedupe_key(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    async with sm() as s:
        first = await queue.enqueue(s, "test.count", Numbered(n=1), dedupe_key="same")
        second = await queue.enqueue(s, "test.count", Numbered(n=1), dedupe_key="same")
        await s.commit()
    assert first is not None and second is None
    assert await statuses(sm) == Counter({"pending": 1})


async def test_enqueue_rolls_back_with_the_callers_transaction(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    async with sm() as s:
        await queue.enqueue(s, "test.count", Numbered(n=1))
        await s.rollback()
    assert await statuses(sm) == Counter()


async def test_two_workers_run_each_job_exactly_once(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.count", 300)
    a, b = make_worker(engine, "a"), make_worker(engine, "b")
    await asyncio.gather(a.drain(), b.drain())
    assert sorted(RUNS) == list(range(300))
    assert set(RUNS.values()) == {1}
    assert await statuses(sm) == Counter({"done": 300})


async def test_claim_skips_rows_another_transaction_holds(pg_engine: AsyncEngine) -> None:
    """One claimer holds its transaction open; the other gets different jobs without waiting."""
    await truncate_all(pg_engine)
    sm = make_sessionmaker(pg_engine)
    await enqueue_many(sm, "test.count", 6)
    now = utcnow()
    try:
        async with sm() as holder, sm() as other:
            held = await queue.claim(holder, worker="a", now=now, lease=timedelta(60), limit=3)
            got = await asyncio.wait_for(
                queue.claim(other, worker="b", now=now, lease=timedelta(60), limit=10), timeout=5
            )
            assert len(held) == 3
            assert len(got) == 3
            assert {j.id for j in held}.isdisjoint({j.id for j in got})
            await holder.rollback()
            await other.rollback()
    finally:
        await truncate_all(pg_engine)


async def test_a_dead_workers_job_runs_again_after_its_lease(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.count", 1)
    now = utcnow()
    async with sm() as s:  # a worker claims, then dies without finishing
        (job,) = await queue.claim(s, worker="dead", now=now, lease=timedelta(seconds=60))
        await s.commit()
    survivor = make_worker(engine, "survivor")
    assert await survivor.run_once(now + timedelta(seconds=30)) == 0  # lease still valid
    assert await survivor.run_once(now + timedelta(seconds=61)) == 1
    assert RUNS[0] == 1
    async with sm() as s:
        again = await s.get(Job, job.id)
        assert again.status == JobStatus.done and again.attempts == 2
        # The dead worker comes back: its finish must not overwrite the new holder's result.
        assert not await queue.finish(s, job, worker="dead", now=now, error="late")
        await s.commit()
        await s.refresh(again)
        assert again.status == JobStatus.done and again.last_error is None


async def test_transient_failures_back_off_then_go_dead_with_the_error(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.flaky", 1)
    worker = make_worker(engine, "w")
    now = utcnow()
    assert await worker.run_once(now) == 1
    after = utcnow()
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
        assert job.status == JobStatus.pending and job.attempts == 1
        # base 1 s, with jitter, counted from the failure (between `now` and `after`)
        assert now + timedelta(seconds=0.5) <= job.run_after <= after + timedelta(seconds=1)
    assert await worker.run_once(now) == 0  # not due yet
    later = now + timedelta(seconds=10)
    assert await worker.run_once(later) == 1
    assert await worker.run_once(later + timedelta(seconds=10)) == 1
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
        assert job.status == JobStatus.dead
        assert job.attempts == 3
        assert "ITSM answered 503" in job.last_error
    assert RUNS[0] == 3
    assert await worker.run_once(later + timedelta(hours=1)) == 0


async def test_retry_after_overrides_backoff(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.count", 1)
    FAILURES[0] = TransientError("429", retry_after=42)
    now = utcnow()
    await make_worker(engine, "w").run_once(now)
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
        delay = (job.run_after - now).total_seconds()
        assert 42 <= delay < 43  # from the moment of failure, a few ms after `now`


async def test_a_permanent_error_goes_dead_at_once_and_can_be_retried(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.count", 1)
    FAILURES[0] = PermanentError("400 Bad Request: field u_experience_score unknown")
    worker = make_worker(engine, "w")
    now = utcnow()
    await worker.run_once(now)
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
        assert job.status == JobStatus.dead and job.attempts == 1
        assert "u_experience_score" in job.last_error
        assert (await queue.retry_dead(s, job.id, now=now)).status == JobStatus.pending
        await s.commit()
    del FAILURES[0]
    await worker.run_once(now)
    assert RUNS[0] == 2
    assert await statuses(sm) == Counter({"done": 1})


async def test_a_handler_failure_keeps_none_of_its_writes(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue_many(sm, "test.count", 1)

    async with sm() as s:
        await queue.enqueue(s, "test.writes_then_fails", Numbered(n=5))
        await s.commit()
    await make_worker(engine, "w").drain(utcnow())
    async with sm() as s:
        keys = (await s.scalars(select(Job.dedupe_key))).all()
    assert "side-effect" not in keys


async def test_unknown_job_name_goes_dead(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    async with sm() as s:
        await queue.enqueue(s, "nobody.handles_this", Numbered(n=1))
        await s.commit()
    await make_worker(engine, "w").run_once(utcnow())
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
    assert job.status == JobStatus.dead and "no handler" in job.last_error


def test_backoff_grows_and_is_capped() -> None:
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (10, 60)]:
        values = [queue.backoff(attempt, base=5, cap=60) for _ in range(200)]
        assert max(values) <= ceiling
        assert min(values) >= 2.5
    assert max(queue.backoff(3, base=5, cap=60) for _ in range(200)) > 10  # it does grow


async def test_retry_after_counts_from_the_failure_not_the_claim(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    async with sm() as s:
        await queue.enqueue(s, "test.slow_429", Numbered(n=1))
        await s.commit()
    claimed_at = utcnow()
    await make_worker(engine, "w").run_once(claimed_at)
    async with sm() as s:
        job = (await s.scalars(select(Job))).one()
    assert (job.run_after - claimed_at).total_seconds() >= 1.5
