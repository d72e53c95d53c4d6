from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, Timestamps


class Scope(StrEnum):
    admin = "admin"
    read = "read"


class ApiKey(Timestamps, Base):
    __tablename__ = "api_keys"

    id: Mapped[UUIDPK]
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # public part, for look-up
    key_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole key
    scope: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ApiKey({self.prefix!r}, {self.scope!r})"
