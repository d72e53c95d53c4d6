"""Feedback requests: create (one per ticket resolution cycle), deliver, and links."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import insert_ignore
from app.feedback.models import FeedbackRequest, RequestStatus
from app.feedback.scales import SCALES
from app.feedback.tokens import token_for, token_hash
from app.tickets.models import Ticket


@dataclass
class RequestOutcome:
    request: FeedbackRequest
    links: dict[str, str] = field(default_factory=dict)  # score -> one-click URL; {} if suppressed
    created: bool = True  # False when this resolution cycle already had its request
    needs_contact: bool = False  # e-mail channel, no address yet: the caller enqueues a look-up


def links_for(request: FeedbackRequest, settings: Settings) -> dict[str, str]:
    token = token_for(request.id, settings.secret_key.get_secret_value())
    base = settings.public_url.rstrip("/")
    return {str(score): f"{base}/f/{token}?s={score}" for score in SCALES[request.scale].scores}


def requester_key(ticket: Ticket) -> str | None:
    """Who the requester is, for fatigue and opt-out: their e-mail, else the ITSM user id."""
    if ticket.requester_email:
        return "email:" + ticket.requester_email.strip().lower()
    if ticket.requester_id:
        return f"user:{ticket.connector_id}:{ticket.requester_id}"
    return None


async def create_request(
    session: AsyncSession,
    *,
    ticket: Ticket,
    channel: str,
    sampling_percent: int,
    cycle: str,
    settings: Settings,
    now: datetime,
) -> RequestOutcome:
    """The request for this ticket's resolution `cycle`, created once (idempotent on retries)."""
    dedupe_key = f"{ticket.connector_id}:{ticket.external_id}:{cycle}"
    request_id = uuid.uuid4()
    inserted = await insert_ignore(
        session,
        FeedbackRequest,
        id=request_id,
        ticket_id=ticket.id,
        connector_id=ticket.connector_id,
        dedupe_key=dedupe_key,
        token_hash=token_hash(token_for(request_id, settings.secret_key.get_secret_value())),
        status=RequestStatus.pending,
        channel=channel,
        scale=settings.feedback.scale,
        locale=ticket.requester_locale,
        recipient_email=ticket.requester_email,
        requester_key=requester_key(ticket),
        expires_at=now + timedelta(days=settings.feedback.expiry_days),
        created_at=now,
        updated_at=now,
    )
    request = await session.scalar(
        select(FeedbackRequest).where(FeedbackRequest.dedupe_key == dedupe_key)
    )
    assert request is not None
    needs_contact = channel == "email" and not request.recipient_email
    return RequestOutcome(
        request=request,
        links=links_for(request, settings),
        created=inserted is not None,
        needs_contact=needs_contact and inserted is not None,
    )
