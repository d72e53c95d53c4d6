"""Write-back of a counted response onto its ticket: enqueue it, and supersede pending ones."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback.models import FeedbackRequest, Response
from app.feedback.scales import SCALES
from app.jobs import lanes, queue
from app.tickets.events import WriteBack
from app.tickets.models import Ticket
from app.tickets.service import ref_of

JOB = "connectors.write_back"


def _dedupe_prefix(response_id: uuid.UUID) -> str:
    return f"write_back:{response_id}:"


async def supersede(session: AsyncSession, response_id: uuid.UUID, now: datetime) -> int:
    """A newer answer (or a click found automated) replaces the response's pending write-backs:
    the ticket gets the settled answer once. The number cancelled."""
    return await queue.cancel_pending(
        session,
        name=JOB,
        dedupe_prefix=_dedupe_prefix(response_id),
        now=now,
        reason="superseded by a newer answer",
    )


async def enqueue(
    session: AsyncSession,
    request: FeedbackRequest,
    response: Response,
    factors: list[str],
    settings: Settings,
    now: datetime,
) -> None:
    """Queue the response as it stands now, after the settle delay; keyed by its updated_at, which
    the handler compares with the stored row to skip a payload a newer change replaced."""
    ticket = await session.get(Ticket, request.ticket_id)
    assert ticket is not None
    scale = SCALES[response.scale]
    payload = WriteBack(
        ticket=ref_of(ticket),
        request_id=request.id,
        response_id=response.id,
        response_updated_at=response.updated_at,
        score=response.score,
        scale=response.scale,
        normalised=round(scale.normalised(response.score), 2),
        label=scale.label(response.score),
        lost_time=response.lost_time,
        lost_minutes=response.lost_minutes,
        factors=factors,
        comment=response.comment,
    )
    await queue.enqueue(
        session,
        JOB,
        payload,
        dedupe_key=_dedupe_prefix(response.id) + response.updated_at.isoformat(),
        run_after=now + timedelta(seconds=settings.feedback.writeback_delay_seconds),
        lane=lanes.connector_lane(ticket.connector_id),
    )
