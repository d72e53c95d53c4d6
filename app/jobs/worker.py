"""Run claimed jobs: each handler in its own transaction, finished under the worker's lease."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.config import Settings
from app.jobs import lanes, queue
from app.jobs.models import Job
from app.jobs.registry import HANDLERS, JobContext, PermanentError, TransientError

log = logging.getLogger("xpulse.jobs")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        name: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.http = http
        self.settings = settings
        self.name = name or worker_name()

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch and run it; the number of jobs claimed."""
        now = now or utcnow()
        async with self.sessionmaker() as session:
            jobs = await queue.claim(
                session,
                worker=self.name,
                now=now,
                lease=timedelta(seconds=self.settings.jobs.lease_seconds),
                limit=self.settings.jobs.batch_size,
                window=self.settings.jobs.tick_seconds,
            )
            await session.commit()  # the lease protects the jobs from here, not a row lock
        await asyncio.gather(*(self._run(job, now) for job in jobs))
        return len(jobs)

    async def drain(self, now: datetime | None = None, *, max_batches: int = 100) -> int:
        """Run batches until none is due (tests and the ticker)."""
        total = 0
        for _ in range(max_batches):
            count = await self.run_once(now)
            total += count
            if count == 0:
                break
        return total

    async def _run(self, job: Job, now: datetime) -> None:
        if job.lane and job.run_after > now:  # its lane's pace: start at the job's slot
            await asyncio.sleep((job.run_after - now).total_seconds())
            now = job.run_after
        registered = HANDLERS.get(job.name)
        error, outcome, retry_after = "", "error", None
        async with self.sessionmaker() as session:
            try:
                if registered is None:
                    raise PermanentError(f"no handler registered for job {job.name!r}")
                try:
                    payload = registered.payload.model_validate(job.payload)
                except ValidationError as exc:
                    raise PermanentError(f"invalid payload: {exc}") from exc
                ctx = JobContext(session, self.http, self.settings, now, job.attempts, job.id)
                await registered.func(ctx, payload)
                if job.lane:
                    await lanes.succeeded(session, job.lane)
                if await queue.finish(session, job, worker=self.name, now=now):
                    await session.commit()
                    return
                # Lease lost: another worker has the job now; keep nothing of this run.
                await session.rollback()
                log.warning("job lease lost", extra={"job_id": job.id, "job": job.name})
                return
            except PermanentError as exc:
                error, outcome = f"permanent: {exc}", "refused"
            except TransientError as exc:
                error, outcome, retry_after = f"transient: {exc}", "transient", exc.retry_after
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            await session.rollback()
        # Retry-After counts from when the failure happened, not from when the batch was claimed.
        failed_at = max(now, utcnow())
        async with self.sessionmaker() as session:
            retry_in = await self._retry_in(session, job, outcome, error, retry_after, failed_at)
            log.warning(
                "job failed",
                extra={"job_id": job.id, "job": job.name, "error": error, "retry_in": retry_in},
            )
            await queue.finish(
                session,
                job,
                worker=self.name,
                now=failed_at,
                error=error,
                retry_in=retry_in,
                refund=retry_after is not None,
            )
            await session.commit()

    async def _retry_in(
        self,
        session: AsyncSession,
        job: Job,
        outcome: str,
        error: str,
        retry_after: float | None,
        failed_at: datetime,
    ) -> float | None:
        """Seconds until the next try, or None: the job is dead.

        A refusal ends the job (and shows the system is up). A job without a lane has its
        attempt count; a lane's job has the time budget from its first failure, and its
        transient failures count against the lane, which may pause all its jobs."""
        if outcome == "refused":
            if job.lane:
                await lanes.succeeded(session, job.lane)
            return None
        own = retry_after if retry_after is not None else self._backoff(job)
        if not job.lane:
            registered = HANDLERS.get(job.name)
            max_attempts = (registered.max_attempts if registered else None) or job.max_attempts
            return None if job.attempts >= max_attempts else own
        cfg = self.settings.jobs
        budget = timedelta(hours=cfg.retry_budget_hours)
        since = job.failing_since or failed_at
        if outcome == "transient":  # the system failed, not our code: it counts for the lane
            lane = await lanes.failed(
                session,
                job.lane,
                now=failed_at,
                error=error,
                retry_after=retry_after,
                delay=self._probe_delay,
                fresh=job.failing_since is None,
            )
            if lane is not None:
                await lanes.expire_waiting(session, lane, now=failed_at, budget=budget)
                if lane.paused_until and lane.paused_until > failed_at:
                    own = (lane.paused_until - failed_at).total_seconds()  # due at the next probe
                if job.failing_since is None and lane.failing_since:
                    # A job that waited out the outage counts it, as the waiting ones do.
                    since = max(job.created_at, min(lane.failing_since, failed_at))
        if failed_at - since >= budget:
            return None
        return own

    def _backoff(self, job: Job) -> float:
        cfg = self.settings.jobs
        return queue.backoff(
            job.attempts, base=cfg.backoff_base_seconds, cap=cfg.backoff_max_seconds
        )

    def _probe_delay(self, failures: int) -> float:
        cfg = self.settings.jobs
        cap = min(cfg.backoff_max_seconds, cfg.probe_max_seconds)
        return queue.backoff(failures, base=cfg.backoff_base_seconds, cap=cap)
