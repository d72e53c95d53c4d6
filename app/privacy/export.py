"""Everything held about one person, for a subject access request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import FeedbackClick, FeedbackOpen, ResponseFactor
from app.privacy import subject as subjects
from app.privacy.schemas import (
    ClickHeld,
    Export,
    InboundEventHeld,
    JobHeld,
    OpenHeld,
    OptOutHeld,
    RequestHeld,
    ResponseHeld,
    TicketHeld,
)


async def export(session: AsyncSession, *, email: str, now: datetime) -> Export:
    person = await subjects.find(session, email)
    ids = list(person.request_ids)
    factors: dict = {}
    opens: list = []
    clicks: list = []
    if ids:
        stmt = select(ResponseFactor).where(
            ResponseFactor.response_id.in_([r.id for r in person.responses])
        )
        for f in (await session.scalars(stmt)).all():
            factors.setdefault(f.response_id, []).append(f.factor)
        opens = list(
            (
                await session.scalars(
                    select(FeedbackOpen)
                    .where(FeedbackOpen.request_id.in_(ids))
                    .order_by(FeedbackOpen.opened_at)
                )
            ).all()
        )
        clicks = list(
            (
                await session.scalars(
                    select(FeedbackClick)
                    .where(FeedbackClick.request_id.in_(ids))
                    .order_by(FeedbackClick.at)
                )
            ).all()
        )
    responses = [
        ResponseHeld.model_validate(
            {
                **{k: getattr(r, k) for k in ResponseHeld.model_fields if k != "factors"},
                "factors": sorted(factors.get(r.id, [])),
            }
        )
        for r in person.responses
    ]
    events = await subjects.events_naming(session, person)
    jobs = await subjects.jobs_naming(session, person)
    opt_outs = await subjects.opt_outs(session, person)
    return Export(
        email=person.email,
        generated_at=now,
        tickets=[TicketHeld.model_validate(t) for t in person.tickets],
        feedback_requests=[RequestHeld.model_validate(r) for r in person.requests],
        responses=responses,
        link_fetches=[OpenHeld.model_validate(o) for o in opens],
        clicks=[ClickHeld.model_validate(c) for c in clicks],
        opt_outs=[OptOutHeld.model_validate(o) for o in opt_outs],
        inbound_events=[InboundEventHeld.model_validate(e) for e in events],
        jobs=[JobHeld.model_validate(j) for j in jobs],
    )
