"""Feedback requests: create (one per ticket resolution cycle), suppress, deliver, and links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, String, and_, bindparam, case, exists, null, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.config import Settings
from app.errors import Conflict, NotFound
from app.feedback import i18n, optout_keys, rules
from app.feedback.models import FeedbackRequest, OptOut, OptOutStatus, RequestStatus
from app.feedback.scales import SCALES
from app.feedback.schemas import SendEmail
from app.feedback.tokens import token_for, token_hash
from app.jobs import lanes, queue
from app.tickets.events import PostComment
from app.tickets.models import Ticket
from app.tickets.service import ResolvedTicket, ref_of

ACTIVE = (RequestStatus.pending, RequestStatus.sent)
# Statuses that asked the requester something: they count against the fatigue window.
ASKED = (
    RequestStatus.pending,
    RequestStatus.sent,
    RequestStatus.responded,
    RequestStatus.expired,
)


class FeedbackRequestNotFound(NotFound):
    type, title = "feedback-request-not-found", "Feedback request not found"


class RequestNotResendable(Conflict):
    type, title = "feedback-request-not-resendable", "This request cannot be sent again"


@dataclass(frozen=True)
class NewRequest:
    """The request a resolution made, as stored (no ORM object: the webhook path's answer)."""

    id: uuid.UUID
    ticket_id: uuid.UUID
    status: str
    status_reason: str | None
    channel: str
    scale: str
    locale: str | None
    recipient_email: str | None


@dataclass
class RequestOutcome:
    request: NewRequest
    links: dict[str, str] = field(default_factory=dict)  # score -> one-click URL; {} if suppressed
    created: bool = True  # False when this resolution cycle already had its request
    needs_contact: bool = False  # e-mail channel, no address yet: the caller enqueues a look-up


def links_for(request: FeedbackRequest | NewRequest, settings: Settings) -> dict[str, str]:
    token = token_for(request.id, settings.secret_key.get_secret_value())
    base = settings.public_url.rstrip("/")
    return {str(score): f"{base}/f/{token}?s={score}" for score in SCALES[request.scale].scores}


def page_url(request: FeedbackRequest, settings: Settings, suffix: str = "") -> str:
    token = token_for(request.id, settings.secret_key.get_secret_value())
    return f"{settings.public_url.rstrip('/')}/f/{token}{suffix}"


def requester_key(ticket: Ticket | ResolvedTicket) -> str | None:
    """Who the requester is, for fatigue and opt-out: their e-mail, else the ITSM user id."""
    if ticket.requester_email:
        return email_key(ticket.requester_email)
    if ticket.requester_id:
        return f"user:{ticket.connector_id}:{ticket.requester_id}"
    return None


def email_key(email: str) -> str:
    return "email:" + email.strip().lower()


async def get_request(session: AsyncSession, request_id: uuid.UUID) -> FeedbackRequest | None:
    return await session.get(FeedbackRequest, request_id)


# The columns create_request stores and returns, in NewRequest's order after the id.
_RETURNED = (
    "ticket_id",
    "status",
    "status_reason",
    "channel",
    "scale",
    "locale",
    "recipient_email",
)
# Per dialect: the insert below, built once (building it per call cost more than running it).
_CREATES: dict[str, Any] = {}


def _create(dialect: str) -> Any:
    """One statement: the suppression reason decided in the database beside the insert, and
    ON CONFLICT on the resolution cycle's dedupe key, so a repeated delivery inserts nothing.

    The reason, in order: an applied opt-out (under the key or, after an erasure, its keyed
    hash), an earlier request asked within the fatigue window, sampled out."""
    if dialect in _CREATES:
        return _CREATES[dialect]
    table, optouts = FeedbackRequest.__table__, OptOut.__table__
    key = bindparam("requester_key", type_=table.c.requester_key.type)
    since = bindparam("fatigue_since", type_=table.c.created_at.type)
    opted_out = exists().where(
        optouts.c.requester_key.in_([key, bindparam("hashed_key", type_=String)]),
        optouts.c.status == OptOutStatus.applied,
    )
    earlier = aliased(FeedbackRequest)
    fatigued = exists().where(
        earlier.requester_key == key,
        earlier.created_at > since,
        earlier.status.in_([s.value for s in ASKED]),
    )
    reason = case(
        (opted_out, "opted_out"),
        (and_(since.is_not(None), fatigued), "fatigue"),
        (bindparam("sampled_out", type_=Boolean), "sampling"),
        else_=null(),
    ).label("status_reason")
    decided = select(reason).subquery("decided")
    given = [c for c in table.columns if c.key not in ("status", "status_reason")]
    chosen = select(
        *(bindparam(c.key, type_=c.type).label(c.key) for c in given),
        case(
            (decided.c.status_reason.is_not(None), RequestStatus.suppressed.value),
            else_=bindparam("live_status", type_=String),
        ).label("status"),
        decided.c.status_reason,
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).from_select([*(c.key for c in given), "status", "status_reason"], chosen)
    _CREATES[dialect] = stmt.on_conflict_do_nothing(index_elements=[table.c.dedupe_key]).returning(
        table.c.id, *(table.c[k] for k in _RETURNED)
    )
    return _CREATES[dialect]


async def create_request(
    session: AsyncSession,
    *,
    ticket: Ticket | ResolvedTicket,
    channel: str,
    sampling_percent: int,
    cycle: str,
    settings: Settings,
    now: datetime,
) -> RequestOutcome:
    """The request for this ticket's resolution `cycle`, created once (idempotent on retries).

    Suppressed requests (opt-out, fatigue, sampling) are stored with their reason; others get
    their delivery enqueued in the caller's transaction. Requests on the `none` channel are sent
    as they are made: the links travel in the webhook's answer and the API."""
    dedupe_key = f"{ticket.connector_id}:{ticket.external_id}:{cycle}"
    key = requester_key(ticket)
    secret = settings.secret_key.get_secret_value()
    request_id = uuid.uuid4()
    none_channel = channel == "none"
    params = {
        "id": request_id,
        "ticket_id": ticket.id,
        "connector_id": ticket.connector_id,
        "dedupe_key": dedupe_key,
        "token_hash": token_hash(token_for(request_id, secret)),
        "channel": channel,
        "scale": settings.feedback.scale,
        "locale": rules.normalise_locale(ticket.requester_locale),
        "recipient_email": ticket.requester_email,
        "requester_key": key,
        "sent_at": now if none_channel else None,
        "reminded_at": None,
        "expires_at": now + timedelta(days=settings.feedback.expiry_days),
        "responded_at": None,
        "created_at": now,
        "updated_at": now,
        "resend_count": 0,
        # the decision's inputs
        "hashed_key": optout_keys.hashed_key(key, secret) if key else None,
        "fatigue_since": rules.fatigue_since(now, settings.feedback.fatigue_days),
        "sampled_out": not rules.sampled_in(dedupe_key, sampling_percent),
        "live_status": RequestStatus.sent if none_channel else RequestStatus.pending,
    }
    row = (await session.execute(_create(session.get_bind().dialect.name), params)).first()
    if row is None:  # this cycle had its request (a repeated or concurrent delivery)
        existing = await _by_dedupe_key(session, dedupe_key)
        assert existing is not None
        return _outcome(_light(existing), settings, created=False)
    request = NewRequest(*row)
    needs_contact = False
    if request.status == RequestStatus.pending:
        needs_contact = await _start_delivery(session, request, ticket, settings, now)
    return _outcome(request, settings, created=True, needs_contact=needs_contact)


def _light(request: FeedbackRequest) -> NewRequest:
    return NewRequest(request.id, *(getattr(request, k) for k in _RETURNED))


def _outcome(
    request: NewRequest, settings: Settings, *, created: bool, needs_contact: bool = False
) -> RequestOutcome:
    suppressed = request.status == RequestStatus.suppressed
    links = {} if suppressed else links_for(request, settings)
    return RequestOutcome(request, links, created=created, needs_contact=needs_contact)


async def _by_dedupe_key(session: AsyncSession, dedupe_key: str) -> FeedbackRequest | None:
    stmt = select(FeedbackRequest).where(FeedbackRequest.dedupe_key == dedupe_key)
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def is_opted_out(session: AsyncSession, key: str, settings: Settings) -> bool:
    """Only an applied opt-out counts: a suspected scanner's one is evidence, not a choice."""
    return await optout_keys.applied(session, key, secret=settings.secret_key.get_secret_value())


async def _start_delivery(
    session: AsyncSession,
    request: NewRequest,
    ticket: Ticket | ResolvedTicket,
    settings: Settings,
    now: datetime,
) -> bool:
    """Enqueue the channel's delivery; True when an e-mail address must be looked up first."""
    if request.channel == "email":
        if not request.recipient_email:
            return True
        await enqueue_email(session, request, kind="initial", now=now)
    elif request.channel == "ticket_comment":
        await enqueue_comment(session, request, ticket, settings, now=now)
    return False


async def enqueue_email(
    session: AsyncSession,
    request: FeedbackRequest | NewRequest,
    *,
    kind: str,
    now: datetime,
    number: int = 0,
) -> None:
    keys = {
        "initial": f"send_email:{request.id}",
        "reminder": f"reminder:{request.id}:1",
        "resend": f"resend:{request.id}:{number}",
    }
    name = "feedback.send_reminder" if kind == "reminder" else "feedback.send_email"
    payload = SendEmail(request_id=request.id, kind=kind, resend_number=number or None)
    await queue.enqueue(session, name, payload, dedupe_key=keys[kind], run_after=now)


async def enqueue_comment(
    session: AsyncSession,
    request: FeedbackRequest | NewRequest,
    ticket: Ticket | ResolvedTicket,
    settings: Settings,
    *,
    now: datetime,
    dedupe_key: str | None = None,
) -> None:
    links = links_for(request, settings)
    locale = request.locale or rules.normalise_locale(settings.feedback.default_locale) or "en"
    text = i18n.comment_text(locale, ticket.number, ticket.title, links, SCALES[request.scale])
    payload = PostComment(ticket=ref_of(ticket), request_id=request.id, text=text, links=links)
    await queue.enqueue(
        session,
        "connectors.post_comment",
        payload,
        dedupe_key=dedupe_key or f"post_comment:{request.id}",
        run_after=now,
        lane=lanes.connector_lane(ticket.connector_id),
    )


async def _load(session: AsyncSession, request_id: uuid.UUID) -> FeedbackRequest:
    request = await session.get(FeedbackRequest, request_id, populate_existing=True)
    if request is None:
        raise FeedbackRequestNotFound(f"No feedback request {request_id}")
    return request


async def set_recipient(
    session: AsyncSession, *, request_id: uuid.UUID, email: str, settings: Settings, now: datetime
) -> None:
    """Record the looked-up address and enqueue the e-mail (no-op unless still pending)."""
    request = await _load(session, request_id)
    if request.status != RequestStatus.pending:
        return
    request.recipient_email = email
    request.updated_at = now
    if await is_opted_out(session, email_key(email), settings):
        request.status = RequestStatus.suppressed
        request.status_reason = "opted_out"
    else:
        await enqueue_email(session, request, kind="initial", now=now)
    await session.flush()


async def fallback_to_comment(
    session: AsyncSession, *, request_id: uuid.UUID, reason: str, settings: Settings, now: datetime
) -> None:
    """No address: deliver as a ticket comment instead, keeping the reason."""
    request = await _load(session, request_id)
    if request.status != RequestStatus.pending:
        return
    ticket = await session.get(Ticket, request.ticket_id)
    assert ticket is not None
    request.channel = "ticket_comment"
    request.status_reason = reason
    request.updated_at = now
    await enqueue_comment(session, request, ticket, settings, now=now)
    await session.flush()


async def _leave_pending(session: AsyncSession, request_id: uuid.UUID, **values: object) -> bool:
    """Move a pending request to another state; False if it was no longer pending."""
    result = await session.execute(
        update(FeedbackRequest)
        .where(FeedbackRequest.id == request_id, FeedbackRequest.status == RequestStatus.pending)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def mark_delivered(session: AsyncSession, *, request_id: uuid.UUID, now: datetime) -> bool:
    """pending -> sent; False if the request was not pending."""
    return await _leave_pending(
        session, request_id, status=RequestStatus.sent, sent_at=now, updated_at=now
    )


async def suppress(
    session: AsyncSession, *, request_id: uuid.UUID, reason: str, now: datetime
) -> bool:
    """pending -> suppressed with `reason` (e.g. no contact at all); False if not pending."""
    return await _leave_pending(
        session, request_id, status=RequestStatus.suppressed, status_reason=reason, updated_at=now
    )


async def mark_failed(
    session: AsyncSession, *, request_id: uuid.UUID, reason: str, now: datetime
) -> bool:
    """pending -> failed: delivery gave up."""
    return await _leave_pending(
        session,
        request_id,
        status=RequestStatus.failed,
        status_reason=reason[:2000],
        updated_at=now,
    )


async def cancel(session: AsyncSession, *, request_id: uuid.UUID, now: datetime) -> FeedbackRequest:
    request = await _load(session, request_id)
    if request.status not in (*ACTIVE, RequestStatus.failed):
        raise Conflict(f"A {request.status} request cannot be cancelled")
    request.status = RequestStatus.cancelled
    request.status_reason = "cancelled by an administrator"
    request.updated_at = now
    await session.flush()
    return request


async def resend(
    session: AsyncSession, *, request_id: uuid.UUID, settings: Settings, now: datetime
) -> FeedbackRequest:
    """Deliver the same links again (a failed request is retried from scratch)."""
    request = await _load(session, request_id)
    if request.status not in (*ACTIVE, RequestStatus.failed) or request.expires_at <= now:
        raise RequestNotResendable(f"A {request.status} request cannot be sent again")
    if request.status == RequestStatus.failed:
        request.status = RequestStatus.pending
        request.status_reason = None
    request.updated_at = now
    number = request.resend_count + 1
    if request.channel == "email":
        if not request.recipient_email:
            raise RequestNotResendable("The request has no e-mail address yet")
        await enqueue_email(session, request, kind="resend", now=now, number=number)
    elif request.channel == "ticket_comment":
        ticket = await session.get(Ticket, request.ticket_id)
        assert ticket is not None
        # The comment job belongs to connectors; count the resend here so keys stay unique.
        request.resend_count = number
        request.status = RequestStatus.pending  # the comment job posts pending requests only
        key = f"post_comment:{request.id}:resend:{number}"
        await enqueue_comment(session, request, ticket, settings, now=now, dedupe_key=key)
    else:
        raise RequestNotResendable("Requests on the `none` channel are not sent by XPulse")
    await session.flush()
    return request
