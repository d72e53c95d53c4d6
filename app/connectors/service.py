"""Connectors: admin CRUD, the configuration a kind sees, and the webhook inbox."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from app.connectors.base import ConnectorConfig
from app.connectors.models import Connector, InboundEvent
from app.connectors.options import OPTIONS_BY_KIND, ConnectorOptions, own_options
from app.connectors.registry import get_kind
from app.connectors.schemas import ConnectorCreate, ConnectorUpdate, auth_to_storage
from app.errors import Conflict, NotFound, Unprocessable
from app.pagination import paginate


class ConnectorNotFound(NotFound):
    type, title = "connector-not-found", "Connector not found"


class InboundEventNotFound(NotFound):
    type, title = "inbound-event-not-found", "Inbound event not found"


# The column holds the encrypted form (about 1.5 times as long, plus a header): keep it in 500.
MAX_WEBHOOK_SECRET_LENGTH = 200


def _webhook_secret(value: str) -> str:
    if len(value) > MAX_WEBHOOK_SECRET_LENGTH:
        raise Unprocessable(
            f"webhook_secret must be at most {MAX_WEBHOOK_SECRET_LENGTH} characters",
            errors=[
                {
                    "field": "webhook_secret",
                    "message": f"at most {MAX_WEBHOOK_SECRET_LENGTH} characters",
                    "type": "string_too_long",
                }
            ],
        )
    return value


def to_config(connector: Connector) -> ConnectorConfig:
    """What a kind needs to verify and call: the secrets in plain form (the columns decrypt
    them on load, app/secrets_box.py); never returned by the API."""
    return ConnectorConfig(
        id=connector.id,
        name=connector.name,
        kind=connector.kind,
        base_url=connector.base_url,
        webhook_secret=connector.webhook_secret,
        auth=dict(connector.auth or {}),
        channel=connector.channel,
        options=ConnectorOptions.model_validate(connector.options or {}),
    )


def validate_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The kind's options, checked, as stored; a 422 naming every unknown or invalid option."""
    try:
        return OPTIONS_BY_KIND[kind].model_validate(options).model_dump(mode="json")
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["options", *(str(p) for p in e["loc"])]),
                "message": "not an option of this kind"
                if e["type"] == "extra_forbidden"
                else e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        raise Unprocessable(
            f"Invalid options for a {kind} connector: {fields}", errors=errors
        ) from None


async def create_connector(
    session: AsyncSession, *, data: ConnectorCreate, now: datetime
) -> Connector:
    get_kind(data.kind)  # unknown kind -> 404 problem
    options = validate_options(data.kind, data.options)
    connector = Connector(
        id=uuid.uuid4(),
        name=data.name,
        kind=data.kind,
        base_url=data.base_url_text,
        enabled=data.enabled,
        webhook_secret=_webhook_secret(data.webhook_secret.get_secret_value()),
        auth=auth_to_storage(data.auth),
        channel=data.channel,
        options=options,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(connector)
    except IntegrityError as exc:
        raise Conflict(f"A connector named {data.name!r} exists") from exc
    return connector


async def list_connectors(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[Connector], str | None]:
    return await paginate(
        session,
        select(Connector),
        time_col=Connector.created_at,
        id_col=Connector.id,
        cursor=cursor,
        limit=limit,
    )


async def get_connector(session: AsyncSession, connector_id: uuid.UUID) -> Connector:
    connector = await session.get(Connector, connector_id)
    if connector is None:
        raise ConnectorNotFound(f"No connector {connector_id}")
    return connector


async def get_enabled_by_name(session: AsyncSession, name: str) -> Connector:
    connector = await session.scalar(select(Connector).where(Connector.name == name))
    if connector is None or not connector.enabled:
        raise ConnectorNotFound(f"No enabled connector named {name!r}")
    return connector


# --- the webhook path's connectors, held for a few seconds ----------------------------------

# Every delivery needs its connector's configuration; reading and decrypting the row each time
# was a tenth of an ingest. A change made through this process is seen at once (forget()); one
# made through another replica once the entry is older than this: the documented bound for a
# disable or a new webhook secret to reach every replica (docs/operations.md).
FRESH_SECONDS = 2.0
# Per database (tests and tools run several apps in one process): name -> (loaded at, config).
_held: WeakKeyDictionary[Any, dict[str, tuple[float, ConnectorConfig]]] = WeakKeyDictionary()


async def enabled_config(session: AsyncSession, name: str) -> ConnectorConfig:
    """The configuration of the enabled connector `name`; ConnectorNotFound (404) otherwise."""
    held = _held.setdefault(session.get_bind(), {})
    entry = held.get(name)
    now = time.monotonic()
    if entry is not None and now - entry[0] < FRESH_SECONDS:
        return entry[1]
    held.pop(name, None)
    config = to_config(await get_enabled_by_name(session, name))
    held[name] = (now, config)
    return config


def forget(session: AsyncSession, name: str) -> None:
    """Drop a changed connector from this process's memory."""
    _held.get(session.get_bind(), {}).pop(name, None)


async def update_connector(
    session: AsyncSession, *, connector_id: uuid.UUID, data: ConnectorUpdate, now: datetime
) -> Connector:
    connector = await get_connector(session, connector_id)
    if data.base_url is not None:
        connector.base_url = str(data.base_url).rstrip("/")
    if data.webhook_secret is not None:
        connector.webhook_secret = _webhook_secret(data.webhook_secret.get_secret_value())
    if data.auth is not None:
        connector.auth = auth_to_storage(data.auth)
    if data.channel is not None:
        connector.channel = data.channel
    if data.enabled is not None:
        connector.enabled = data.enabled
    if data.options is not None:
        merged = {**own_options(connector.kind, connector.options), **data.options}
        connector.options = validate_options(connector.kind, merged)
    connector.updated_at = now
    await session.flush()
    forget(session, connector.name)
    return connector


async def set_enabled(
    session: AsyncSession, *, connector_id: uuid.UUID, enabled: bool, now: datetime
) -> Connector:
    connector = await get_connector(session, connector_id)
    connector.enabled = enabled
    connector.updated_at = now
    await session.flush()
    forget(session, connector.name)
    return connector


async def delete_connector(session: AsyncSession, connector_id: uuid.UUID) -> None:
    """Delete the connector with its tickets, requests and inbox (ON DELETE CASCADE)."""
    connector = await get_connector(session, connector_id)
    await session.delete(connector)
    await session.flush()
    forget(session, connector.name)


async def reencrypt_secrets(session: AsyncSession) -> int:
    """Write every connector's secrets again, so they are encrypted under the first key of
    XPULSE_ENCRYPTION_KEYS (`xpulse secrets rotate`); the number of connectors."""
    connectors = (await session.scalars(select(Connector))).all()
    for connector in connectors:
        # Loading decrypted them with any key; marking them written encrypts with the first.
        flag_modified(connector, "webhook_secret")
        flag_modified(connector, "auth")
    await session.flush()
    return len(connectors)


# --- the inbox ----------------------------------------------------------------------------


async def list_events(
    session: AsyncSession,
    *,
    status: str | None,
    connector_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[InboundEvent], str | None]:
    stmt = select(InboundEvent)
    if status:
        stmt = stmt.where(InboundEvent.status == status)
    if connector_id:
        stmt = stmt.where(InboundEvent.connector_id == connector_id)
    return await paginate(
        session,
        stmt,
        time_col=InboundEvent.received_at,
        id_col=InboundEvent.id,
        cursor=cursor,
        limit=limit,
    )


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> InboundEvent:
    event = await session.get(InboundEvent, event_id)
    if event is None:
        raise InboundEventNotFound(f"No inbound event {event_id}")
    return event
