"""Write and read the audit log. `record` joins the caller's transaction, so an action and
its audit row commit (or roll back) together."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent


class _HasPrefix(Protocol):
    prefix: str


def actor_of_key(key: _HasPrefix) -> str:
    """The actor name of an API key: its public prefix, never the key."""
    return f"key:{key.prefix}"


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add one audit row in the caller's transaction."""
    session.add(AuditEvent(at=now, actor=actor, action=action, target=target, detail=detail or {}))
    await session.flush()


def query(
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    """The audit rows matching the filters (paginate orders them newest first)."""
    stmt = select(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    return stmt
