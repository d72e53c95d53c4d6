"""An erased person's opt-out is kept under a keyed hash of their requester key (HMAC-SHA256
with XPULSE_SECRET_KEY), so they are never asked again and their address is not stored.

A module of its own (models only) so that feedback.service can consult it without an import
cycle through optouts."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import OptOut, OptOutStatus

PREFIX = "hmac:"
_CONTEXT = b"xpulse opt-out\x00"  # this hash is for opt-outs only


def hashed_key(key: str, secret: str) -> str:
    """The stored form of an erased requester's key ("email:…" or "user:…")."""
    digest = hmac.new(secret.encode(), _CONTEXT + key.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest


def is_hashed(key: str) -> bool:
    return key.startswith(PREFIX)


async def applied(session: AsyncSession, key: str, *, secret: str) -> bool:
    """An applied opt-out under the key itself or, after an erasure, under its keyed hash."""
    stmt = select(OptOut.status).where(OptOut.requester_key.in_((key, hashed_key(key, secret))))
    return any(status == OptOutStatus.applied for status in (await session.scalars(stmt)).all())
