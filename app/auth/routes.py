"""/api/v1/api-keys: list, create (the key is shown once) and revoke admin API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from app.audit import service as audit
from app.auth import service
from app.auth.deps import AdminKey
from app.auth.models import Scope
from app.clock import utcnow
from app.db import SessionDep
from app.errors import NotFound

router = APIRouter(prefix="/api-keys", tags=["api keys"])


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scope: Scope = Scope.read


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The plain key. Shown only in this answer; store it now.")


@router.get("", response_model=list[ApiKeyRead])
async def list_api_keys(session: SessionDep, _: AdminKey) -> list[ApiKeyRead]:
    """List API keys (never their secret part)."""
    return [ApiKeyRead.model_validate(k) for k in await service.list_keys(session)]


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, admin: AdminKey) -> ApiKeyCreated:
    """Create an API key; the answer carries the plain key once."""
    now = utcnow()
    key, plain = await service.create_key(session, name=body.name, scope=body.scope, now=now)
    await audit.record(
        session,
        actor=audit.actor_of_key(admin),
        action="api_key.create",
        target=str(key.id),
        detail={"name": key.name, "prefix": key.prefix, "scope": str(key.scope)},
        now=now,
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyRead.model_validate(key).model_dump(), "key": plain}
    )


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep, admin: AdminKey) -> None:
    """Revoke an API key (dashboard sessions signed in with it end too)."""
    now = utcnow()
    if not await service.revoke_key(session, key_id, now=now):
        raise NotFound("No live API key with that id")
    await audit.record(
        session,
        actor=audit.actor_of_key(admin),
        action="api_key.revoke",
        target=str(key_id),
        now=now,
    )
