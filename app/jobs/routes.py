"""/api/v1/jobs: inspect the queue, list dead jobs and retry them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.auth.deps import AdminKey, ReadKey
from app.clock import utcnow
from app.db import SessionDep
from app.errors import Conflict, NotFound
from app.jobs import queue
from app.jobs.models import Job, JobStatus
from app.pagination import Page, paginate

router = APIRouter(prefix="/jobs", tags=["jobs"])
# Job ids are 64-bit: a larger number is a 422 naming the parameter, not a database error.
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    status: JobStatus
    payload: dict[str, Any]
    dedupe_key: str | None
    attempts: int
    max_attempts: int
    run_after: datetime
    last_error: str | None
    lane: str | None = Field(description="`connector:<id>` for the jobs that call its ITSM")
    failing_since: datetime | None = Field(description="Start of the job's retry budget")
    created_at: datetime
    finished_at: datetime | None


@router.get("", response_model=Page[JobRead])
async def list_jobs(
    session: SessionDep,
    _: ReadKey,
    status: JobStatus | None = None,
    name: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[JobRead]:
    """List jobs, newest first; `status=dead` lists the ones that gave up."""
    stmt = select(Job)
    if status:
        stmt = stmt.where(Job.status == status)
    if name:
        stmt = stmt.where(Job.name == name)
    rows, next_cursor = await paginate(
        session, stmt, time_col=Job.created_at, id_col=Job.id, cursor=cursor, limit=limit
    )
    return Page[JobRead](items=[JobRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobRead)
async def get_job(job_id: JobId, session: SessionDep, _: ReadKey) -> JobRead:
    """Get one job with its last error."""
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}")
    return JobRead.model_validate(job)


@router.post("/{job_id}/retry", response_model=JobRead)
async def retry_job(job_id: JobId, session: SessionDep, key: AdminKey) -> JobRead:
    """Run a dead job again with a fresh set of attempts."""
    try:
        async with session.begin_nested():
            job = await queue.retry_dead(session, job_id, now=utcnow())
    except IntegrityError as exc:
        raise Conflict("An active job with the same dedupe key exists") from exc
    if job is None:
        raise NotFound(f"No dead job {job_id}")
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action="job.retry",
        target=f"job:{job_id}",
        detail={"name": job.name},
        now=utcnow(),
    )
    return JobRead.model_validate(job)
