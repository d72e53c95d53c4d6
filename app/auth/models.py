from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
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


class SignInMethod(StrEnum):
    api_key = "api-key"
    oidc = "oidc"


class Role(StrEnum):
    viewer = "viewer"
    admin = "admin"


class DashboardSession(Base):
    """A signed-in dashboard browser. The cookie holds a random value; only its SHA-256 is
    stored here, so a database dump cannot be replayed as a cookie."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[UUIDPK]  # public: what /api/v1/sessions lists and revokes
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(300))  # "key:<prefix>" or the OIDC `sub`
    display_name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    key_prefix: Mapped[str | None] = mapped_column(String(16))  # the key signed in with
    actor: Mapped[str] = mapped_column(String(300))  # the audit log's name for this person
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute end (XPULSE_AUTH__SESSION_MAX_HOURS)
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_dashboard_sessions_expires_at", "expires_at"),)
