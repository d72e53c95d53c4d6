from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, BigIntPK, Timestamps


class RequestStatus(StrEnum):
    pending = "pending"  # created, delivery job queued
    sent = "sent"
    responded = "responded"
    expired = "expired"
    suppressed = "suppressed"  # never sent: fatigue, sampling, opt-out, no contact …
    failed = "failed"  # delivery gave up
    cancelled = "cancelled"


class FeedbackRequest(Timestamps, Base):
    __tablename__ = "feedback_requests"

    id: Mapped[UUIDPK]
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)  # connector+ticket+cycle
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; never the token
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.pending)
    status_reason: Mapped[str | None] = mapped_column(Text)  # suppression or failure reason
    channel: Mapped[str] = mapped_column(String(32))
    scale: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(16))
    recipient_email: Mapped[str | None] = mapped_column(String(320))
    requester_key: Mapped[str | None] = mapped_column(String(400))  # for fatigue and opt-out
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    # Resends delivered so far: a resend job carries the number it delivers, so a retried or
    # duplicated job sends once (compare-and-set in the job's transaction).
    resend_count: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        Index("ix_feedback_requests_status_sent_at", "status", "sent_at"),
        Index("ix_feedback_requests_requester_key_created_at", "requester_key", "created_at"),
        Index("ix_feedback_requests_ticket_id", "ticket_id"),
    )


class Response(Timestamps, Base):
    __tablename__ = "responses"

    id: Mapped[UUIDPK]
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_requests.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    score: Mapped[int]
    scale: Mapped[str] = mapped_column(String(32))
    lost_time: Mapped[str | None] = mapped_column(String(16))  # bucket key from docs/scoring.md
    lost_minutes: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))
    # A click judged automated (mail scanner) is kept as evidence but never counted.
    automated: Mapped[bool] = mapped_column(default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answered_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_responses_ticket_id", "ticket_id"),
        # The alert pass reads answers changed after its watermark in this order.
        Index("ix_responses_updated_at_id", "updated_at", "id"),
    )


class ResponseFactor(Base):
    """One chosen factor of a response: a row each, so shares are plain SQL on every backend."""

    __tablename__ = "response_factors"

    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    factor: Mapped[str] = mapped_column(String(32), primary_key=True)
    polarity: Mapped[str] = mapped_column(String(8))  # positive | negative


class OptOutStatus(StrEnum):
    applied = "applied"  # the requester gets no more requests
    automated = "automated"  # a suspected scanner's opt-out: kept as evidence, not applied
    undone = "undone"  # the requester took it back on the same page


class OptOut(Base):
    """The requester's opt-out state, with the evidence of the press that decided it."""

    __tablename__ = "opt_outs"

    requester_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    created_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32), default="link")  # link | list-unsubscribe
    status: Mapped[str] = mapped_column(
        String(16), default=OptOutStatus.applied, server_default="applied"
    )
    evidence: Mapped[dict[str, Any] | None]
    request_id: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime | None]


class OpenKind(StrEnum):
    page = "page"  # GET of a one-click link (?s=)
    head = "head"  # HEAD of any feedback URL: only scanners and link checkers send these
    trap = "trap"  # the hidden link no person can see or click
    opt_out = "optout"  # GET of the opt-out page


class FeedbackOpen(Base):
    """Every fetch of a request's links: the evidence the scanner judgement reads."""

    __tablename__ = "feedback_opens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_requests.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))
    score: Mapped[int | None]
    opened_at: Mapped[datetime]
    user_agent: Mapped[str | None] = mapped_column(String(300))
    client_hash: Mapped[str | None] = mapped_column(String(16))  # truncated hash, never the IP
    scanner_ua: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (Index("ix_feedback_opens_request_id_opened_at", "request_id", "opened_at"),)


class FeedbackClick(Base):
    """One judged click (an answer or an opt-out) and its verdict: the admin's scanner counts."""

    __tablename__ = "feedback_clicks"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feedback_requests.id", ondelete="CASCADE")
    )
    connector_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))  # answer | opt_out | recheck
    at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)  # UTC day of `at`: grouped without dialect functions
    automated: Mapped[bool]
    reasons: Mapped[str] = mapped_column(String(300))  # comma-separated reason codes

    __table_args__ = (
        Index("ix_feedback_clicks_day_connector_id", "day", "connector_id"),
        Index("ix_feedback_clicks_request_id", "request_id"),
    )
