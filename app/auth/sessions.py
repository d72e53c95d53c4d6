"""Server-side dashboard sessions: create, find by cookie value, list, revoke. The cookie holds
a random value; the table holds its SHA-256 (the value has 256 bits, so no slow KDF)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey, DashboardSession, Role, SignInMethod
from app.config import AuthSettings

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
PURGE_AFTER = timedelta(days=7)  # ended sessions are kept this long for GET /sessions history


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    max: timedelta

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> Lifetime:
        return cls(
            idle=timedelta(minutes=auth.session_idle_minutes),
            max=timedelta(hours=auth.session_max_hours),
        )


@dataclass(frozen=True)
class Person:
    """Who is signing in, as the sign-in method established it."""

    subject: str
    display_name: str
    role: Role
    method: SignInMethod
    actor: str  # the audit log's name: "key:<prefix>" or "user:<email or sub>"
    key_prefix: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ends_at(row: DashboardSession, lifetime: Lifetime) -> datetime:
    """When the session ends if nothing more happens: idle or absolute, whichever is first."""
    return min(row.expires_at, row.last_seen_at + lifetime.idle)


def is_live(row: DashboardSession, *, lifetime: Lifetime, now: datetime) -> bool:
    return row.revoked_at is None and now < ends_at(row, lifetime)


async def create(
    session: AsyncSession, person: Person, *, lifetime: Lifetime, now: datetime
) -> tuple[DashboardSession, str]:
    """The new row and the cookie value (shown to the browser only, never stored)."""
    token = secrets.token_urlsafe(32)
    row = DashboardSession(
        token_hash=_hash(token),
        subject=person.subject[:300],
        display_name=person.display_name[:300],
        role=person.role,
        method=person.method,
        key_prefix=person.key_prefix,
        actor=person.actor[:300],
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime.max,
    )
    session.add(row)
    # Sessions that ended a week ago are of no more use: sign-ins clear them out.
    await session.execute(
        delete(DashboardSession).where(DashboardSession.expires_at < now - PURGE_AFTER)
    )
    await session.flush()
    return row, token


async def find(
    session: AsyncSession, token: str, *, lifetime: Lifetime, now: datetime
) -> DashboardSession | None:
    """The live session whose cookie value is `token` (its last use recorded), or None. A
    session made with an API key ends when the key is revoked."""
    row = await session.scalar(
        select(DashboardSession).where(DashboardSession.token_hash == _hash(token))
    )
    if row is None or not is_live(row, lifetime=lifetime, now=now):
        return None
    if row.key_prefix is not None:
        key = await session.scalar(select(ApiKey).where(ApiKey.prefix == row.key_prefix))
        if key is None or key.revoked_at is not None:
            return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        await session.flush()
    return row


async def list_live(
    session: AsyncSession, *, lifetime: Lifetime, now: datetime
) -> list[DashboardSession]:
    rows = await session.scalars(
        select(DashboardSession)
        .where(
            DashboardSession.revoked_at.is_(None),
            DashboardSession.expires_at > now,
            DashboardSession.last_seen_at > now - lifetime.idle,
        )
        .order_by(DashboardSession.created_at, DashboardSession.id)
    )
    return list(rows.all())


async def revoke(
    session: AsyncSession, session_id: uuid.UUID, *, now: datetime
) -> DashboardSession | None:
    """Revoke a session that is not revoked yet; the row, or None when there is none."""
    row = await session.scalar(
        update(DashboardSession)
        .where(DashboardSession.id == session_id, DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(DashboardSession)
        .execution_options(synchronize_session=False)
    )
    return row
