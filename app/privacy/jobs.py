"""The retention job: every replica's periodic tick enqueues it when due (one at a time, by its
dedupe key); a worker claims it and clears in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.jobs import queue
from app.jobs.registry import JobContext, handler, periodic
from app.privacy import retention

RUN_EVERY = timedelta(hours=1)


class RetentionRun(BaseModel):
    at: datetime


@handler("privacy.apply_retention", payload=RetentionRun, max_attempts=3)
async def apply_retention(ctx: JobContext, payload: RetentionRun) -> None:
    await retention.apply(ctx.session, ctx.settings.retention, ctx.now)


@periodic("privacy.enqueue_retention")
async def enqueue_retention(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Enqueue a retention run when one is due; keep this process's /metrics current."""
    await retention.refresh_metrics(session)
    if await retention.due(session, now, RUN_EVERY):
        await queue.enqueue(
            session,
            "privacy.apply_retention",
            RetentionRun(at=now),
            dedupe_key="privacy:retention",
            run_after=now,
        )
