from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK


class AuditEvent(Base):
    """One admin action. `detail` names what changed, never a secret or a message body."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(300))  # "key:<prefix>" or "user:<subject>"
    action: Mapped[str] = mapped_column(String(100))  # "<domain>.<verb>": "connector.create"
    target: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_audit_events_at_id", "at", "id"),
        Index("ix_audit_events_action_at", "action", "at"),
    )
