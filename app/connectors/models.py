"""Connector (a configured instance admins manage) and InboundEvent (the webhook inbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, Timestamps
from app.secrets_box import EncryptedAuth, EncryptedText


class Channel(StrEnum):
    email = "email"
    ticket_comment = "ticket_comment"
    none = "none"


class Connector(Timestamps, Base):
    __tablename__ = "connectors"

    id: Mapped[UUIDPK]
    name: Mapped[str] = mapped_column(String(100), unique=True)  # the webhook URL's last segment
    kind: Mapped[str] = mapped_column(String(32))  # a key of connectors.registry
    base_url: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Secrets are stored encrypted (app/secrets_box.py: the column types encrypt on write and
    # decrypt on read, for HMACs and ITSM calls); the API never returns them, logs never print
    # them.
    webhook_secret: Mapped[str] = mapped_column(EncryptedText())
    auth: Mapped[dict[str, Any]] = mapped_column(EncryptedAuth(), default=dict)
    channel: Mapped[str] = mapped_column(String(32), default=Channel.email)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # write-back, tables, sampling
    poll_watermark: Mapped[datetime | None]  # ServiceNow catch-up poll: resolved since this
    poll_enqueued_at: Mapped[datetime | None]  # when the last catch-up poll was queued


class InboundStatus(StrEnum):
    processed = "processed"
    ignored = "ignored"
    failed = "failed"


class InboundEvent(Base):
    __tablename__ = "inbound_events"

    id: Mapped[UUIDPK]
    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)  # why ignored, or the parse error
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    replay_count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("connector_id", "delivery_id"),
        Index("ix_inbound_events_status_received_at", "status", "received_at"),
    )
