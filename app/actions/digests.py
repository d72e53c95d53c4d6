"""Digest subscriptions, their periods, and what one digest says: every figure comes from the
scoring service with the same filter /api/v1/scores takes, so the mail and the API agree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Digest, DigestScope, DigestSend
from app.actions.schemas import DigestCreate, DigestRead
from app.config import Settings
from app.errors import NotFound
from app.feedback.models import Response
from app.feedback.scales import SCALES, Band
from app.pagination import paginate
from app.scoring import formulas, privacy, service, xla
from app.scoring.models import XlaScope, XlaTarget
from app.scoring.schemas import FactorList, ScoreFigures, ScoreFilter
from app.scoring.sql import ticket_conditions
from app.tickets.models import Ticket

INTERVAL = {"weekly": "week", "monthly": "month"}
COMMENTS = 3  # praise and unhappy comments quoted per digest
XLA_SCOPE = {
    DigestScope.all: XlaScope.all,
    DigestScope.service: XlaScope.service,
    DigestScope.group: XlaScope.group,
}


class DigestNotFound(NotFound):
    type, title = "digest-not-found", "Digest not found"


async def create(session: AsyncSession, data: DigestCreate) -> Digest:
    values = data.model_dump(mode="json")
    values["recipients"] = {"to": values["recipients"]}
    digest = Digest(**values)
    session.add(digest)
    await session.flush()
    return digest


async def get(session: AsyncSession, digest_id: uuid.UUID) -> Digest:
    digest = await session.get(Digest, digest_id)
    if digest is None:
        raise DigestNotFound(f"No digest {digest_id}")
    return digest


async def delete(session: AsyncSession, digest_id: uuid.UUID) -> None:
    await session.delete(await get(session, digest_id))
    await session.flush()


async def page(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[Digest], str | None]:
    return await paginate(
        session,
        select(Digest),
        time_col=Digest.created_at,
        id_col=Digest.id,
        cursor=cursor,
        limit=limit,
    )


async def read(session: AsyncSession, digest: Digest) -> DigestRead:
    last = await session.scalar(
        select(func.max(DigestSend.period_start)).where(
            DigestSend.digest_id == digest.id, DigestSend.sent_at.is_not(None)
        )
    )
    return DigestRead(
        id=digest.id,
        name=digest.name,
        recipients=list(digest.recipients.get("to", [])),
        frequency=digest.frequency,
        scope=digest.scope,
        scope_value=digest.scope_value,
        locale=digest.locale,
        tz=digest.tz,
        created_at=digest.created_at,
        updated_at=digest.updated_at,
        last_sent_period=last,
    )


def last_period(frequency: str, today: date) -> tuple[date, date]:
    """The last complete week (Monday to Sunday) or month before the local day `today`."""
    interval = INTERVAL[frequency]
    current = formulas.period_start(today, interval)
    start = formulas.period_start(current - timedelta(days=1), interval)
    return start, current - timedelta(days=1)


def previous(frequency: str, start: date) -> tuple[date, date]:
    interval = INTERVAL[frequency]
    before = formulas.period_start(start - timedelta(days=1), interval)
    return before, start - timedelta(days=1)


def score_filter(digest: Digest, start: date, end: date) -> ScoreFilter:
    """The filter /api/v1/scores takes for this digest's scope and period."""
    scope: dict[str, Any] = {}
    if digest.scope == DigestScope.service:
        scope["service"] = digest.scope_value
    elif digest.scope == DigestScope.group:
        scope["assignment_group"] = digest.scope_value
    return ScoreFilter(date_from=start, date_to=end, tz=digest.tz, **scope)


@dataclass
class Quote:
    number: str
    url: str | None
    score: int
    scale: str
    comment: str


@dataclass
class Content:
    digest: Digest
    start: date
    end: date
    min_responses: int = 0  # XPULSE_PRIVACY__MIN_GROUP_RESPONSES
    hidden: str | None = None  # the privacy reason; nothing else is filled then
    figures: ScoreFigures | None = None
    previous: ScoreFigures | None = None
    factors: FactorList | None = None
    praise: list[Quote] = field(default_factory=list)
    unhappy: list[Quote] = field(default_factory=list)
    xlas: list[tuple[str, str | None]] = field(default_factory=list)  # name, status or None


async def content(
    session: AsyncSession, digest: Digest, start: date, end: date, settings: Settings
) -> Content:
    cost = settings.hourly_cost
    p = privacy.from_settings(settings)
    filt = score_filter(digest, start, end)
    figures, factors = await service.summary_and_factors(session, filt, hourly_cost=cost)
    out = Content(digest=digest, start=start, end=end, min_responses=p.min_responses)
    if p.hides(filt, None, figures.responses):
        out.hidden = p.reason
        return out
    before = score_filter(digest, *previous(digest.frequency, start))
    out.figures, out.factors = figures, factors
    out.previous = await service.summary(session, before, hourly_cost=cost)
    out.praise, out.unhappy = await _quotes(session, filt)
    out.xlas = await _xlas(session, digest, end, p, cost)
    return out


async def _quotes(session: AsyncSession, filt: ScoreFilter) -> tuple[list[Quote], list[Quote]]:
    """The best praise (highest scores first) and the unhappy comments (lowest first), both
    counted answers on tickets in scope, newest first among equals."""
    stmt = (
        select(Response.score, Response.scale, Response.comment, Ticket.number, Ticket.url)
        .join(Ticket, Ticket.id == Response.ticket_id)
        .where(
            *ticket_conditions(filt),
            Response.automated.is_(False),
            Response.comment.is_not(None),
            Response.comment != "",
        )
        .order_by(Response.answered_at.desc())
        .limit(500)
    )
    praise: list[Quote] = []
    unhappy: list[Quote] = []
    for row in await session.execute(stmt):
        scale = SCALES.get(row.scale)
        if scale is None:
            continue
        quote = Quote(row.number, row.url, row.score, row.scale, row.comment)
        band = scale.band(row.score)
        if band == Band.happy:
            praise.append(quote)
        elif band == Band.unhappy:
            unhappy.append(quote)

    def norm(q: Quote) -> float:
        return SCALES[q.scale].normalised(q.score)

    praise.sort(key=lambda q: -norm(q))  # stable: newest first among equal scores
    unhappy.sort(key=norm)
    return praise[:COMMENTS], unhappy[:COMMENTS]


async def _xlas(
    session: AsyncSession, digest: Digest, end: date, p: privacy.Privacy, cost: float
) -> list[tuple[str, str | None]]:
    """The XLAs on the digest's own scope, judged over the period holding its last day."""
    stmt = select(XlaTarget).where(XlaTarget.scope == XLA_SCOPE[DigestScope(digest.scope)])
    if digest.scope != DigestScope.all:
        stmt = stmt.where(XlaTarget.scope_value == digest.scope_value)
    found = []
    for target in (await session.scalars(stmt.order_by(XlaTarget.name))).all():
        read = await xla.read(session, target, at=end, tz=digest.tz, hourly_cost=cost)
        current = privacy.xla(p, read).current
        found.append((target.name, getattr(current, "status", None)))
    return found


async def due(session: AsyncSession, now: datetime) -> list[tuple[Digest, date, date]]:
    """Each digest's last complete period that has no send row yet."""
    out = []
    for digest in (await session.scalars(select(Digest))).all():
        today = formulas.local_day(now, ZoneInfo(digest.tz))
        start, end = last_period(digest.frequency, today)
        if await session.get(DigestSend, (digest.id, start)) is None:
            out.append((digest, start, end))
    return out
