from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, Timestamps


class Ticket(Timestamps, Base):
    __tablename__ = "tickets"

    id: Mapped[UUIDPK]
    connector_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))  # connector kind: servicenow, jira, generic
    external_id: Mapped[str] = mapped_column(String(255))  # sys_id / issue id: stable across moves
    number: Mapped[str] = mapped_column(String(100))  # INC0000060 / PROJ-12
    title: Mapped[str] = mapped_column(String(1000), default="")
    table: Mapped[str | None] = mapped_column(String(100))  # ServiceNow table, Jira issue type
    url: Mapped[str | None] = mapped_column(String(1000))
    requester_id: Mapped[str | None] = mapped_column(String(255))
    requester_email: Mapped[str | None] = mapped_column(String(320))
    requester_name: Mapped[str | None] = mapped_column(String(255))
    requester_locale: Mapped[str | None] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(255))
    assignment_group: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))  # how the ticket was raised
    opened_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    sla_met: Mapped[bool | None]
    resolution_cycle: Mapped[str | None] = mapped_column(String(255))  # the latest cycle's key
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("connector_id", "external_id"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        Index("ix_tickets_requester_email", "requester_email"),
    )
