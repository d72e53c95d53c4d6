"""/api/v1/sessions: the dashboard's live sessions (who is signed in, how, until when), and
revoking one: its browser is sent back to sign-in on its next request."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from app.audit import service as audit
from app.auth import sessions
from app.auth.deps import AdminKey
from app.auth.models import Role, SignInMethod
from app.auth.web import lifetime
from app.clock import utcnow
from app.db import SessionDep
from app.errors import NotFound

router = APIRouter(prefix="/sessions", tags=["sessions"])


class SessionRead(BaseModel):
    id: uuid.UUID
    subject: str
    display_name: str
    role: Role
    method: SignInMethod
    key_prefix: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ends_at: datetime  # the earlier of expires_at and the idle limit after last_seen_at


@router.get("", response_model=list[SessionRead])
async def list_sessions(request: Request, session: SessionDep, _: AdminKey) -> list[SessionRead]:
    """List live dashboard sessions (never their cookie values)."""
    life = lifetime(request.app.state.settings)
    rows = await sessions.list_live(session, lifetime=life, now=utcnow())
    return [
        SessionRead(
            id=r.id,
            subject=r.subject,
            display_name=r.display_name,
            role=Role(r.role),
            method=SignInMethod(r.method),
            key_prefix=r.key_prefix,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            expires_at=r.expires_at,
            ends_at=sessions.ends_at(r, life),
        )
        for r in rows
    ]


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: uuid.UUID, session: SessionDep, key: AdminKey) -> None:
    """Revoke a dashboard session: its browser must sign in again."""
    now = utcnow()
    row = await sessions.revoke(session, session_id, now=now)
    if row is None:
        raise NotFound("No dashboard session with that id, or it is revoked already")
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action="session.revoke",
        target=str(session_id),
        detail={"subject": row.subject, "method": row.method},
        now=now,
    )
