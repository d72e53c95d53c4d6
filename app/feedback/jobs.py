"""Job handlers of this domain (registered by name with @handler) and the periodic enqueuers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback import delivery, rules
from app.feedback.models import FeedbackClick, FeedbackOpen, FeedbackRequest, RequestStatus
from app.feedback.schemas import SendEmail, Tick
from app.jobs import queue
from app.jobs.registry import JobContext, handler, periodic

SEND_ATTEMPTS = 6


@handler("feedback.send_email", payload=SendEmail, max_attempts=SEND_ATTEMPTS)
async def send_email(ctx: JobContext, payload: SendEmail) -> None:
    await delivery.deliver(
        ctx.session,
        payload,
        settings=ctx.settings,
        now=ctx.now,
        last_attempt=ctx.attempt >= SEND_ATTEMPTS,
    )


@handler("feedback.send_reminder", payload=SendEmail, max_attempts=SEND_ATTEMPTS)
async def send_reminder(ctx: JobContext, payload: SendEmail) -> None:
    await delivery.deliver(
        ctx.session,
        payload.model_copy(update={"kind": "reminder"}),
        settings=ctx.settings,
        now=ctx.now,
        last_attempt=ctx.attempt >= SEND_ATTEMPTS,
    )


@handler("feedback.expire_requests", payload=Tick)
async def expire_requests(ctx: JobContext, payload: Tick) -> None:
    await expire_due(ctx.session, now=ctx.now)
    await purge_opens(ctx.session, now=ctx.now, days=ctx.settings.feedback.opens_retention_days)


async def purge_opens(session: AsyncSession, *, now: datetime, days: int) -> int:
    """Link fetches only matter while a click can still be judged; keep them (and the judged
    clicks behind the scanner statistics) a while for audits."""
    cutoff = now - timedelta(days=days)
    await session.execute(delete(FeedbackClick).where(FeedbackClick.at < cutoff))
    result = await session.execute(delete(FeedbackOpen).where(FeedbackOpen.opened_at < cutoff))
    return result.rowcount


async def expire_due(session: AsyncSession, *, now: datetime) -> int:
    """Open requests past their expiry become `expired` (the page answers 410 either way)."""
    result = await session.execute(
        update(FeedbackRequest)
        .where(
            FeedbackRequest.status.in_((RequestStatus.pending, RequestStatus.sent)),
            FeedbackRequest.expires_at <= now,
        )
        .values(status=RequestStatus.expired, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@periodic("feedback.enqueue_reminders")
async def enqueue_reminders(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """One reminder per unanswered e-mailed request, `reminder_delay_hours` after sending."""
    due = rules.reminder_due_before(now, settings.feedback.reminder_delay_hours)
    ids = await session.scalars(
        select(FeedbackRequest.id)
        .where(
            FeedbackRequest.status == RequestStatus.sent,
            FeedbackRequest.channel == "email",
            FeedbackRequest.reminded_at.is_(None),
            FeedbackRequest.responded_at.is_(None),
            FeedbackRequest.sent_at <= due,
            FeedbackRequest.expires_at > now,
        )
        .order_by(FeedbackRequest.sent_at)
        .limit(settings.feedback.reminders_per_tick)
    )
    for request_id in ids.all():
        payload = SendEmail(request_id=request_id, kind="reminder")
        await queue.enqueue(
            session,
            "feedback.send_reminder",
            payload,
            dedupe_key=f"reminder:{request_id}:1",
            run_after=now,
        )


@periodic("feedback.enqueue_expiry")
async def enqueue_expiry(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """One expiry sweep job at a time, whichever replica ticks first."""
    await queue.enqueue(
        session,
        "feedback.expire_requests",
        Tick(at=now),
        dedupe_key="feedback:expire",
        run_after=now,
    )
