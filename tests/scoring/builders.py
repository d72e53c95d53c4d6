"""Small builders for scoring tests, and the fixed data set the hand-computed tests use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector
from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.feedback.scales import LOST_TIME_MINUTES, factor_polarity
from app.tickets.models import Ticket


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def make_connector(session: AsyncSession, name: str = "itsm") -> Connector:
    connector = Connector(
        name=f"{name}-{uuid.uuid4().hex[:6]}",
        kind="generic",
        base_url="http://127.0.0.1:9",
        webhook_secret="s3cret",
    )
    session.add(connector)
    await session.flush()
    return connector


@dataclass
class Case:
    """One ticket with its feedback request and (optionally) a response."""

    resolved: str  # ISO UTC
    service: str | None = None
    group: str | None = None
    agent: str | None = None
    sla: bool | None = None
    score: int | None = None  # None: no response
    scale: str = "happiness-0-10"
    lost: str | None = None
    factors: tuple[str, ...] = ()
    status: str = "responded"  # request status; sent unless suppressed/failed/pending
    reason: str | None = None
    automated: bool = False
    comment: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None
    extra: dict = field(default_factory=dict)


async def add_case(session: AsyncSession, connector: Connector, case: Case, n: int) -> Ticket:
    resolved = at(case.resolved)
    ticket = Ticket(
        connector_id=connector.id,
        source="generic",
        external_id=f"ext-{n}-{uuid.uuid4().hex[:8]}",
        number=f"INC{n:05d}",
        url=f"http://127.0.0.1:9/ticket/{n}",
        service=case.service,
        assignment_group=case.group,
        assignee=case.agent,
        category=case.category,
        priority=case.priority,
        channel=case.channel,
        resolved_at=resolved,
        sla_met=case.sla,
    )
    session.add(ticket)
    await session.flush()
    delivered = case.status not in ("suppressed", "failed", "pending")
    request = FeedbackRequest(
        ticket_id=ticket.id,
        connector_id=connector.id,
        dedupe_key=f"{ticket.id}:1",
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        status=case.status,
        status_reason=case.reason,
        channel="email",
        scale=case.scale,
        sent_at=resolved + timedelta(minutes=5) if delivered else None,
        expires_at=resolved + timedelta(days=7),
    )
    session.add(request)
    await session.flush()
    if case.score is not None:
        response = Response(
            request_id=request.id,
            ticket_id=ticket.id,
            score=case.score,
            scale=case.scale,
            lost_time=case.lost,
            lost_minutes=LOST_TIME_MINUTES[case.lost] if case.lost else None,
            automated=case.automated,
            comment=case.comment,
            answered_at=resolved + timedelta(hours=1),
        )
        session.add(response)
        await session.flush()
        for factor in case.factors:
            session.add(
                ResponseFactor(
                    response_id=response.id, factor=factor, polarity=factor_polarity(factor)
                )
            )
        await session.flush()
    return ticket


async def seed(session: AsyncSession, cases: list[Case]) -> list[Ticket]:
    connector = await make_connector(session)
    return [await add_case(session, connector, case, i + 1) for i, case in enumerate(cases)]


# The fixed data set of test_figures.py; every expectation there is computed by hand from it.
E, L = "Email", "Laptop"
FIXED = [
    Case("2026-01-05T10:00", E, "Desk", "ann", True, 10, lost="none", factors=("fast", "friendly")),
    Case("2026-01-06T10:00", E, "Desk", "ann", True, 9, lost="lt_15m", factors=("fast",)),
    Case("2026-01-07T10:00", E, "Desk", "ann", True, 7, lost="1_2h", factors=("informed", "slow")),
    Case(
        "2026-01-08T10:00", E, "Desk", "ann", False, 3, lost="4_8h", factors=("slow", "not_solved")
    ),
    Case("2026-01-09T10:00", E, "Desk", "ann", None, None, status="expired"),
    Case("2026-01-12T10:00", L, "Field", "bob", True, 5, "faces-5"),
    Case(
        "2026-01-13T10:00",
        L,
        "Field",
        "bob",
        True,
        2,
        "faces-5",
        "gt_1d",
        ("hard_to_reach",),
        comment='=HYPERLINK("http://127.0.0.1:9")',
    ),
    Case("2026-01-14T10:00", L, "Field", "bob", True, 4, "faces-5", "30_60m"),
    Case("2026-01-14T11:00", L, "Field", "bob", None, status="suppressed", reason="fatigue"),
    Case("2026-01-15T10:00", L, "Field", "bob", None, status="failed", reason="smtp 550"),
    # A mail scanner's click: kept, never counted.
    Case(
        "2026-01-15T11:00",
        L,
        "Field",
        "bob",
        True,
        0,
        lost="gt_1d",
        factors=("unfriendly",),
        automated=True,
    ),
]
