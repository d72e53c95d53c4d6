"""Retention: clear comments, requester identity and raw webhook bodies older than the
XPULSE_RETENTION__* settings, in batches. Scores, factors and lost time are never touched, so
figures do not change. Each kind's last run is kept in `retention_state` for /metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import RetentionSettings
from app.connectors.models import InboundEvent
from app.feedback.models import FeedbackRequest, Response
from app.jobs.models import Job, JobStatus
from app.privacy.models import RetentionState
from app.tickets.models import Ticket

BATCH = 1000
MAX_BATCHES = 20  # per kind and run; a backlog is worked off over the following runs

CLEARED = Gauge(
    "xpulse_retention_cleared_rows", "Rows cleared by retention since install", ["kind"]
)
LAST_CLEARED = Gauge(
    "xpulse_retention_last_cleared_rows", "Rows cleared by the last retention run", ["kind"]
)
LAST_RUN = Gauge(
    "xpulse_retention_last_run_timestamp_seconds", "When retention last ran (Unix time)", ["kind"]
)


async def _batched(session: AsyncSession, table: Any, where: Any, values: dict | None) -> int:
    """UPDATE (or, without values, DELETE) the rows matching `where` a batch at a time (short
    statements, bounded locks)."""
    done = 0
    for _ in range(MAX_BATCHES):
        ids = list((await session.scalars(select(table.id).where(where).limit(BATCH))).all())
        if not ids:
            break
        change = delete(table) if values is None else update(table).values(**values)
        await session.execute(
            change.where(table.id.in_(ids)).execution_options(synchronize_session=False)
        )
        done += len(ids)
        if len(ids) < BATCH:
            break
    return done


async def clear_comments(session: AsyncSession, cutoff: datetime, now: datetime) -> int:
    """Comments, and the finished jobs that carried one (a write-back's payload holds it)."""
    where = and_(Response.comment.is_not(None), Response.answered_at < cutoff)
    comments = await _batched(session, Response, where, {"comment": None, "updated_at": now})
    finished = and_(Job.status.in_((JobStatus.done, JobStatus.dead)), Job.finished_at < cutoff)
    return comments + await _batched(session, Job, finished, None)


async def clear_identities(session: AsyncSession, cutoff: datetime, now: datetime) -> int:
    """The requester's address, name and id on tickets resolved before `cutoff` (or opened, for
    one never resolved), and on their requests. An opt-out is kept: it is their choice."""
    when = func.coalesce(Ticket.resolved_at, Ticket.opened_at, Ticket.created_at)
    held = or_(
        Ticket.requester_email.is_not(None),
        Ticket.requester_name.is_not(None),
        Ticket.requester_id.is_not(None),
    )
    values = {
        "requester_email": None,
        "requester_name": None,
        "requester_id": None,
        "raw": {},
        "updated_at": now,
    }
    tickets = await _batched(session, Ticket, and_(held, when < cutoff), values)
    asked = or_(
        FeedbackRequest.recipient_email.is_not(None), FeedbackRequest.requester_key.is_not(None)
    )
    requests = await _batched(
        session,
        FeedbackRequest,
        and_(asked, FeedbackRequest.created_at < cutoff),
        {"recipient_email": None, "requester_key": None, "updated_at": now},
    )
    return tickets + requests


async def clear_webhook_bodies(session: AsyncSession, cutoff: datetime, now: datetime) -> int:
    where = and_(func.length(InboundEvent.body) > 0, InboundEvent.received_at < cutoff)
    return await _batched(session, InboundEvent, where, {"body": b"", "headers": {}})


KINDS: dict[str, tuple[str, Callable[..., Any]]] = {
    "comments": ("comment_days", clear_comments),
    "identities": ("identity_days", clear_identities),
    "webhook_bodies": ("webhook_body_days", clear_webhook_bodies),
}


async def apply(
    session: AsyncSession, settings: RetentionSettings, now: datetime
) -> dict[str, int]:
    """Clear what is past its retention, kind by kind; rows cleared per kind."""
    cleared = {}
    for kind, (setting, clear) in KINDS.items():
        days = getattr(settings, setting)
        cleared[kind] = await clear(session, now - timedelta(days=days), now) if days else 0
        state = await session.get(RetentionState, kind)
        if state is None:
            state = RetentionState(kind=kind, last_run_at=now, cleared_last=0, cleared_total=0)
            session.add(state)
        state.last_run_at = now
        state.cleared_last = cleared[kind]
        state.cleared_total += cleared[kind]
    await session.flush()
    await refresh_metrics(session)
    return cleared


async def due(session: AsyncSession, now: datetime, every: timedelta) -> bool:
    """A run is due when none ran within `every`, or the last one left a backlog."""
    states = (await session.scalars(select(RetentionState))).all()
    if len(states) < len(KINDS):
        return True
    backlog = any(s.cleared_last >= BATCH * MAX_BATCHES for s in states)
    return backlog or min(s.last_run_at for s in states) <= now - every


async def refresh_metrics(session: AsyncSession) -> None:
    """Copy the shared retention state into this process's gauges (any replica serves
    /metrics; the state is the database's)."""
    for state in (await session.scalars(select(RetentionState))).all():
        CLEARED.labels(state.kind).set(state.cleared_total)
        LAST_CLEARED.labels(state.kind).set(state.cleared_last)
        LAST_RUN.labels(state.kind).set(state.last_run_at.timestamp())
