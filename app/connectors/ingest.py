"""The webhook path: verify, parse, store, and for a resolution the ticket and its request,
all in the caller's one transaction. No outbound call happens here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import db_errors
from app.config import Settings
from app.connectors import service
from app.connectors.base import ConnectorConfig, ConnectorKind, Ignored, ParseError, TicketEvent
from app.connectors.models import InboundEvent, InboundStatus
from app.connectors.registry import get_kind
from app.connectors.schemas import LookupContact
from app.db import insert_ignore
from app.feedback import service as feedback_service
from app.inputs import clean_json_bytes, clean_text
from app.jobs import lanes, queue
from app.tickets import service as tickets_service

log = logging.getLogger("xpulse.connectors")

# Headers worth keeping for an admin; never Authorization or signatures.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "x-atlassian-webhook-flow",
    "webhook-id",
    "webhook-timestamp",
    "x-request-id",
)


@dataclass
class Outcome:
    status: InboundStatus
    reason: str | None = None
    ticket_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    links: dict[str, str] = field(default_factory=dict)
    event_id: uuid.UUID | None = None
    stage: str | None = None  # where a failed event failed: "parse" or "apply"


async def receive(
    session: AsyncSession,
    *,
    connector_name: str,
    headers: Mapping[str, str],
    body: bytes,
    settings: Settings,
    now: datetime,
) -> Outcome:
    """One delivery, the whole of the caller's transaction. Raises ConnectorNotFound (404) or
    SignatureError (401) before storing."""
    config = await service.enabled_config(session, connector_name)
    kind = get_kind(config.kind)
    kind.verify(headers, body, config, now)
    delivery_id = clean_text(kind.delivery_id(headers, body))[:255]
    # An admin's replay calls process() directly: it is not held to the age limit.
    stale = kind.too_old(body, config, now)
    outcome = (
        Outcome(InboundStatus.ignored, reason=stale)
        if stale
        else await process(
            session, config=config, kind=kind, body=body, settings=settings, now=now, alone=True
        )
    )
    kept = {k: headers[k] for k in KEPT_HEADERS if k in headers}
    outcome.event_id = await store_event(session, config, delivery_id, kept, body, outcome, now)
    return outcome


async def process(
    session: AsyncSession,
    *,
    config: ConnectorConfig,
    kind: ConnectorKind,
    body: bytes,
    settings: Settings,
    now: datetime,
    alone: bool = False,
) -> Outcome:
    """Parse and apply one authentic body; any failure becomes a `failed` outcome instead of
    an exception, so the caller still stores the inbox row and nothing authentic is lost.

    `alone`: this delivery is the transaction's only work (a webhook). A failure then rolls the
    transaction back, and the inbox row goes into a fresh one; otherwise (a poll's batch) each
    delivery runs in a savepoint, a round trip more."""
    try:
        # NUL or lone surrogates in a ticket are cleaned, not refused: the ticket is surveyed.
        parsed = kind.parse(clean_json_bytes(body), config)
    except ParseError as exc:
        return Outcome(InboundStatus.failed, reason=clean_text(str(exc))[:2000], stage="parse")
    except ValidationError as exc:
        return Outcome(InboundStatus.failed, reason=_invalid(exc), stage="parse")
    except Exception as exc:  # a bug in a parser: keep the body to replay once it is fixed
        log.exception("connector %s: parse failed", config.name)
        return Outcome(InboundStatus.failed, reason=_failure(exc), stage="parse")
    try:
        if alone:
            return await apply(session, config=config, parsed=parsed, settings=settings, now=now)
        async with session.begin_nested():
            return await apply(session, config=config, parsed=parsed, settings=settings, now=now)
    except Exception as exc:
        if db_errors.is_unavailable(exc):
            # Not this delivery's fault: the sender gets a 503 and retries; a stored `failed`
            # row with a 422 would make it give up on a delivery that is fine.
            raise
        log.exception("connector %s: applying a delivery failed", config.name)
        if alone:
            await session.rollback()
        return Outcome(InboundStatus.failed, reason=_failure(exc), stage="apply")


def _failure(exc: Exception) -> str:
    # Names the column or constraint, never the SQL or a value: the database's own messages
    # quote values (app/db_errors.py).
    return clean_text(db_errors.describe(exc))[:2000]


def _invalid(exc: ValidationError) -> str:
    """Each field and what is wrong with it, without the value pydantic would quote."""
    where = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )
    return clean_text(f"invalid {exc.title}: {where}")[:2000]


async def apply(
    session: AsyncSession,
    *,
    config: ConnectorConfig,
    parsed: TicketEvent | Ignored,
    settings: Settings,
    now: datetime,
) -> Outcome:
    """The effect of a parsed event; idempotent, so duplicates and replays change nothing."""
    if isinstance(parsed, Ignored):
        if parsed.reopened:
            await tickets_service.mark_reopened(
                session, connector_id=config.id, external_id=parsed.reopened, now=now
            )
        return Outcome(InboundStatus.ignored, reason=parsed.reason)
    data = parsed.ticket
    if data.resolved_at is None:  # display-value timestamps cannot be read: receipt time
        data = data.model_copy(update={"resolved_at": now})
    ticket = await tickets_service.upsert_resolved(
        session,
        connector_id=config.id,
        source=config.kind,
        data=data,
        cycle=parsed.cycle,
        cycle_is_guess=parsed.cycle_is_guess,
        now=now,
    )
    result = await feedback_service.create_request(
        session,
        ticket=ticket,
        channel=config.channel,
        sampling_percent=config.options.sampling_percent,
        cycle=ticket.resolution_cycle or parsed.cycle,
        settings=settings,
        now=now,
    )
    if result.needs_contact:
        payload = LookupContact(
            request_id=result.request.id,
            ticket=tickets_service.ref_of(ticket),
            user_id=ticket.requester_id,
        )
        await queue.enqueue(
            session,
            "connectors.lookup_contact",
            payload,
            dedupe_key=f"lookup_contact:{result.request.id}",
            run_after=now,
            lane=lanes.connector_lane(ticket.connector_id),
        )
    return Outcome(
        InboundStatus.processed,
        ticket_id=ticket.id,
        request_id=result.request.id,
        links=result.links,
    )


async def store_event(
    session: AsyncSession,
    config: ConnectorConfig,
    delivery_id: str,
    headers: dict[str, str],
    body: bytes,
    outcome: Outcome,
    now: datetime,
) -> uuid.UUID:
    """The inbox row; a repeated delivery keeps the first row (refreshed if that one failed)."""
    event_id = await insert_ignore(
        session,
        InboundEvent,
        connector_id=config.id,
        delivery_id=delivery_id,
        status=outcome.status,
        reason=outcome.reason,
        headers=headers,
        body=body,
        ticket_id=outcome.ticket_id,
        received_at=now,
        processed_at=None if outcome.status == InboundStatus.failed else now,
        replay_count=0,
    )
    if event_id is not None:
        return event_id
    existing = await session.scalar(
        select(InboundEvent).where(
            InboundEvent.connector_id == config.id, InboundEvent.delivery_id == delivery_id
        )
    )
    assert existing is not None
    if existing.status == InboundStatus.failed and outcome.status != InboundStatus.failed:
        _mark(existing, outcome, now)
    return existing.id


def _mark(event: InboundEvent, outcome: Outcome, now: datetime) -> None:
    event.status = outcome.status
    event.reason = outcome.reason
    event.ticket_id = outcome.ticket_id or event.ticket_id
    event.processed_at = None if outcome.status == InboundStatus.failed else now


async def replay(
    session: AsyncSession, *, event_id: uuid.UUID, settings: Settings, now: datetime
) -> Outcome:
    """Parse and apply a stored delivery again (it was authenticated when it arrived)."""
    event = await service.get_event(session, event_id)
    connector = await service.get_connector(session, event.connector_id)
    config = service.to_config(connector)
    outcome = await process(
        session,
        config=config,
        kind=get_kind(config.kind),
        body=event.body,
        settings=settings,
        now=now,
    )
    _mark(event, outcome, now)
    event.replay_count += 1
    await session.flush()
    outcome.event_id = event.id
    return outcome
