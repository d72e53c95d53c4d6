"""Sending feedback e-mails exactly once: claim the send on the row, then talk to SMTP.

The claim is a conditional UPDATE in the job's transaction (sent_at IS NULL, reminded_at IS
NULL, resend_count = n-1). Its row lock makes a second worker holding a duplicate job wait
until the first commits, then its condition no longer matches and it sends nothing. A failed
send raises, the worker rolls back, and the claim is undone for the retry."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback import email, i18n, outbox, rules
from app.feedback.models import FeedbackRequest, RequestStatus
from app.feedback.scales import SCALES
from app.feedback.schemas import SendEmail
from app.feedback.service import email_key, is_opted_out, links_for, page_url
from app.jobs.registry import TransientError
from app.tickets.models import Ticket

log = logging.getLogger("xpulse.feedback")


def _claim(payload: SendEmail, now: datetime):
    r = FeedbackRequest
    stmt = update(r).where(r.id == payload.request_id, r.channel == "email", r.expires_at > now)
    if payload.kind == "initial":
        stmt = stmt.where(r.status == RequestStatus.pending, r.sent_at.is_(None)).values(
            status=RequestStatus.sent, sent_at=now, updated_at=now
        )
    elif payload.kind == "reminder":
        stmt = stmt.where(
            r.status == RequestStatus.sent, r.reminded_at.is_(None), r.responded_at.is_(None)
        ).values(reminded_at=now, updated_at=now)
    else:
        number = payload.resend_number or 1
        stmt = stmt.where(
            r.status.in_((RequestStatus.pending, RequestStatus.sent)),
            r.resend_count == number - 1,
        ).values(status=RequestStatus.sent, sent_at=now, resend_count=number, updated_at=now)
    return stmt.execution_options(synchronize_session=False)


async def deliver(
    session: AsyncSession,
    payload: SendEmail,
    *,
    settings: Settings,
    now: datetime,
    last_attempt: bool,
) -> bool:
    """Send the mail `payload` names unless it was sent already; True when a mail went out."""
    claimed = await session.execute(_claim(payload, now))
    if claimed.rowcount != 1:
        return False  # sent, answered, expired or cancelled meanwhile: nothing to do
    request = await session.get(FeedbackRequest, payload.request_id, populate_existing=True)
    assert request is not None
    if await _opted_out(session, request, settings):
        if payload.kind == "initial":
            await _set_status(session, request, RequestStatus.suppressed, "opted_out", now)
        return False  # a reminder or resend keeps its claim: never asked again
    ticket = await session.get(Ticket, request.ticket_id)
    assert ticket is not None and request.recipient_email
    locale = request.locale or rules.normalise_locale(settings.feedback.default_locale) or "en"
    content = email.MailContent(
        kind=payload.kind,
        locale=locale,
        to=request.recipient_email,
        name=ticket.requester_name,
        number=ticket.number,
        title=ticket.title or "",
        scale=SCALES[request.scale],
        links=links_for(request, settings),
        trap_url=page_url(request, settings, "/go"),
        opt_out_url=page_url(request, settings, "/opt-out"),
        closes=i18n.format_date(locale, request.expires_at),
        request_id=str(request.id),
    )
    message = email.build_message(content, settings.smtp)
    if outbox.enabled(settings):  # development without an SMTP server: see /dev/outbox
        outbox.save(message, settings, now=now)
        return True
    try:
        await email.send(message, settings.smtp)
    except email.SendFailed as exc:
        if not (exc.permanent or last_attempt):
            raise TransientError(str(exc)) from exc
        log.warning("feedback mail gave up", extra={"request_id": str(request.id)})
        if payload.kind == "initial":
            await _set_status(session, request, RequestStatus.failed, str(exc)[:2000], now)
        # A reminder or resend keeps its claim: the periodic tick must not re-enqueue it.
        return False
    return True


async def _opted_out(session: AsyncSession, request: FeedbackRequest, settings: Settings) -> bool:
    keys = {request.requester_key}
    if request.recipient_email:
        keys.add(email_key(request.recipient_email))
    for key in keys:
        if key is not None and await is_opted_out(session, key, settings):
            return True
    return False


async def _set_status(
    session: AsyncSession, request: FeedbackRequest, status: str, reason: str, now: datetime
) -> None:
    """Undo the claim and record why nothing went out; this transaction commits it."""
    await session.execute(
        update(FeedbackRequest)
        .where(FeedbackRequest.id == request.id)
        .values(status=status, sent_at=None, status_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
