"""Enqueue, claim, finish: the whole queue protocol on the `jobs` table."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.db import insert_ignore
from app.jobs.models import Job, JobStatus


async def enqueue(
    session: AsyncSession,
    name: str,
    payload: BaseModel,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 8,
) -> int | None:
    """Add a job in the caller's transaction; None when an active job has the same dedupe key."""
    return await insert_ignore(
        session,
        Job,
        name=name,
        payload=payload.model_dump(mode="json"),
        dedupe_key=dedupe_key,
        run_after=run_after or utcnow(),
        max_attempts=max_attempts,
        status=JobStatus.pending,
    )


async def claim(
    session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int = 10
) -> list[Job]:
    """Lease up to `limit` due jobs to `worker`; SKIP LOCKED lets replicas claim side by side."""
    claimable = or_(
        and_(Job.status == JobStatus.pending, Job.run_after <= now),
        and_(Job.status == JobStatus.running, Job.locked_until < now),  # its worker died
    )
    picked = (
        select(Job.id)
        .where(claimable)
        .order_by(Job.run_after, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        # MATERIALIZED: evaluate the LIMIT once; Postgres could otherwise re-run the subquery.
        .cte("picked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        update(Job)
        .where(Job.id == picked.c.id)
        .values(
            status=JobStatus.running,
            locked_by=worker,
            locked_until=now + lease,
            attempts=Job.attempts + 1,
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


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
) -> bool:
    """Record a job's outcome, only if `worker` still holds it; False when the lease was lost.

    No error → done. An error with `retry_in` → pending again; without → dead, error kept.
    """
    if error is None:
        values = {"status": JobStatus.done, "finished_at": now, "last_error": None}
    elif retry_in is not None:
        values = {"status": JobStatus.pending, "run_after": now + timedelta(seconds=retry_in)}
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


async def retry_dead(session: AsyncSession, job_id: int, *, now: datetime) -> Job | None:
    """Give a dead job a fresh set of attempts; None if it is not dead."""
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.dead)
        .values(status=JobStatus.pending, attempts=0, run_after=now, finished_at=None)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


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
            Job.dedupe_key.startswith(dedupe_prefix, autoescape=True),
        )
        .values(status=JobStatus.done, finished_at=now, last_error=reason[:4000])
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return result.rowcount
