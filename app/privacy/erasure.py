"""Erase one person: their identity, comments, link-fetch evidence, the inbox bodies and job
payloads that name them. Scores, bands, factors and lost time stay (figures stay countable), and
an opt-out survives under a keyed hash (app/feedback/optout_keys.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback import optout_keys
from app.feedback.models import FeedbackOpen, OptOut
from app.feedback.service import email_key
from app.jobs.models import JobStatus
from app.privacy import subject as subjects
from app.privacy.subject import Subject

ERASED = "[erased]"


def redact(value: Any, needles: list[str]) -> Any:
    """`value` (text or a JSON document) with every needle replaced, case-insensitively."""
    if isinstance(value, str):
        low = value.lower()
        for needle in needles:
            start = low.find(needle)
            while start >= 0:
                value = value[:start] + ERASED + value[start + len(needle) :]
                low = value.lower()
                start = low.find(needle, start + len(ERASED))
        return value
    if isinstance(value, dict):
        return {redact(k, needles): redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, needles) for v in value]
    return value


async def erase(
    session: AsyncSession, *, email: str, secret: str, now: datetime
) -> tuple[str, dict[str, int]]:
    """Erase the person; their opt-out reference (a keyed hash, for the audit log) and the rows
    changed per table."""
    person = await subjects.find(session, email)
    needles = person.needles
    changed = {
        "tickets": await _tickets(session, person, needles),
        "feedback_requests": _requests(person, needles, now),
        "responses": _responses(person, now),
        "feedback_opens": await _opens(session, person),
        "opt_outs": await _opt_outs(session, person, secret, now),
        "inbound_events": await _events(session, person, needles),
        "jobs": await _jobs(session, person, needles),
    }
    await session.flush()
    return optout_keys.hashed_key(email_key(person.email), secret), changed


async def _tickets(session: AsyncSession, person: Subject, needles: list[str]) -> int:
    for ticket in person.tickets:
        ticket.requester_email = ticket.requester_name = ticket.requester_id = None
        ticket.title = redact(ticket.title, needles)
        ticket.raw = redact(ticket.raw, needles)
    others = await subjects.tickets_naming(session, person)
    for ticket in others:  # they are named on someone else's ticket (a watcher, the caller)
        ticket.title = redact(ticket.title, needles)
        ticket.raw = redact(ticket.raw, needles)
    return len(person.tickets) + len(others)


def _requests(person: Subject, needles: list[str], now: datetime) -> int:
    for request in person.requests:
        request.recipient_email = None
        request.requester_key = None
        if request.status_reason:
            request.status_reason = redact(request.status_reason, needles)
        request.updated_at = now
    return len(person.requests)


def _responses(person: Subject, now: datetime) -> int:
    for response in person.responses:
        response.comment = None
        response.evidence = {}  # user agent and timings of their clicks; `automated` stays
        response.updated_at = now
    return len(person.responses)


async def _opens(session: AsyncSession, person: Subject) -> int:
    if not person.requests:
        return 0
    result = await session.execute(
        update(FeedbackOpen)
        .where(FeedbackOpen.request_id.in_(list(person.request_ids)))
        .values(user_agent=None, client_hash=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def _opt_outs(session: AsyncSession, person: Subject, secret: str, now: datetime) -> int:
    """Each opt-out moves to the keyed hash of its key, keeping its state, losing its evidence."""
    rows = await subjects.opt_outs(session, person)
    for row in rows:
        hashed = optout_keys.hashed_key(row.requester_key, secret)
        kept = await session.get(OptOut, hashed)
        if kept is None:
            kept = OptOut(requester_key=hashed, created_at=row.created_at, source=row.source)
            session.add(kept)
            kept.status = row.status
        elif row.status == "applied" or kept.status != "applied":
            kept.status = row.status  # the newer choice wins; an applied one is never lost
        kept.evidence = None
        kept.request_id = None
        kept.updated_at = now
        await session.delete(row)
    await session.flush()
    return len(rows)


async def _events(session: AsyncSession, person: Subject, needles: list[str]) -> int:
    events = await subjects.events_naming(session, person)
    for event in events:
        event.body = b""  # nothing left to replay: the delivery was about them
        event.headers = {}
        if event.reason:
            event.reason = redact(event.reason, needles)
    return len(events)


async def _jobs(session: AsyncSession, person: Subject, needles: list[str]) -> int:
    """Jobs naming them go (a pending one would mail or write about someone erased); a running
    one keeps its row with the names redacted, since its worker holds it."""
    jobs = await subjects.jobs_naming(session, person)
    for job in jobs:
        if job.status == JobStatus.running:
            job.payload = redact(job.payload, needles)
            job.last_error = redact(job.last_error, needles) if job.last_error else None
        else:
            await session.delete(job)
    return len(jobs)
