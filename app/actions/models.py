"""Alert rules and what they fired, follow-ups, digest subscriptions and their sends."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, Timestamps
from app.secrets_box import EncryptedActions


class Condition(StrEnum):
    unhappy = "unhappy"  # the answer's band is unhappy
    score_at_most = "score_at_most"  # score <= threshold (on the answer's own scale)
    lost_minutes_at_least = "lost_minutes_at_least"  # lost minutes >= threshold
    factor = "factor"  # the answer picked `factor`
    xla_at_risk = "xla_at_risk"  # an XLA's current period is at risk or breached
    xla_breached = "xla_breached"


XLA_CONDITIONS = frozenset({Condition.xla_at_risk, Condition.xla_breached})


class AlertRule(Timestamps, Base):
    __tablename__ = "alert_rules"

    id: Mapped[UUIDPK]
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Scope: null fields match every ticket.
    connector_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="CASCADE")
    )
    service: Mapped[str | None] = mapped_column(String(255))
    assignment_group: Mapped[str | None] = mapped_column(String(255))
    condition: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[int | None]
    factor: Mapped[str | None] = mapped_column(String(32))
    xla_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("xla_targets.id", ondelete="CASCADE")
    )
    # {"email": [addresses], "chat": [{"url", "format"}], "ticket_note": bool}; each chat URL
    # is stored encrypted (app/secrets_box.py): whoever has it can post to the channel.
    actions: Mapped[dict[str, Any]] = mapped_column(EncryptedActions, default=dict)


class AlertFiring(Base):
    """One rule matched one answer version (or one XLA period status): the row that makes
    replicas and retries act once, whatever the jobs table has forgotten."""

    __tablename__ = "alert_firings"

    id: Mapped[UUIDPK]
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    response_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE")
    )
    xla_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("xla_targets.id", ondelete="CASCADE")
    )
    fired_at: Mapped[datetime]


class Watermark(Base):
    """How far the alert evaluation has read (responses by (updated_at, id)); the row lock
    lets one replica evaluate at a time."""

    __tablename__ = "action_watermarks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    updated_at: Mapped[datetime | None]
    last_id: Mapped[uuid.UUID | None]
    checked_at: Mapped[datetime | None]


class FollowupStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    closed = "closed"


class Followup(Timestamps, Base):
    """An unhappy answer that matched a rule, to be acknowledged and closed by a person."""

    __tablename__ = "followups"

    id: Mapped[UUIDPK]
    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    ticket_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default=FollowupStatus.open)
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    closed_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_followups_ticket_id", "ticket_id"),
        Index("ix_followups_status_created_at", "status", "created_at"),
    )


class Frequency(StrEnum):
    weekly = "weekly"
    monthly = "monthly"


class DigestScope(StrEnum):
    all = "all"
    service = "service"
    group = "group"


class Digest(Timestamps, Base):
    __tablename__ = "digests"

    id: Mapped[UUIDPK]
    name: Mapped[str] = mapped_column(String(200))
    recipients: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"to": [addresses]}
    frequency: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16), default=DigestScope.all)
    scope_value: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")


class DigestSend(Base):
    """One digest for one period: inserted once (whichever replica gets there first), marked
    sent by the job that mailed it, so a retry or a second worker sends nothing twice."""

    __tablename__ = "digest_sends"

    digest_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
