"""Create and check API keys. A key is `xp_<prefix>_<secret>`; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import actor_of_key
from app.auth.models import ApiKey, Role, Scope, SignInMethod
from app.auth.sessions import Person


def _hash(key: str) -> str:
    # The secret part has 256 bits of entropy, so a plain SHA-256 is enough (no slow KDF).
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    session: AsyncSession, *, name: str, scope: Scope, now: datetime
) -> tuple[ApiKey, str]:
    """The new row and the plain key, which is shown once and never stored."""
    prefix = secrets.token_hex(6)
    plain = f"xp_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, prefix=prefix, key_hash=_hash(plain), scope=scope, created_at=now, updated_at=now
    )
    session.add(key)
    await session.flush()
    return key, plain


async def authenticate(session: AsyncSession, plain: str) -> ApiKey | None:
    """The live key matching `plain`, or None."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "xp":
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, _hash(plain)):
        return None
    return key


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def revoke_key(session: AsyncSession, key_id: uuid.UUID, *, now: datetime) -> bool:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


def person_of_key(key: ApiKey) -> Person:
    """A dashboard sign-in with an API key: an admin key signs in an admin, a read key a
    viewer. The session names the key by its public prefix only."""
    return Person(
        subject=f"key:{key.prefix}",
        display_name=key.name,
        role=Role.admin if key.scope == Scope.admin else Role.viewer,
        method=SignInMethod.api_key,
        actor=actor_of_key(key),
        key_prefix=key.prefix,
    )
