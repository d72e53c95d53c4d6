"""Route dependencies: `AdminKey` for writes, `ReadKey` for reads (an admin key may read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service, throttle
from app.auth.models import ApiKey, Scope
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An XPulse API key: `xpulse api-key create`")


async def _current_key(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    throttle.check(request)  # a locked-out address is refused even with a right key
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as `Authorization: Bearer <key>`")
    key = await service.authenticate(session, credentials.credentials)
    if key is None:
        throttle.record_failure(request)
        raise Unauthorized("Unknown or revoked API key")
    return key


def require_scope(scope: Scope):
    async def check(request: Request, key: Annotated[ApiKey, Depends(_current_key)]) -> ApiKey:
        if scope == Scope.admin and key.scope != Scope.admin:
            raise Forbidden(f"This route needs an `admin` key; this key has `{key.scope}`")
        request.state.api_key_prefix = key.prefix
        return key

    return check


AdminKey = Annotated[ApiKey, Depends(require_scope(Scope.admin))]
ReadKey = Annotated[ApiKey, Depends(require_scope(Scope.read))]
