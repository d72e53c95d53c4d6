"""Connectors: admin CRUD and inbox under /api/v1, and POST /webhooks/{connector_name}."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.deps import AdminKey, ReadKey
from app.auth.models import ApiKey
from app.clock import utcnow
from app.connectors import ingest, lanes, service
from app.connectors.models import Connector, InboundStatus
from app.connectors.registry import get_kind
from app.connectors.schemas import (
    CheckRead,
    ConnectorCheck,
    ConnectorCreate,
    ConnectorRead,
    ConnectorUpdate,
    InboundEventDetail,
    InboundEventRead,
    ReplayResult,
    RetryDeadResult,
    WebhookAccepted,
    WebhookIgnored,
)
from app.db import SessionDep
from app.errors import problem
from app.pagination import Page

router = APIRouter(tags=["connectors"])  # admin routes under /api/v1
public_router = APIRouter(tags=["webhooks"])  # routes outside /api/v1

Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/connectors", status_code=201, response_model=ConnectorRead)
async def create_connector(
    data: ConnectorCreate, session: SessionDep, key: AdminKey
) -> ConnectorRead:
    """Create a connector; its secrets are stored and never returned."""
    connector = await service.create_connector(session, data=data, now=utcnow())
    detail = {"name": connector.name, "kind": connector.kind, "channel": connector.channel}
    await _audit(session, key, "connector.create", connector.id, detail)
    return await _read(session, connector)


@router.get("/connectors", response_model=Page[ConnectorRead])
async def list_connectors(
    session: SessionDep, _: ReadKey, cursor: str | None = None, limit: Limit = 50
) -> Page[ConnectorRead]:
    """List connectors, newest first."""
    rows, next_cursor = await service.list_connectors(session, cursor=cursor, limit=limit)
    states = await lanes.outbound(session, [r.id for r in rows], utcnow())
    items = [ConnectorRead.of(r, states[r.id]) for r in rows]
    return Page[ConnectorRead](items=items, next_cursor=next_cursor)


@router.get("/connectors/{connector_id}", response_model=ConnectorRead)
async def get_connector(connector_id: uuid.UUID, session: SessionDep, _: ReadKey) -> ConnectorRead:
    """Get one connector (without its secrets) with the state of its calls to the ITSM."""
    return await _read(session, await service.get_connector(session, connector_id))


@router.patch("/connectors/{connector_id}", response_model=ConnectorRead)
async def update_connector(
    connector_id: uuid.UUID, data: ConnectorUpdate, session: SessionDep, key: AdminKey
) -> ConnectorRead:
    """Change some fields of a connector; `options` is merged key by key."""
    connector = await service.update_connector(
        session, connector_id=connector_id, data=data, now=utcnow()
    )
    # Field names only (and option keys): never a secret's or an option's value.
    detail: dict[str, object] = {"name": connector.name, "fields": sorted(data.model_fields_set)}
    if data.options:
        detail["options"] = sorted(data.options)
    secret_changed = bool({"webhook_secret", "auth"} & data.model_fields_set)
    action = "connector.rotate_secret" if secret_changed else "connector.update"
    await _audit(session, key, action, connector.id, detail)
    return await _read(session, connector)


@router.post("/connectors/{connector_id}/disable", response_model=ConnectorRead)
async def disable_connector(
    connector_id: uuid.UUID, session: SessionDep, key: AdminKey
) -> ConnectorRead:
    """Stop accepting deliveries (404 to senders) and polling; write-backs still run."""
    connector = await service.set_enabled(
        session, connector_id=connector_id, enabled=False, now=utcnow()
    )
    await _audit(session, key, "connector.disable", connector.id, {"name": connector.name})
    return await _read(session, connector)


@router.post("/connectors/{connector_id}/enable", response_model=ConnectorRead)
async def enable_connector(
    connector_id: uuid.UUID, session: SessionDep, key: AdminKey
) -> ConnectorRead:
    """Accept deliveries again."""
    connector = await service.set_enabled(
        session, connector_id=connector_id, enabled=True, now=utcnow()
    )
    await _audit(session, key, "connector.enable", connector.id, {"name": connector.name})
    return await _read(session, connector)


@router.post("/connectors/{connector_id}/retry-dead", response_model=RetryDeadResult)
async def retry_dead_jobs(
    connector_id: uuid.UUID, session: SessionDep, key: AdminKey
) -> RetryDeadResult:
    """Run every dead outbound job of the connector (write-backs, comments, contact look-ups)
    again with a fresh retry budget; answers how many."""
    connector = await service.get_connector(session, connector_id)  # 404 for an unknown one
    retried = await lanes.retry_dead(session, connector_id, utcnow())
    detail = {"name": connector.name, "retried": retried}
    await _audit(session, key, "connector.retry_dead", connector_id, detail)
    return RetryDeadResult(retried=retried)


@router.post("/connectors/{connector_id}/check", response_model=ConnectorCheck)
async def check_connector(
    connector_id: uuid.UUID, request: Request, session: SessionDep, _: AdminKey
) -> ConnectorCheck:
    """Ask the ITSM API whether this connector's set-up works: the credentials, and (ServiceNow)
    each surveyed table's resolved states and score column, or (Jira) the score field. Always
    200 with what each check found; a failed check says what to change."""
    config = service.to_config(await service.get_connector(session, connector_id))
    found = await get_kind(config.kind).check(request.app.state.http, config)
    checks = [CheckRead(name=c.name, ok=c.ok, detail=c.detail) for c in found]
    return ConnectorCheck(ok=all(c.ok for c in checks), checks=checks)


@router.delete("/connectors/{connector_id}", status_code=204)
async def delete_connector(connector_id: uuid.UUID, session: SessionDep, key: AdminKey) -> Response:
    """Delete a connector with its tickets, feedback and inbox."""
    name = (await service.get_connector(session, connector_id)).name
    await service.delete_connector(session, connector_id)
    await _audit(session, key, "connector.delete", connector_id, {"name": name})
    return Response(status_code=204)


@router.get("/inbound-events", response_model=Page[InboundEventRead])
async def list_inbound_events(
    session: SessionDep,
    _: ReadKey,
    status: InboundStatus | None = None,
    connector_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[InboundEventRead]:
    """List webhook deliveries, newest first; `status=failed` lists the ones to replay."""
    rows, next_cursor = await service.list_events(
        session, status=status, connector_id=connector_id, cursor=cursor, limit=limit
    )
    return Page[InboundEventRead](
        items=[InboundEventRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/inbound-events/{event_id}", response_model=InboundEventDetail)
async def get_inbound_event(
    event_id: uuid.UUID, session: SessionDep, _: ReadKey
) -> InboundEventDetail:
    """Get one delivery with its raw body and the headers kept (never credentials)."""
    return InboundEventDetail.model_validate(await service.get_event(session, event_id))


@router.post("/inbound-events/{event_id}/replay", response_model=ReplayResult)
async def replay_inbound_event(
    event_id: uuid.UUID, request: Request, session: SessionDep, key: AdminKey
) -> ReplayResult:
    """Parse and apply a stored delivery again (idempotent: no duplicate request)."""
    outcome = await ingest.replay(
        session, event_id=event_id, settings=request.app.state.settings, now=utcnow()
    )
    event = await service.get_event(session, event_id)
    detail = {"connector_id": str(event.connector_id), "status": event.status}
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action="inbound_event.replay",
        target=f"inbound_event:{event_id}",
        detail=detail,
        now=utcnow(),
    )
    return ReplayResult(
        event=InboundEventRead.model_validate(event),
        ticket_id=outcome.ticket_id,
        feedback_request_id=outcome.request_id,
        links=outcome.links if outcome.request_id else None,
        ignored=outcome.reason if outcome.status == InboundStatus.ignored else None,
    )


async def _audit(
    session: AsyncSession, key: ApiKey, action: str, connector_id: uuid.UUID, detail: dict
) -> None:
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action=action,
        target=f"connector:{connector_id}",
        detail=detail,
        now=utcnow(),
    )


async def _read(session: AsyncSession, connector: Connector) -> ConnectorRead:
    states = await lanes.outbound(session, [connector.id], utcnow())
    return ConnectorRead.of(connector, states[connector.id])


@public_router.post(
    "/webhooks/{connector_name}",
    status_code=202,
    response_model=WebhookAccepted,
    responses={
        200: {"model": WebhookIgnored, "description": "Authentic, but not a resolution"},
        401: {"description": "Not authentic: nothing stored"},
        404: {"description": "No enabled connector of that name"},
        422: {"description": "Authentic but unreadable or not storable: kept for replay"},
    },
)
async def receive_webhook(connector_name: str, request: Request, session: SessionDep) -> Response:
    """Receive a ServiceNow, Jira or generic delivery; 202 with the feedback request's links."""
    outcome = await ingest.receive(
        session,
        connector_name=connector_name,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        settings=request.app.state.settings,
        now=utcnow(),
    )
    if outcome.status == InboundStatus.failed:
        # Returned, not raised: the inbox row must commit with the 422.
        parse_failed = outcome.stage != "apply"
        return problem(
            422,
            "unparseable-delivery" if parse_failed else "unprocessable-delivery",
            "Delivery could not be parsed" if parse_failed else "Delivery could not be applied",
            outcome.reason or "unparseable",
            request,
            inbound_event_id=str(outcome.event_id),
        )
    if outcome.status == InboundStatus.ignored:
        return JSONResponse({"ignored": outcome.reason}, status_code=200)
    accepted = WebhookAccepted(
        ticket_id=outcome.ticket_id, feedback_request_id=outcome.request_id, links=outcome.links
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)
