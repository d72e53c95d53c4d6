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
from app.jobs import queue
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
        registered = HANDLERS.get(job.name)
        error: str | None = None
        retry_in: float | None = None
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
                if await queue.finish(session, job, worker=self.name, now=now):
                    await session.commit()
                    return
                # Lease lost: another worker has the job now; keep nothing of this run.
                await session.rollback()
                log.warning("job lease lost", extra={"job_id": job.id, "job": job.name})
                return
            except PermanentError as exc:
                error = f"permanent: {exc}"
            except TransientError as exc:
                error = f"transient: {exc}"
                retry_in = exc.retry_after
                if retry_in is None:
                    retry_in = self._backoff(job)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                retry_in = self._backoff(job)
            await session.rollback()
        max_attempts = (registered.max_attempts if registered else None) or job.max_attempts
        if job.attempts >= max_attempts:
            retry_in = None
        log.warning(
            "job failed",
            extra={"job_id": job.id, "job": job.name, "error": error, "retry_in": retry_in},
        )
        # Retry-After counts from when the failure happened, not from when the batch was claimed.
        failed_at = max(now, utcnow())
        async with self.sessionmaker() as session:
            await queue.finish(
                session, job, worker=self.name, now=failed_at, error=error, retry_in=retry_in
            )
            await session.commit()

    def _backoff(self, job: Job) -> float:
        cfg = self.settings.jobs
        return queue.backoff(
            job.attempts, base=cfg.backoff_base_seconds, cap=cfg.backoff_max_seconds
        )
