from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class RetentionState(Base):
    """The retention job's last run per kind, read by /metrics on any replica."""

    __tablename__ = "retention_state"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # comments | identities | …
    last_run_at: Mapped[datetime]
    cleared_last: Mapped[int] = mapped_column(BigInteger)
    cleared_total: Mapped[int] = mapped_column(BigInteger)
