"""/api/v1/audit: the audit log, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.audit import service
from app.audit.models import AuditEvent
from app.auth.deps import AdminKey
from app.db import SessionDep
from app.pagination import Page, paginate

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str = Field(description="`key:<prefix>` for an API key, `user:<subject>` for a person")
    action: str = Field(description="What was done, `<domain>.<verb>`: `connector.create`")
    target: str | None = Field(description="What it was done to: `connector:<id>`, `job:<id>`")
    detail: dict[str, Any]


@router.get("", response_model=Page[AuditEventRead])
async def list_audit_events(
    session: SessionDep,
    _: AdminKey,
    action: str | None = None,
    actor: str | None = None,
    since: Annotated[AwareDatetime | None, Query(description="Events at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Events before")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[AuditEventRead]:
    """List audit events, newest first, filtered by action, actor and time."""
    stmt = service.query(action=action, actor=actor, since=since, until=until)
    rows, next_cursor = await paginate(
        session, stmt, time_col=AuditEvent.at, id_col=AuditEvent.id, cursor=cursor, limit=limit
    )
    return Page[AuditEventRead](
        items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
