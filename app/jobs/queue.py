"""Enqueue, claim, finish: the whole queue protocol on the `jobs` table."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.clock import utcnow
from app.db import insert_ignore
from app.jobs import lanes
from app.jobs.models import Job, JobLane, JobStatus, LaneState


async def enqueue(
    session: AsyncSession,
    name: str,
    payload: BaseModel,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 8,
    lane: str | None = None,
) -> int | None:
    """Add a job in the caller's transaction; None when an active job has the same dedupe key.

    Jobs that call one outside system share a `lane` (app/jobs/lanes.py): paced together, held
    back together while it is down, and retried until the time budget, not `max_attempts`."""
    if lane is not None:
        await lanes.ensure(session, lane)
    return await insert_ignore(
        session,
        Job,
        name=name,
        payload=payload.model_dump(mode="json"),
        dedupe_key=dedupe_key,
        run_after=run_after or utcnow(),
        max_attempts=max_attempts,
        status=JobStatus.pending,
        lane=lane,
    )


def claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.status == JobStatus.pending, Job.run_after <= now),
        and_(Job.status == JobStatus.running, Job.locked_until < now),  # its worker died
    )


def _leased(worker: str, now: datetime, lease: timedelta) -> dict[str, Any]:
    return {
        "status": JobStatus.running,
        "locked_by": worker,
        "locked_until": now + lease,
        "attempts": Job.attempts + 1,
    }


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int = 10,
    window: float = 2.0,
) -> list[Job]:
    """Lease up to `limit` due jobs to `worker`; SKIP LOCKED lets replicas claim side by side.

    Jobs without a lane come first; then each open lane gives what its pace allows within
    `window` seconds (a failing lane: its one probe). A lane job's `run_after` becomes its
    slot, the moment the worker may start it."""
    picked = (
        select(Job.id)
        .where(claimable(now), Job.lane.is_(None))
        .order_by(Job.run_after, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # MATERIALIZED: evaluate the LIMIT once; Postgres could otherwise re-run the subquery.
        .cte("picked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # An UPDATE first: on SQLite it takes the write lock before the lanes are read.
    stmt = (
        update(Job)
        .where(Job.id == picked.c.id)
        .values(**_leased(worker, now, lease))
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    jobs = list((await session.scalars(stmt)).all())
    if len(jobs) < limit:
        jobs += await _claim_lanes(
            session, worker=worker, now=now, lease=lease, limit=limit - len(jobs), window=window
        )
    return jobs


async def _claim_lanes(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    window: float,
) -> list[Job]:
    """Take open lanes one at a time (locked, SKIP LOCKED), so a claimer holds only the lanes
    it serves and other replicas go on with the rest."""
    has_due = select(Job.id).where(Job.lane == JobLane.lane, claimable(now)).exists()
    seen: list[str] = []
    claimed: list[Job] = []
    while len(claimed) < limit:
        next_lane = (
            select(JobLane)
            .where(
                or_(JobLane.paused_until.is_(None), JobLane.paused_until <= now),
                or_(JobLane.probe_until.is_(None), JobLane.probe_until <= now),
                has_due,
                JobLane.lane.not_in(seen),
            )
            # The lane served longest ago first (unpaced lanes have no slot), so none starves.
            .order_by(JobLane.next_slot.asc().nulls_first(), JobLane.lane)
            .limit(1)
            .with_for_update(skip_locked=True)  # one claimer per lane at a time
            .execution_options(populate_existing=True)
        )
        row = (await session.scalars(next_lane)).one_or_none()
        if row is None:
            break
        seen.append(row.lane)
        claimed += await _claim_from(
            session,
            row,
            worker=worker,
            now=now,
            lease=lease,
            room=limit - len(claimed),
            window=window,
        )
    await session.flush()
    return claimed


async def _claim_from(
    session: AsyncSession,
    row: JobLane,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    room: int,
    window: float,
) -> list[Job]:
    due = select(Job.id).where(Job.lane == row.lane, claimable(now))
    if row.state == LaneState.failing:
        # The probe: the job due longest, so a job that failed as probe goes to the back.
        ids = await session.scalars(due.order_by(Job.run_after, Job.id).limit(1))
        got = await _lease_each(session, list(ids), [now], worker, now, lease)
        if got:
            row.probe_until = now + lease  # no second probe while this one runs
        return got
    known = (await lanes.describe(session, [row.lane])).get(row.lane)
    rps = known.requests_per_second if known else None
    # Paced: the slots 1/rps apart from the lane's next one that start in this window (at
    # least one: the worker waits for it). A next slot beyond the window can only come from
    # a clock that went back (another replica's): it holds nothing back.
    start = now
    if row.next_slot and now < row.next_slot <= now + timedelta(seconds=window):
        start = row.next_slot
    if rps:
        left = window - (start - now).total_seconds()
        room = min(room, max(1, int(left * rps)))
    ids = list(await session.scalars(due.order_by(Job.id).limit(room)))  # oldest first
    slots = [start + timedelta(seconds=i / rps) if rps else now for i in range(len(ids))]
    got = await _lease_each(session, ids, slots, worker, now, lease)
    if rps and got:
        row.next_slot = start + timedelta(seconds=len(got) / rps)
    return got


async def _lease_each(
    session: AsyncSession,
    ids: list[int],
    slots: list[datetime],
    worker: str,
    now: datetime,
    lease: timedelta,
) -> list[Job]:
    got = []
    for job_id, slot in zip(ids, slots, strict=True):
        stmt = (
            update(Job)
            .where(Job.id == job_id, claimable(now))  # still due: nobody else took it
            .values(run_after=slot, **_leased(worker, now, lease))
            .returning(Job)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        job = (await session.scalars(stmt)).one_or_none()
        if job is not None:
            got.append(job)
    return got


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base·2^(n-1))]."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return random.uniform(min(base / 2, ceiling), ceiling)


async def finish(
    session: AsyncSession,
    job: Job,
    *,
    worker: str,
    now: datetime,
    error: str | None = None,
    retry_in: float | None = None,
    refund: bool = False,
) -> bool:
    """Record a job's outcome, only if `worker` still holds it; False when the lease was lost.

    No error → done. An error with `retry_in` → pending again (`refund`: the call was told to
    wait, which spends no attempt); without → dead, error kept.
    """
    values: dict[str, Any]
    if error is None:
        values = {"status": JobStatus.done, "finished_at": now, "last_error": None}
    elif retry_in is not None:
        values = {
            "status": JobStatus.pending,
            "run_after": now + timedelta(seconds=retry_in),
            "failing_since": func.coalesce(Job.failing_since, now),
        }
        if refund:
            values["attempts"] = Job.attempts - 1
    else:
        values = {"status": JobStatus.dead, "finished_at": now}
    if error is not None:
        values["last_error"] = error[:4000]
    stmt = (
        update(Job)
        .where(Job.id == job.id, Job.locked_by == worker, Job.status == JobStatus.running)
        .values(locked_by=None, locked_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return result.rowcount == 1


def _revived(now: datetime) -> dict[str, Any]:
    """A dead job made pending with fresh attempts and a retry budget that starts now."""
    return {
        "status": JobStatus.pending,
        "attempts": 0,
        "run_after": now,
        "finished_at": None,
        "failing_since": now,
    }


async def retry_dead(session: AsyncSession, job_id: int, *, now: datetime) -> Job | None:
    """Give a dead job a fresh set of attempts; None if it is not dead."""
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.dead)
        .values(**_revived(now))
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def retry_dead_in_lane(session: AsyncSession, lane: str, *, now: datetime) -> int:
    """Revive every dead job of a lane; the count. A job whose dedupe key another active (or
    newer dead) job holds stays dead: running both would do the work twice."""
    other = aliased(Job)
    taken = (
        select(other.id)
        .where(
            other.dedupe_key == Job.dedupe_key,
            other.id != Job.id,
            or_(
                other.status.in_([JobStatus.pending, JobStatus.running]),
                and_(other.status == JobStatus.dead, other.lane == lane, other.id > Job.id),
            ),
        )
        .exists()
    )
    stmt = (
        update(Job)
        .where(Job.lane == lane, Job.status == JobStatus.dead, ~taken)
        .values(**_revived(now))
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount


def _starting_with(column: Any, prefix: str, session: AsyncSession) -> ColumnElement[bool]:
    """The keys from `prefix` up to the next prefix, compared byte by byte: what the index
    ix_jobs_pending_dedupe_key can find, with the prefix a bound parameter. (A LIKE alone
    scanned every job: its prefix is unknown when PostgreSQL plans a prepared statement, and
    only a C collation orders keys as LIKE matches them.)"""
    if not prefix:
        return true()
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    if session.get_bind().dialect.name == "postgresql":
        return and_(column.op("~>=~")(prefix), column.op("~<~")(upper))
    return and_(column >= prefix, column < upper)  # SQLite compares text byte by byte


async def cancel_pending(
    session: AsyncSession, *, name: str, dedupe_prefix: str, now: datetime, reason: str
) -> int:
    """Close the pending `name` jobs whose dedupe key starts with `dedupe_prefix`; the count.

    They end as done with `reason` as last_error (a running job is left to finish), which frees
    their dedupe keys for a newer job. The prefix is matched literally (`%` and `_` escaped).
    """
    stmt = (
        update(Job)
        .where(
            Job.name == name,
            Job.status == JobStatus.pending,
            _starting_with(Job.dedupe_key, dedupe_prefix, session),
            Job.dedupe_key.startswith(dedupe_prefix, autoescape=True),
        )
        .values(status=JobStatus.done, finished_at=now, last_error=reason[:4000])
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return result.rowcount
