"""Lanes: the jobs that call one outside system, paced together and held back together while
that system is down.

A transient failure of a lane's job counts against the lane; after FAILING_AFTER in a row the
lane is `failing`. Its jobs then wait (the claim skips them) until `paused_until`, when one of
them is claimed as the probe and `probe_until` holds the end of the probe's lease, so no
replica claims a second one. Any answer to the probe (success, or a refusal: the system is up)
makes the lane `ok` again and its backlog drains, oldest first, spaced 1/rps apart by
`next_slot`; a failed probe sets the next probe time with backoff capped at
`jobs.probe_max_seconds`. A `Retry-After` pauses the whole lane for as long as it says.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore
from app.jobs.models import Job, JobLane, JobStatus, LaneState
from app.jobs.registry import LANE_KINDS, LaneInfo

FAILING_AFTER = 3  # transient failures in a row before the whole lane counts as down


def connector_lane(connector_id: uuid.UUID) -> str:
    """The lane of the jobs that call one connector's ITSM (named by the connectors domain's
    registered lane kind, `connector`)."""
    return f"connector:{connector_id}"


# Per database: lanes whose row was found committed. Lane rows are never deleted, so such a lane
# needs no insert again (a row this transaction inserted is not known until it commits).
_known: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()


async def ensure(session: AsyncSession, lane: str) -> None:
    """Create the lane's row if it is new (in the enqueuing transaction)."""
    known = _known.setdefault(session.get_bind(), set())
    if lane in known:
        return
    if await insert_ignore(session, JobLane, lane=lane, state=LaneState.ok, failures=0) is None:
        known.add(lane)


async def describe(session: AsyncSession, lanes: list[str] | None) -> dict[str, LaneInfo]:
    """Name and pace of each lane from its registered kind (None: every lane of every kind)."""
    found: dict[str, LaneInfo] = {}
    for prefix, describe_kind in LANE_KINDS.items():
        keys = None if lanes is None else [k for k in lanes if k.startswith(prefix + ":")]
        if keys != []:
            found.update(await describe_kind(session, keys))
    return found


async def succeeded(session: AsyncSession, lane: str) -> None:
    """The system answered: the lane is ok (a no-op write when it already was)."""
    await session.execute(
        update(JobLane)
        .where(
            JobLane.lane == lane,
            (JobLane.state != LaneState.ok)
            | (JobLane.failures > 0)
            | JobLane.failing_since.is_not(None)
            | JobLane.probe_until.is_not(None),
        )
        .values(
            state=LaneState.ok,
            failures=0,
            failing_since=None,
            paused_until=None,
            probe_until=None,
        )
        .execution_options(synchronize_session=False)
    )


async def failed(
    session: AsyncSession,
    lane: str,
    *,
    now: datetime,
    error: str,
    retry_after: float | None,
    delay: Callable[[int], float],
    fresh: bool,
) -> JobLane | None:
    """Record a transient failure; when the lane is (now) failing or told to wait, pause it for
    `retry_after`, else `delay(failures in a row)` (the next probe). The lane as it now is.

    It counts towards `failing` when the job had not failed before (`fresh`) or is the probe:
    a record the system keeps rejecting while others pass is that job's trouble, not a sign
    that the system is down."""
    # One UPDATE first: it takes the row (PostgreSQL) or the write lock (SQLite) before reading.
    stmt = (
        update(JobLane)
        .where(JobLane.lane == lane)
        .values(last_error=error[:4000], last_error_at=now, probe_until=None)
        .returning(JobLane)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        return None
    if fresh or row.state == LaneState.failing:
        row.failures += 1
        row.failing_since = row.failing_since or now
    if row.failures >= FAILING_AFTER:
        row.state = LaneState.failing
    wait = retry_after if retry_after is not None else delay(row.failures)
    if row.state == LaneState.failing or retry_after is not None:
        until = now + timedelta(seconds=wait)
        # A longer pause already set (a Retry-After from another call) stands.
        row.paused_until = max(until, row.paused_until or until)
    await session.flush()
    return row


async def expire_waiting(
    session: AsyncSession, lane: JobLane, *, now: datetime, budget: timedelta
) -> int:
    """End the waiting jobs of a lane down longer than the budget whose own budget (from their
    first failure, else their creation) is spent too; the count."""
    cutoff = now - budget
    if lane.state != LaneState.failing or lane.failing_since is None:
        return 0
    if lane.failing_since > cutoff:
        return 0
    hours = budget.total_seconds() / 3600
    reason = f"retry budget of {hours:g} h spent while failing: {lane.last_error or ''}"
    result = await session.execute(
        update(Job)
        .where(
            Job.lane == lane.lane,
            Job.status == JobStatus.pending,
            func.coalesce(Job.failing_since, Job.created_at) <= cutoff,
        )
        .values(status=JobStatus.dead, finished_at=now, last_error=reason[:4000])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@dataclass(frozen=True)
class LaneStatus:
    lane: str
    state: LaneState
    failing_since: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    jobs_waiting: int
    dead_jobs: int


async def states(session: AsyncSession, lanes: list[str] | None = None) -> dict[str, LaneStatus]:
    """Each lane's state with its waiting (pending or running) and dead job counts."""
    rows = select(JobLane)
    counts = (
        select(Job.lane, Job.status, func.count())
        .where(Job.lane.is_not(None), Job.status != JobStatus.done)
        .group_by(Job.lane, Job.status)
    )
    if lanes is not None:
        rows = rows.where(JobLane.lane.in_(lanes))
        counts = counts.where(Job.lane.in_(lanes))
    tally: dict[tuple[str, str], int] = {
        (lane, status): n for lane, status, n in (await session.execute(counts)).all()
    }
    found = {}
    for row in (await session.scalars(rows)).all():
        waiting = tally.get((row.lane, JobStatus.pending), 0)
        waiting += tally.get((row.lane, JobStatus.running), 0)
        found[row.lane] = LaneStatus(
            lane=row.lane,
            state=LaneState(row.state),
            failing_since=row.failing_since,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            jobs_waiting=waiting,
            dead_jobs=tally.get((row.lane, JobStatus.dead), 0),
        )
    return found
