"""Lanes on real databases (PostgreSQL and SQLite): a system that keeps failing holds its
lane's jobs back with one probe at a time, its backlog drains oldest first and paced once it
answers, a Retry-After spends no attempt, and a lane's job dies only at the end of its time
budget or on a refusal."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.db import make_sessionmaker
from app.jobs import queue
from app.jobs.models import Job, JobLane, JobStatus, LaneState
from app.jobs.registry import LaneInfo, PermanentError, TransientError, handler, lane_kind
from tests.conftest import truncate_all
from tests.jobs.conftest import make_worker

LANE = "test:itsm"
CALLS: list[int] = []  # the n of every call that reached the "system", in order
DOWN: list[Exception] = []  # while non-empty, every call raises DOWN[0]
REJECTS: set[int] = set()  # records the system fails on (a 500 for this one record only)
REFUSES: set[int] = set()  # records the system refuses (a 400)
PACE: dict[str, float] = {}


class Call(BaseModel):
    n: int


@handler("test.call_system", payload=Call)
async def call_system(ctx, payload: Call) -> None:
    CALLS.append(payload.n)
    if DOWN:
        raise DOWN[0]
    if payload.n in REJECTS:
        raise TransientError("HTTP 500 for this record")
    if payload.n in REFUSES:
        raise PermanentError("HTTP 400 Bad Request")


@lane_kind("test")
async def describe(session: AsyncSession, keys: list[str] | None) -> dict[str, LaneInfo]:
    return {key: LaneInfo(key, PACE.get(key)) for key in (keys or [])}


@pytest.fixture(autouse=True)
def reset() -> None:
    CALLS.clear()
    DOWN.clear()
    REJECTS.clear()
    REFUSES.clear()
    PACE.clear()


async def enqueue(
    sm: async_sessionmaker[AsyncSession], ns: range | list[int], *, lane: str = LANE
) -> None:
    due = utcnow() - timedelta(seconds=1)  # due for a test's `now` taken before this
    async with sm() as s:
        for n in ns:
            await queue.enqueue(
                s, "test.call_system", Call(n=n), dedupe_key=f"{lane}:{n}", lane=lane, run_after=due
            )
        await s.commit()


async def lane_row(sm: async_sessionmaker[AsyncSession], lane: str = LANE) -> JobLane:
    async with sm() as s:
        return await s.get(JobLane, lane)


async def jobs_by_n(sm: async_sessionmaker[AsyncSession]) -> dict[int, Job]:
    async with sm() as s:
        return {j.payload["n"]: j for j in (await s.scalars(select(Job))).all()}


async def go_down(sm, worker, now: datetime, ns: range) -> JobLane:
    """Enqueue `ns` and let all of them fail: the lane is failing afterwards."""
    await enqueue(sm, ns)
    DOWN.append(TransientError("HTTP 503 Service Unavailable"))
    assert await worker.run_once(now) == len(ns)
    lane = await lane_row(sm)
    assert lane.state == LaneState.failing and lane.failures == len(ns)
    return lane


async def test_a_failing_system_holds_its_lane_back_then_drains_oldest_first(
    engine: AsyncEngine,
) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=3, probe_max_seconds=60)
    t0 = utcnow()
    lane = await go_down(sm, worker, t0, range(3))
    assert t0 <= lane.failing_since <= utcnow() and "503" in lane.last_error
    await enqueue(sm, range(3, 8))  # more work arrives during the outage
    assert await worker.run_once(t0) == 0  # everything waits: nothing reaches the system
    assert await worker.run_once(lane.paused_until - timedelta(seconds=0.01)) == 0

    t1 = lane.paused_until
    assert await worker.run_once(t1) == 1  # one probe, though 8 jobs are due and 3 fit
    assert CALLS[3:] == [3]  # the job due longest, not one that just failed
    lane = await lane_row(sm)
    assert lane.state == LaneState.failing and lane.paused_until > t1
    assert lane.paused_until <= t1 + timedelta(seconds=60)  # probe_max_seconds

    DOWN.clear()  # the system answers again
    t2 = lane.paused_until + timedelta(seconds=5)  # the first failures' own backoff is over
    assert await worker.drain(t2) == 8
    assert CALLS[4:] == [4, 0, 1, 2, 3, 5, 6, 7]  # the probe, then the rest oldest first
    assert (await lane_row(sm)).state == LaneState.ok
    jobs = await jobs_by_n(sm)
    assert {j.status for j in jobs.values()} == {JobStatus.done}
    assert jobs[0].failing_since is not None and jobs[7].failing_since is None


async def test_one_probe_at_a_time_across_claimers(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=3)
    lane = await go_down(sm, worker, utcnow(), range(3))
    await enqueue(sm, range(3, 6))
    now = lane.paused_until
    lease = timedelta(seconds=60)
    async with sm() as a:
        probe = await queue.claim(a, worker="a", now=now, lease=lease, limit=10)
        await a.commit()
    async with sm() as b:
        assert await queue.claim(b, worker="b", now=now, lease=lease, limit=10) == []
        await b.commit()
    assert [j.payload["n"] for j in probe] == [3]
    # The probe's process died: after its lease the lane is probed again, by one job.
    async with sm() as b:
        again = await queue.claim(b, worker="b", now=now + lease * 1.01, lease=lease, limit=10)
        await b.commit()
    assert len(again) == 1


async def test_a_claimer_skips_a_lane_another_holds(pg_engine: AsyncEngine) -> None:
    await truncate_all(pg_engine)
    sm = make_sessionmaker(pg_engine)
    await enqueue(sm, range(3))
    await enqueue(sm, range(3), lane="test:other")
    now, lease = utcnow(), timedelta(seconds=60)
    try:
        async with sm() as holder, sm() as other:
            held = await queue.claim(holder, worker="a", now=now, lease=lease, limit=2)
            got = await asyncio.wait_for(
                queue.claim(other, worker="b", now=now, lease=lease, limit=10), timeout=5
            )
            assert {j.lane for j in held} == {"test:itsm"}  # the first lane in order
            assert {j.lane for j in got} == {"test:other"} and len(got) == 3
            await holder.rollback()
            await other.rollback()
    finally:
        await truncate_all(pg_engine)


async def test_claims_of_a_lane_are_paced_across_claimers(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    PACE[LANE] = 5.0
    await enqueue(sm, range(14))
    async with sm() as s:  # a job of no lane is not paced
        await queue.enqueue(s, "test.call_system", Call(n=100))
        await s.commit()
    t0, lease = utcnow(), timedelta(seconds=60)
    async with sm() as a:
        first = await queue.claim(a, worker="a", now=t0, lease=lease, limit=20, window=2.0)
        await a.commit()
    async with sm() as b:
        second = await queue.claim(b, worker="b", now=t0, lease=lease, limit=20, window=2.0)
        await b.commit()
    assert first[0].lane is None and first[0].run_after <= t0
    paced = first[1:] + second
    assert [j.payload["n"] for j in paced] == list(range(11))  # oldest first
    # 10 slots fit the 2 s window at 5/s; the other claimer gets the next slot, 0.2 s later.
    assert len(first) == 11 and len(second) == 1
    gaps = [(b.run_after - a.run_after).total_seconds() for a, b in pairwise(paced)]
    assert gaps == pytest.approx([0.2] * 10)


async def test_the_worker_starts_a_paced_job_at_its_slot(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    PACE[LANE] = 20.0
    await enqueue(sm, range(4))
    worker = make_worker(engine, "w")
    t0 = utcnow()
    assert await worker.run_once(t0) == 4
    assert utcnow() >= t0 + timedelta(seconds=0.15)  # it waited for the fourth slot, 3/20 s in
    assert CALLS == [0, 1, 2, 3]
    jobs = await jobs_by_n(sm)
    assert all(j.status == JobStatus.done for j in jobs.values())


async def test_retry_after_pauses_the_lane_and_spends_no_attempt(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=1)
    await enqueue(sm, range(3))
    DOWN.append(TransientError("HTTP 429", retry_after=30))
    t0 = utcnow()
    assert await worker.run_once(t0) == 1
    job = (await jobs_by_n(sm))[0]
    assert job.status == JobStatus.pending and job.attempts == 0
    lane = await lane_row(sm)
    assert lane.state == LaneState.ok  # told to wait is not down
    assert t0 + timedelta(seconds=30) <= lane.paused_until <= utcnow() + timedelta(seconds=30)
    assert await worker.run_once(t0 + timedelta(seconds=29)) == 0  # the whole lane waits
    DOWN.clear()
    assert await worker.drain(lane.paused_until) == 3
    assert CALLS == [0, 0, 1, 2]
    assert (await jobs_by_n(sm))[0].attempts == 1


async def test_a_lane_job_is_retried_past_its_attempts_until_the_budget(
    engine: AsyncEngine,
) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(
        engine, "w", retry_budget_hours=1, probe_max_seconds=60, backoff_max_seconds=60
    )
    now = utcnow()
    async with sm() as s:
        await queue.enqueue(
            s, "test.call_system", Call(n=0), lane=LANE, max_attempts=2, run_after=now
        )
        await s.commit()
    DOWN.append(TransientError("connection refused"))
    end = now + timedelta(hours=1)
    while now < end - timedelta(seconds=61):
        await worker.run_once(now)
        job = (await jobs_by_n(sm))[0]
        assert job.status == JobStatus.pending, job.last_error
        now += timedelta(seconds=61)
    assert job.attempts > 30  # far past max_attempts: the budget is time
    await worker.run_once(end + timedelta(seconds=61))
    job = (await jobs_by_n(sm))[0]
    assert job.status == JobStatus.dead and "connection refused" in job.last_error


async def test_waiting_jobs_die_when_the_lane_outlives_their_budget(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=3, retry_budget_hours=1, probe_max_seconds=60)
    t0 = utcnow()
    await go_down(sm, worker, t0, range(3))
    await enqueue(sm, range(3, 6))
    async with sm() as s:  # job 5 arrived 40 minutes into the outage
        await s.execute(
            update(Job)
            .where(Job.payload["n"].as_integer() == 5)
            .values(created_at=t0 + timedelta(minutes=40))
        )
        await s.commit()
    late = t0 + timedelta(hours=1, minutes=1)
    assert await worker.run_once(late) == 1  # the probe fails: the budget of most is spent
    jobs = await jobs_by_n(sm)
    assert {n for n, j in jobs.items() if j.status == JobStatus.dead} == {0, 1, 2, 3, 4}
    assert "retry budget of 1 h spent" in jobs[4].last_error and "503" in jobs[4].last_error
    assert jobs[5].status == JobStatus.pending  # 21 minutes in: its budget goes on


async def test_a_refusal_kills_only_that_job_and_shows_the_system_is_up(
    engine: AsyncEngine,
) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=3)
    lane = await go_down(sm, worker, utcnow(), range(3))
    await enqueue(sm, range(3, 5))
    DOWN.clear()
    REFUSES.add(3)
    assert await worker.run_once(lane.paused_until) == 1  # the probe is refused
    assert (await lane_row(sm)).state == LaneState.ok  # it answered: the system is up
    assert await worker.drain(lane.paused_until + timedelta(seconds=5)) == 4
    jobs = await jobs_by_n(sm)
    assert jobs[3].status == JobStatus.dead and "HTTP 400" in jobs[3].last_error
    assert all(jobs[n].status == JobStatus.done for n in (0, 1, 2, 4))


async def test_records_the_system_rejects_do_not_hold_the_lane(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    worker = make_worker(engine, "w", batch_size=3)
    REJECTS.update({0, 1, 2})
    await enqueue(sm, range(5))
    t0 = utcnow()
    assert await worker.run_once(t0) == 3  # three failures in a row: the lane counts as down
    lane = await lane_row(sm)
    assert lane.state == LaneState.failing
    assert await worker.run_once(lane.paused_until) == 1
    assert CALLS[3:] == [3]  # the probe is a job that has not failed, and it works
    assert (await lane_row(sm)).state == LaneState.ok
    await worker.drain(lane.paused_until)
    jobs = await jobs_by_n(sm)
    assert jobs[4].status == JobStatus.done
    assert all(jobs[n].status == JobStatus.pending for n in (0, 1, 2))  # retried, not dead


async def test_retry_dead_in_a_lane(engine: AsyncEngine) -> None:
    sm = make_sessionmaker(engine)
    await enqueue(sm, range(4))
    await enqueue(sm, range(2), lane="test:other")
    now = utcnow()
    async with sm() as s:
        await s.execute(update(Job).values(status=JobStatus.dead, finished_at=now, attempts=3))
        await s.commit()
    await enqueue(sm, [3])  # job 3's work is queued again: its dead copy stays dead
    async with sm() as s:
        assert await queue.retry_dead_in_lane(s, LANE, now=now) == 3
        await s.commit()
    async with sm() as s:
        rows = (await s.scalars(select(Job).order_by(Job.id))).all()
    revived = [j for j in rows if j.lane == LANE and j.status == JobStatus.pending]
    assert sorted(j.payload["n"] for j in revived) == [0, 1, 2, 3]  # three revived, one new
    assert all(j.attempts == 0 for j in revived)
    assert {j.status for j in rows if j.lane == "test:other"} == {JobStatus.dead}
    assert [j.status for j in rows if j.lane == LANE and j.payload["n"] == 3] == [
        JobStatus.dead,
        JobStatus.pending,
    ]
