"""Connector jobs: write-back, ticket comments, contact look-up and the ServiceNow catch-up poll.

Every handler is idempotent: the queue delivers at least once. The jobs that call the ITSM
for one ticket run in the connector's lane (app/connectors/lanes.py): they are retried until
`jobs.retry_budget_hours` is spent, not a number of attempts, and wait together while the ITSM
is down. The poll stays outside: it is enqueued again on each interval."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.connectors import (
    ingest,
    lanes,  # noqa: F401 - a worker-only process registers the lane kind
    notes,
    service,
)
from app.connectors.models import Connector, InboundStatus
from app.connectors.registry import get_kind
from app.connectors.schemas import LookupContact, PollConnector
from app.feedback import service as feedback_service
from app.feedback.models import RequestStatus
from app.feedback.models import Response as FeedbackResponse
from app.jobs import queue
from app.jobs.registry import JobContext, TransientError, handler, periodic
from app.tickets import service as tickets_service
from app.tickets.events import PostComment, PostNote, WriteBack

log = logging.getLogger("xpulse.connectors")
LOOKUP_ATTEMPTS = 5


@handler("connectors.write_back", payload=WriteBack)
async def write_back(ctx: JobContext, payload: WriteBack) -> None:
    """Set the score on the ticket (a value, not an append: safe to repeat)."""
    response = await ctx.session.get(FeedbackResponse, payload.response_id)
    if response is None:
        return
    if payload.response_updated_at < response.updated_at:
        return  # a newer change has its own write-back job with the newer score
    connector = await ctx.session.get(Connector, payload.ticket.connector_id)
    if connector is None:
        return
    config = service.to_config(connector)
    await get_kind(connector.kind).write_back(ctx.http, config, payload)


@handler("connectors.post_comment", payload=PostComment)
async def post_comment(ctx: JobContext, payload: PostComment) -> None:
    """Post the one-click links on the ticket, once: only while the request is pending."""
    request = await feedback_service.get_request(ctx.session, payload.request_id)
    if request is None or request.status != RequestStatus.pending:
        return
    connector = await ctx.session.get(Connector, payload.ticket.connector_id)
    if connector is None:
        return
    kind, config = get_kind(connector.kind), service.to_config(connector)
    if not kind.can_comment(config):  # retrying cannot help: say why it was never sent
        await feedback_service.suppress(
            ctx.session, request_id=request.id, reason=no_comment_reason(connector), now=ctx.now
        )
        return
    await kind.post_comment(ctx.http, config, payload)
    await feedback_service.mark_delivered(ctx.session, request_id=request.id, now=ctx.now)


@handler("connectors.post_note", payload=PostNote)
async def post_note(ctx: JobContext, payload: PostNote) -> None:
    """An alert rule's internal note on the ticket (app/connectors/notes.py: at most once)."""
    connector = await ctx.session.get(Connector, payload.ticket.connector_id)
    if connector is None:
        return
    await notes.post(ctx.http, service.to_config(connector), payload)


def no_comment_reason(connector: Connector) -> str:
    return f"the {connector.kind} connector {connector.name} cannot post ticket comments"


@handler("connectors.lookup_contact", payload=LookupContact, max_attempts=LOOKUP_ATTEMPTS)
async def lookup_contact(ctx: JobContext, payload: LookupContact) -> None:
    """Find the requester's e-mail through the ITSM API; without one, fall back to a comment."""
    request = await feedback_service.get_request(ctx.session, payload.request_id)
    if request is None or request.status != RequestStatus.pending:
        return
    connector = await ctx.session.get(Connector, payload.ticket.connector_id)
    if connector is None:
        return
    kind, config = get_kind(connector.kind), service.to_config(connector)
    email: str | None = None
    reason = f"no e-mail address for the requester in {connector.kind}"
    if not payload.user_id:
        reason = "the ticket names no requester"
    else:
        try:
            email = await kind.lookup_contact(ctx.http, config, payload.ticket, payload.user_id)
        except TransientError:
            if ctx.attempt < LOOKUP_ATTEMPTS:
                raise
            reason = "contact look-up kept failing"
        except Exception as exc:  # a permanent API refusal: the comment still reaches them
            reason = f"contact look-up failed: {exc}"[:500]
    if email:
        await tickets_service.set_requester_email(
            ctx.session, ticket_id=payload.ticket.ticket_id, email=email
        )
        await feedback_service.set_recipient(
            ctx.session, request_id=request.id, email=email, settings=ctx.settings, now=ctx.now
        )
        return
    if not kind.can_comment(config):
        # No address and no comment channel: record why instead of leaving it pending.
        await feedback_service.suppress(
            ctx.session,
            request_id=request.id,
            reason=f"{reason}; {no_comment_reason(connector)}"[:500],
            now=ctx.now,
        )
        return
    await feedback_service.fallback_to_comment(
        ctx.session, request_id=request.id, reason=reason, settings=ctx.settings, now=ctx.now
    )


def poll_key(connector: Connector) -> str:
    return f"servicenow_poll:{connector.id}"


@periodic("connectors.servicenow_poll")
async def enqueue_servicenow_polls(
    session: AsyncSession, settings: Settings, now: datetime
) -> None:
    """Enqueue a catch-up poll for each ServiceNow connector that is due; replicas ticking
    together enqueue one (the dedupe key holds while a poll is pending or running)."""
    connectors = await session.scalars(
        select(Connector).where(Connector.kind == "servicenow", Connector.enabled.is_(True))
    )
    for connector in connectors.all():
        options = service.to_config(connector).options
        due = now - timedelta(seconds=options.poll_interval_seconds)
        if not options.poll or (connector.poll_enqueued_at and connector.poll_enqueued_at > due):
            continue
        await queue.enqueue(
            session,
            "connectors.servicenow_poll_one",
            PollConnector(connector_id=connector.id),
            dedupe_key=poll_key(connector),
            run_after=now,
            max_attempts=3,
        )
        connector.poll_enqueued_at = now


@handler("connectors.servicenow_poll_one", payload=PollConnector, max_attempts=3)
async def servicenow_poll_one(ctx: JobContext, payload: PollConnector) -> None:
    """Ask the Table API for records resolved since the watermark and feed each through the
    webhook's idempotent path: a lost delivery is still surveyed, a seen one is not again."""
    connector = await ctx.session.get(Connector, payload.connector_id)
    if connector is None or not connector.enabled:
        return
    kind = get_kind(connector.kind)
    config = service.to_config(connector)
    since = connector.poll_watermark or ctx.now - timedelta(
        hours=config.options.poll_lookback_hours
    )
    found, newest = await kind.poll_resolved(ctx.http, config, since, ctx.now)
    failed = 0
    for delivery_id, body in found:
        # One bad record is stored failed (replayable) and the poll goes on past it.
        outcome = await ingest.process(
            ctx.session,
            config=config,
            kind=kind,
            body=body,
            settings=ctx.settings,
            now=ctx.now,
        )
        failed += outcome.status == InboundStatus.failed
        await ingest.store_event(
            ctx.session, config, delivery_id, {"x-xpulse-source": "poll"}, body, outcome, ctx.now
        )
    if newest is not None and (
        connector.poll_watermark is None or newest > connector.poll_watermark
    ):
        connector.poll_watermark = newest
    log.info(
        "servicenow poll",
        extra={"connector": connector.name, "records": len(found), "failed": failed},
    )
