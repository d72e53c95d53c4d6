"""`xpulse demo`: a year of clearly marked, made-up tickets and answers, so a newcomer sees a full
dashboard at once; `xpulse demo --remove` takes every row of it out again.

Everything hangs off one disabled connector named `xpulse-demo` (deleting it cascades to its
tickets, requests, answers and figures) plus XLA targets whose names start with `[Demo]`.
The random stream is seeded: two loads on the same day give the same data."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector
from app.feedback.models import FeedbackRequest, RequestStatus, Response, ResponseFactor
from app.feedback.scales import (
    LOST_TIME_MINUTES,
    NEGATIVE_FACTORS,
    POSITIVE_FACTORS,
    SCALES,
    Band,
    factor_polarity,
)
from app.scoring import upkeep
from app.scoring.models import XlaTarget
from app.tickets.models import Ticket

CONNECTOR_NAME = "xpulse-demo"
XLA_PREFIX = "[Demo] "
BASE_URL = "https://itsm.demo.invalid"  # .invalid: no link of the demo can reach a real system


@dataclass(frozen=True)
class Service:
    name: str
    share: float  # of all tickets
    happy: float  # chance an answer is happy
    unhappy: float  # chance it is unhappy (the rest is neutral)
    sla: float  # chance the SLA was met


# Two watermelons on purpose: SLAs met, people unhappy (VPN, Payroll app).
SERVICES = (
    Service("Email", 0.20, 0.72, 0.10, 0.93),
    Service("Laptop & desktop", 0.22, 0.62, 0.16, 0.85),
    Service("VPN", 0.12, 0.22, 0.58, 0.96),
    Service("Identity & access", 0.14, 0.70, 0.12, 0.90),
    Service("Payroll app", 0.06, 0.20, 0.60, 0.97),
    Service("Printing", 0.08, 0.55, 0.20, 0.80),
    Service("Collaboration", 0.10, 0.75, 0.08, 0.92),
    Service("Service portal", 0.08, 0.66, 0.14, 0.88),
)
# A long tail: one large service desk group, a few mid-sized teams, several small ones.
GROUPS = (
    ("Service Desk L1", 0.40),
    ("Workplace", 0.16),
    ("Network", 0.12),
    ("Identity", 0.09),
    ("HR Systems", 0.07),
    ("Messaging", 0.06),
    ("Field Support Nordics", 0.04),
    ("Print Team", 0.03),
    ("Portal Devs", 0.02),
    ("DBA", 0.01),
)
FIRST = ("Anna", "Ben", "Chloé", "Dario", "Eeva", "Farid", "Greta", "Hugo", "Ines", "Jonas")
LAST = ("Berg", "Costa", "Dubois", "Engel", "Fischer", "García", "Hansen", "Ito", "Jokinen")
CATEGORIES = ("hardware", "software", "access", "network", "inquiry")
PRIORITIES = ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low")
CHANNELS = ("portal", "email", "phone", "chat", "walk-in")
PRAISE = (
    "Fixed within the hour, thank you!",
    "Very friendly and explained what went wrong.",
    "Solved on the first call, great job.",
    "Quick and clear, I could get back to work straight away.",
    "Thanks for following up the next day.",
)
COMPLAINTS = (
    "I had to explain the problem three times to different people.",
    "The ticket was closed without asking me whether it worked.",
    "Still not working, I lost most of the morning.",
    "Nobody told me what was happening for two days.",
    "The VPN keeps dropping every hour, same as before.",
    "Payslips still show the wrong cost centre.",
)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights)[0]


def _score(rng: random.Random, service: Service) -> int:
    roll = rng.random()
    if roll < service.happy:
        return rng.choice((9, 9, 10, 10, 10))
    if roll < service.happy + service.unhappy:
        return rng.choice((0, 2, 3, 4, 5, 5, 6, 6))
    return rng.choice((7, 8))


def _factors(rng: random.Random, band: Band) -> list[str]:
    if rng.random() < 0.35:
        return []
    pool = POSITIVE_FACTORS if band == Band.happy else NEGATIVE_FACTORS
    if band == Band.neutral:
        pool = POSITIVE_FACTORS + NEGATIVE_FACTORS
    return rng.sample(pool, rng.choice((1, 1, 2, 3)))


def _lost(rng: random.Random, band: Band) -> str | None:
    if rng.random() < 0.2:
        return None  # not answered
    if band == Band.happy:
        return rng.choice(("none", "none", "lt_15m", "15_30m"))
    if band == Band.neutral:
        return rng.choice(("lt_15m", "15_30m", "30_60m", "1_2h"))
    return rng.choice(("30_60m", "1_2h", "2_4h", "4_8h", "gt_1d"))


async def remove(session: AsyncSession) -> int:
    """Delete the demo connector (its rows cascade) and the demo XLAs; the tickets removed."""
    connector_id = await session.scalar(
        select(Connector.id).where(Connector.name == CONNECTOR_NAME)
    )
    tickets = 0
    if connector_id is not None:
        tickets = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.connector_id == connector_id)
        )
        await session.execute(delete(Connector).where(Connector.id == connector_id))
        # The scoring rows of deleted tickets go when the queue is drained: now, so the
        # figures and their tables are empty of demo data as soon as this commits.
        await upkeep.catch_up(session)
    await session.execute(delete(XlaTarget).where(XlaTarget.name.startswith(XLA_PREFIX)))
    return tickets or 0


async def load(session: AsyncSession, *, now: datetime, tickets: int = 2000) -> int:
    """Replace any earlier demo data with `tickets` tickets resolved over the last year."""
    await remove(session)
    rng = random.Random(f"xpulse-demo-{now.date().isoformat()}")
    scale = SCALES["happiness-0-10"]
    connector = Connector(
        name=CONNECTOR_NAME,
        kind="generic",
        base_url=BASE_URL,
        webhook_secret=uuid.uuid4().hex,  # never shown; the connector is disabled anyway
        enabled=False,  # no webhook, poll or write-back ever reaches it
        channel="email",
        created_at=now,
        updated_at=now,
    )
    session.add(connector)
    await session.flush()
    agents = [f"{f} {last}" for f in FIRST for last in LAST][:36]
    services = tuple((s.name, s.share) for s in SERVICES)
    by_name = {s.name: s for s in SERVICES}
    for n in range(1, tickets + 1):
        service = by_name[_pick(rng, services)]
        resolved = now - timedelta(days=365 * rng.random() ** 1.15)  # a little busier lately
        first, last = rng.choice(FIRST), rng.choice(LAST)
        ticket = Ticket(
            connector_id=connector.id,
            source="generic",
            external_id=f"demo-{n}",
            number=f"DEMO{n:05d}",
            title=f"[DEMO] {service.name}: {rng.choice(CATEGORIES)} request",
            url=f"{BASE_URL}/ticket/DEMO{n:05d}",
            requester_email=f"{first}.{last}@demo.invalid".lower(),
            requester_name=f"{first} {last}",
            assignee=agents[int(len(agents) * rng.random() ** 1.6)],  # some agents do most
            assignment_group=_pick(rng, GROUPS),
            service=service.name,
            category=rng.choice(CATEGORIES),
            priority=rng.choices(PRIORITIES, (1, 4, 10, 6))[0],
            channel=rng.choices(CHANNELS, (8, 5, 4, 3, 1))[0],
            opened_at=resolved - timedelta(hours=rng.uniform(0.2, 72)),
            resolved_at=resolved,
            sla_met=rng.random() < service.sla if rng.random() > 0.03 else None,
            resolution_cycle="resolved:1",
            raw={"demo": True},
        )
        session.add(ticket)
        await session.flush()
        status, reason, sent = RequestStatus.expired, None, resolved + timedelta(minutes=5)
        answered = rng.random() < 0.34
        if answered:
            status = RequestStatus.responded
        elif rng.random() < 0.05:
            status, reason, sent = RequestStatus.suppressed, "fatigue", None
        elif rng.random() < 0.01:
            status, reason, sent = RequestStatus.failed, "smtp 550 mailbox unavailable", None
        elif now - resolved < timedelta(days=7):
            status = RequestStatus.pending
        request = FeedbackRequest(
            ticket_id=ticket.id,
            connector_id=connector.id,
            dedupe_key=f"{connector.id}:{ticket.id}:resolved:1",
            token_hash=uuid.UUID(int=rng.getrandbits(128)).hex * 2,
            status=status,
            status_reason=reason,
            channel="email",
            scale=scale.key,
            locale="en",
            recipient_email=ticket.requester_email,
            sent_at=sent,
            expires_at=resolved + timedelta(days=7),
            responded_at=None,
        )
        session.add(request)
        await session.flush()
        if not answered:
            continue
        score = _score(rng, service)
        band = scale.band(score)
        lost = _lost(rng, band)
        comment = None
        if rng.random() < 0.3:
            comment = rng.choice(COMPLAINTS if band == Band.unhappy else PRAISE)
        answered_at = resolved + timedelta(hours=rng.uniform(0.1, 48))
        request.responded_at = answered_at
        response = Response(
            request_id=request.id,
            ticket_id=ticket.id,
            score=score,
            scale=scale.key,
            lost_time=lost,
            lost_minutes=LOST_TIME_MINUTES[lost] if lost else None,
            comment=comment,
            locale="en",
            answered_at=answered_at,
        )
        session.add(response)
        await session.flush()
        for factor in _factors(rng, band):
            session.add(
                ResponseFactor(
                    response_id=response.id, factor=factor, polarity=factor_polarity(factor)
                )
            )
        await session.flush()
    session.add_all(
        [
            XlaTarget(name=XLA_PREFIX + "Everyone", scope="all", period="month", min_happiness=40),
            XlaTarget(
                name=XLA_PREFIX + "Email",
                scope="service",
                scope_value="Email",
                period="quarter",
                min_happiness=50,
                max_lost_minutes=60,
            ),
            XlaTarget(
                name=XLA_PREFIX + "VPN",
                scope="service",
                scope_value="VPN",
                period="quarter",
                min_happiness=30,
            ),
            XlaTarget(
                name=XLA_PREFIX + "Service Desk L1",
                scope="group",
                scope_value="Service Desk L1",
                period="month",
                min_happiness=40,
                min_response_rate=0.3,
            ),
        ]
    )
    await session.flush()
    return tickets
