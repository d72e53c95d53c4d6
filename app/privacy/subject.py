"""Find one person (the data subject) by e-mail: their tickets, requests, responses and
opt-out keys, and the words that name them in stored payloads (inbox bodies, job payloads)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import InboundEvent
from app.feedback.models import FeedbackRequest, OptOut, Response
from app.feedback.service import email_key
from app.jobs.models import Job
from app.tickets.models import Ticket

SCAN_BATCH = 500
# A comment shorter than this ("ok", "thanks") would match strangers' payloads; it is still
# erased from the person's own response.
MIN_COMMENT_NEEDLE = 12
MIN_NAME_NEEDLE = 3


@dataclass
class Subject:
    email: str  # lower-cased
    tickets: list[Ticket] = field(default_factory=list)
    requests: list[FeedbackRequest] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # requester keys (opt-outs, fatigue)
    names: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)

    @property
    def ticket_ids(self) -> set[uuid.UUID]:
        return {t.id for t in self.tickets}

    @property
    def request_ids(self) -> set[uuid.UUID]:
        return {r.id for r in self.requests}

    @property
    def needles(self) -> list[str]:
        """Lower-case words that name the person in free text and payloads."""
        found = {self.email}
        found |= {n.lower() for n in self.names if len(n) >= MIN_NAME_NEEDLE}
        found |= {c.lower() for c in self.comments if len(c) >= MIN_COMMENT_NEEDLE}
        return sorted(found, key=len, reverse=True)

    def names_them(self, text: str) -> bool:
        low = text.lower()
        return any(n in low for n in self.needles)


def normalise(email: str) -> str:
    return email.strip().lower()


async def find(session: AsyncSession, email: str) -> Subject:
    """Everything keyed to the person: tickets by e-mail (case-insensitive) and by the ITSM
    requester id those tickets carry, their requests, responses and requester keys."""
    subject = Subject(email=normalise(email))
    by_email = select(Ticket).where(func.lower(Ticket.requester_email) == subject.email)
    tickets = {t.id: t for t in (await session.scalars(by_email)).all()}
    # The same requester on tickets whose payload hid the e-mail (itsm-contracts.md §1.2).
    pairs = {(t.connector_id, t.requester_id) for t in tickets.values() if t.requester_id}
    if pairs:
        same_id = select(Ticket).where(
            tuple_(Ticket.connector_id, Ticket.requester_id).in_(list(pairs))
        )
        tickets.update({t.id: t for t in (await session.scalars(same_id)).all()})
    subject.tickets = list(tickets.values())
    subject.names = {t.requester_name for t in subject.tickets if t.requester_name}
    subject.keys = {email_key(subject.email)} | {f"user:{c}:{r}" for c, r in pairs}
    conditions = [
        func.lower(FeedbackRequest.recipient_email) == subject.email,
        FeedbackRequest.requester_key.in_(subject.keys),
    ]
    if tickets:
        conditions.append(FeedbackRequest.ticket_id.in_(list(tickets)))
    requests = select(FeedbackRequest).where(or_(*conditions))
    subject.requests = list((await session.scalars(requests)).all())
    if subject.requests:
        stmt = select(Response).where(Response.request_id.in_(list(subject.request_ids)))
        subject.responses = list((await session.scalars(stmt)).all())
    subject.comments = {r.comment for r in subject.responses if r.comment}
    return subject


async def opt_outs(session: AsyncSession, subject: Subject) -> list[OptOut]:
    stmt = select(OptOut).where(OptOut.requester_key.in_(subject.keys))
    return list((await session.scalars(stmt)).all())


def body_text(body: bytes) -> str:
    """A stored body as text, JSON escapes (`\\u00fc`, `\\u0040`) resolved, so a search for
    the person's name or address finds it however the sender encoded it."""
    text = body.decode("utf-8", errors="replace")
    try:
        return text + "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def event_names(subject: Subject, event: InboundEvent) -> bool:
    if event.ticket_id in subject.ticket_ids:
        return True
    haystack = body_text(event.body or b"") + json.dumps(event.headers or {}, ensure_ascii=False)
    return subject.names_them(haystack + (event.reason or ""))


def job_names(subject: Subject, job: Job) -> bool:
    text = json.dumps(job.payload or {}, ensure_ascii=False) + (job.last_error or "")
    if subject.names_them(text):
        return True
    # A job acting on their request (a mail to send, a contact to look up) names them too.
    return any(str(i) in text for i in subject.request_ids | subject.ticket_ids)


async def _scan(session: AsyncSession, stmt: Select[Any], id_col: Any) -> AsyncIterator[Any]:
    """Every row of `stmt` in id order, a batch at a time (keyset, so rows changed while
    scanning are neither skipped nor seen twice)."""
    last = None
    while True:
        page = stmt.order_by(id_col).limit(SCAN_BATCH)
        if last is not None:
            page = page.where(id_col > last)
        rows = list((await session.scalars(page)).all())
        for row in rows:
            yield row
        if len(rows) < SCAN_BATCH:
            return
        last = getattr(rows[-1], id_col.key)


async def events_naming(session: AsyncSession, subject: Subject) -> list[InboundEvent]:
    """Inbox rows whose body, headers or error name the person (a full scan: erasures and
    exports are rare, and a body may name them on a ticket that is not theirs)."""
    found = []
    async for event in _scan(session, select(InboundEvent), InboundEvent.id):
        _keep(session, found, event, event_names(subject, event))
    return found


async def jobs_naming(session: AsyncSession, subject: Subject) -> list[Job]:
    found = []
    async for job in _scan(session, select(Job), Job.id):
        _keep(session, found, job, job_names(subject, job))
    return found


async def tickets_naming(session: AsyncSession, subject: Subject) -> list[Ticket]:
    """Other people's tickets whose title or stored payload names the person."""
    found = []
    mine = subject.ticket_ids
    async for ticket in _scan(session, select(Ticket), Ticket.id):
        if ticket.id in mine:
            continue
        text = ticket.title + json.dumps(ticket.raw or {}, ensure_ascii=False)
        _keep(session, found, ticket, subject.names_them(text))
    return found


def _keep(session: AsyncSession, found: list, row: Any, matches: bool) -> None:
    """Keep a matching row; let the session forget the others (a scan reads every row)."""
    if matches:
        found.append(row)
    elif row in session and not session.is_modified(row):
        session.expunge(row)
