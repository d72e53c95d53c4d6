from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    dead = "dead"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.pending)
    run_after: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Jobs that call one outside system share a lane (`connector:<id>`): paced, and held back
    # together while that system is down (app/jobs/lanes.py). NULL: a job on its own.
    lane: Mapped[str | None] = mapped_column(String(100))
    # Start of a lane job's retry budget: its first transient failure, or an admin's retry.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_jobs_pending_run_after",
            "run_after",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index(
            "ix_jobs_running_locked_until",
            "locked_until",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        Index(
            "uq_jobs_dedupe_key_active",
            "dedupe_key",
            unique=True,
            postgresql_where=text("status IN ('pending', 'running')"),
            sqlite_where=text("status IN ('pending', 'running')"),
        ),
        # A newer answer closes its response's pending write-back, found by its key's prefix
        # (queue.cancel_pending): compared byte by byte, whatever the database's collation.
        Index(
            "ix_jobs_pending_dedupe_key",
            "dedupe_key",
            postgresql_ops={"dedupe_key": "varchar_pattern_ops"},
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_jobs_status_name", "status", "name"),
        # A lane's claim (oldest first), its waiting and dead counts, its retry-dead.
        Index("ix_jobs_lane_status", "lane", "status", "id"),
    )


class LaneState(StrEnum):
    ok = "ok"
    failing = "failing"  # its system keeps failing: one probe at a time, the rest wait


class JobLane(Base):
    """The shared state of one lane: down or not, since when, and when its next call may go."""

    __tablename__ = "job_lanes"

    lane: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=LaneState.ok)
    failures: Mapped[int] = mapped_column(default=0)  # transient failures in a row
    failing_since: Mapped[datetime | None]  # the first failure of the current run
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]  # no claim before this: a Retry-After, the next probe
    probe_until: Mapped[datetime | None]  # a probe runs (its lease): no second one meanwhile
    next_slot: Mapped[datetime | None]  # pacing: the lane's next call may start then
