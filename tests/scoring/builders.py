"""Small builders for scoring tests, and the fixed data set the hand-computed tests use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector
from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.feedback.scales import LOST_TIME_MINUTES, factor_polarity
from app.scoring import bucket_sql, rollup, upkeep
from app.scoring.models import TicketNotSent, TicketScore
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


async def score_rows(session: AsyncSession) -> dict:
    """ticket_scores as {ticket id: {column: value}}, detached from the session."""
    rows = (await session.scalars(select(TicketScore))).all()
    out = {r.ticket_id: {c: getattr(r, c) for c in rollup.columns()} for r in rows}
    for r in rows:
        session.expunge(r)
    return out


async def not_sent_rows(session: AsyncSession) -> list[tuple]:
    """ticket_not_sent as sorted tuples (its ids aside)."""
    names = ["ticket_id", "status", "reason", "requests", *rollup.NOT_SENT_COLUMNS]
    rows = (await session.execute(select(*(getattr(TicketNotSent, c) for c in names)))).all()
    return sorted((tuple(r) for r in rows), key=repr)


async def bucket_rows(session: AsyncSession) -> dict[str, set[tuple]]:
    """Both bucket tables as sets of rows, without rows that sum nothing: a bucket whose
    tickets all moved away keeps a row of zeros, which a rebuild does not write."""
    out = {}
    for table, count in (("score_buckets", "tickets"), ("not_sent_buckets", "requests")):
        rows = [r._mapping for r in await session.execute(text(f"SELECT * FROM {table}"))]
        summed = [c for c, v in rows[0].items() if c not in ("grain", "bucket")] if rows else []
        for r in rows:
            if not r[count]:  # a bucket that lost its last ticket sums nothing at all
                assert not any(r[c] for c in summed if isinstance(r[c], int)), dict(r)
        out[table] = {tuple(r.values()) for r in rows if r[count]}
    return out


async def assert_exact(session: AsyncSession, *, catch_up: bool = True) -> dict:
    """What a reader reads (after catching up, as every reader does) equals a rebuild of the
    per-ticket tables and the bucket sums from scratch; returns the rebuilt ticket_scores."""
    if catch_up:
        await upkeep.catch_up(session)
    kept, kept_not_sent = await score_rows(session), await not_sent_rows(session)
    kept_buckets = await bucket_rows(session)
    await session.execute(delete(TicketScore))
    for statement in bucket_sql.rebuild_all(session.get_bind().dialect.name):
        await session.execute(text(statement))
    rebuilt = await score_rows(session)
    assert kept == rebuilt
    assert kept_not_sent == await not_sent_rows(session)
    assert kept_buckets == await bucket_rows(session)
    return rebuilt


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

# Period boundaries: each resolution sits next to a local midnight somewhere.
TZ_CASES = [
    Case("2026-01-04T23:30", "TZ", score=10),  # A: Sunday in UTC, Monday 00:30 in Berlin
    Case("2026-01-05T00:30", "TZ", score=0),  # B: Monday everywhere east of UTC
    Case("2026-01-31T23:30", "TZ", score=10),  # C: January in UTC, February in Berlin
    Case("2026-03-29T22:30", "TZ", score=0),  # D: 30 March in Berlin, after the DST change
    Case("2026-01-01T03:00", "TZ", score=10),  # E: 31 December in New York
]

# Resolutions on and just before a local midnight: a period starts at its first instant.
EDGE_CASES = [
    Case("2026-01-04T23:00", "EDGE", score=10),  # Monday 00:00 in Berlin
    Case("2026-01-04T22:59:59.999999", "EDGE", score=10),  # Sunday 23:59:59.999999 in Berlin
    Case("2026-01-04T18:30", "EDGE", score=0),  # Monday 00:00 in Kolkata (UTC+5:30)
    Case("2026-01-04T18:29:59.999999", "EDGE", score=0),  # a microsecond before it
]


def demo_cases(today: datetime, n: int = 240) -> list[Case]:
    """A plausible, deterministic quarter of feedback for the dashboard: `Email` is a
    watermelon (SLA always met, people unhappy)."""
    import random

    rng = random.Random(7)
    services = {
        "Email": ("Messaging", [0, 2, 4, 5, 6, 6, 7, 9, 10], 1.0),
        "Laptop": ("Field", [6, 7, 8, 9, 9, 10, 10, 10], 0.8),
        "VPN": ("Network", [3, 5, 7, 8, 9, 9, 10], 0.7),
        "Payroll app": ("Apps", [8, 9, 9, 10, 10, 10], 0.95),
    }
    lost = list(LOST_TIME_MINUTES)
    cases = []
    for _ in range(n):
        name = rng.choice(list(services))
        group, scores, sla_rate = services[name]
        score = rng.choice(scores)
        resolved = today - timedelta(days=rng.randrange(0, 84), hours=rng.randrange(0, 24))
        happy, unhappy = score >= 9, score <= 6
        factors = rng.sample(["fast", "friendly", "expert", "informed"], k=rng.randrange(0, 3))
        if unhappy:
            factors = rng.sample(["slow", "not_solved", "repeat_explain"], k=rng.randrange(1, 3))
        elif not happy:
            factors = factors[:1] + (["not_informed"] if rng.random() < 0.5 else [])
        answered = rng.random() < 0.75
        status = "responded" if answered else rng.choice(["expired", "suppressed"])
        cases.append(
            Case(
                resolved.replace(tzinfo=None).isoformat(timespec="minutes"),
                name,
                group,
                rng.choice(["ann", "bob", "chen", "dana"]),
                rng.random() < sla_rate,
                score if answered else None,
                lost=rng.choice(lost[: 3 + (5 if unhappy else 0)]) if answered else None,
                factors=tuple(factors) if answered else (),
                status=status,
                reason="fatigue" if status == "suppressed" else None,
                comment="Took three calls to get it fixed." if answered and unhappy else None,
            )
        )
    return cases
