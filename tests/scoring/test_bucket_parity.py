"""Every figure read through the bucket sums (score_buckets, not_sent_buckets) equals the same
figure from the per-ticket rows alone, on PostgreSQL and SQLite: for every endpoint's query,
every dimension, interval and range, in zones with DST and with half- and quarter-hour offsets;
and again after answers change, tickets are reopened and surveyed again, requests are
suppressed, tickets move between groups and are deleted."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import FeedbackRequest, Response
from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS
from app.scoring import bucket_reads, insights, service
from app.scoring.privacy import Privacy
from app.scoring.schemas import Dimension, Interval, ScoreFilter
from app.tickets.models import Ticket
from tests.scoring.builders import Case, add_case, make_connector

ZONES = [
    "UTC",
    "Europe/Berlin",  # DST, whole hours
    "America/New_York",
    "Asia/Kolkata",  # +5:30
    "Asia/Kathmandu",  # +5:45
    "Australia/Lord_Howe",  # +10:30, and a DST change of half an hour
    "Pacific/Chatham",  # +12:45 / +13:45
]
FIRST, LAST = date(2025, 10, 1), date(2026, 11, 30)
VALUES = {
    "service": ["Email", "VPN", "Laptop", None],
    "group": ["Desk", "Network", None],
    "agent": ["ann", "bob", "cy", None],
    "category": ["Access", "Hardware", None],
    "priority": ["1", "3"],
    "channel": ["portal", "phone", None],
}


def _instants(rng: random.Random, n: int) -> list[datetime]:
    """Resolution times: anywhere in the range, and on purpose at and around the local
    midnights of every zone (a microsecond before, on it, a minute after) and around UTC
    hour, day and month starts."""
    start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC)
    span = (LAST - FIRST).days * 86400
    out = [start + timedelta(seconds=rng.randrange(span)) for _ in range(n)]
    for zone in ZONES:
        tz = ZoneInfo(zone)
        for _ in range(n // 10):
            d = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days))
            if rng.random() < 0.3:
                d = d.replace(day=1)  # a local month start
            midnight = datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)
            nudge = rng.choice([-1e-6, 0, 60, -3600, 1800])
            out.append(midnight + timedelta(seconds=nudge))
    for _ in range(n // 10):
        hour = start + timedelta(hours=rng.randrange(span // 3600))
        out.append(hour + timedelta(microseconds=rng.choice([-1, 0, 1])))
    return out


def _cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    lost = list(LOST_TIME_MINUTES)
    for when in _instants(rng, n):
        scale = rng.choice(["happiness-0-10"] * 3 + ["faces-5"])
        status = rng.choices(["responded", "sent", "suppressed", "failed"], [6, 3, 1, 1])[0]
        answered = status == "responded"
        score = (
            (rng.randint(0, 10) if scale == "happiness-0-10" else rng.randint(1, 5))
            if (answered)
            else None
        )
        cases.append(
            Case(
                when.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                rng.choice(VALUES["service"]),
                rng.choice(VALUES["group"]),
                rng.choice(VALUES["agent"]),
                sla=rng.choice([True, False, None]),
                score=score,
                scale=scale,
                lost=rng.choice([None, *lost]) if answered else None,
                factors=tuple(rng.sample(POSITIVE_FACTORS + NEGATIVE_FACTORS, rng.randint(0, 3)))
                if answered
                else (),
                status=status,
                reason=rng.choice(["fatigue", "opted_out", "smtp 550", None])
                if status in ("suppressed", "failed")
                else None,
                automated=answered and rng.random() < 0.05,
                category=rng.choice(VALUES["category"]),
                priority=rng.choice(VALUES["priority"]),
                channel=rng.choice(VALUES["channel"]),
            )
        )
    return cases


def _never_sent_at_the_edges() -> list[Case]:
    """Requests never sent, in the minutes a range's local midnight leaves to the per-ticket
    rows (zones not on a whole hour), with a value in every dimension the filters name."""
    cases = []
    for zone in ZONES[3:]:
        for day in (FIRST, date(2026, 3, 27), date(2025, 12, 15)):
            midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
            when = (midnight + timedelta(minutes=1)).astimezone(UTC)
            for status in ("suppressed", "failed"):
                cases.append(
                    Case(
                        when.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                        "Email",
                        "Desk",
                        "ann",
                        status=status,
                        reason=f"{status} at the edge",
                        category="Access",
                        priority="3",
                        channel="phone",
                    )
                )
    return cases


def _filters(connector_id: uuid.UUID) -> list[ScoreFilter]:
    out = [ScoreFilter(), ScoreFilter(date_from="2026-01-31", date_to="2026-01-31", tz="UTC")]
    for zone in ZONES:
        out += [
            ScoreFilter(date_from=FIRST, date_to=LAST, tz=zone),
            ScoreFilter(date_from="2026-03-27", date_to="2026-04-06", tz=zone),  # DST changes
        ]
    for field, value in {
        "service": "Email",
        "assignment_group": "Desk",
        "agent": "ann",
        "category": "Access",
        "priority": "3",
        "channel": "phone",
        "connector_id": connector_id,
    }.items():
        out.append(ScoreFilter(**{field: value}, tz="Asia/Kolkata", date_from="2025-12-15"))
    out.append(ScoreFilter(connector_id=uuid.uuid4()))  # empty
    out.append(ScoreFilter(service="Email", agent="ann", tz="Asia/Kathmandu"))  # two dimensions
    return out


async def _figures(session: AsyncSession, filters: list[ScoreFilter]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, filt in enumerate(filters):
        summary, factors = await service.summary_and_factors(session, filt, hourly_cost=50.0)
        out[f"{i}:summary"] = summary.model_dump()
        out[f"{i}:factors"] = factors.model_dump()
        for by in Dimension:
            rows = await service.breakdown(session, filt, by=by, hourly_cost=1.0)
            out[f"{i}:by:{by}"] = [(k, f.model_dump()) for k, f in rows]
            assert await _pages(session, filt, by) == rows  # reasons read per page, the same
        for interval in Interval:
            page, _ = await service.trend_page(
                session, filt, interval=interval, hourly_cost=1.0, cursor=None, limit=1000
            )
            out[f"{i}:trend:{interval}"] = [(p, f.model_dump()) for p, f in page]
        groups = await insights.groups(
            session, filt, sla_min=0.3, happiness_max=50, min_responses=2, privacy=Privacy()
        )
        out[f"{i}:melons"] = [g.model_dump() for g in groups]
    return out


async def _pages(session: AsyncSession, filt: ScoreFilter, by: Dimension) -> list[Any]:
    """Every page of the API's breakdown, two groups a page."""
    rows: list[Any] = []
    cursor = None
    while True:
        page, cursor = await service.breakdown_page(
            session, filt, by=by, hourly_cost=1.0, cursor=cursor, limit=2
        )
        rows += page
        if cursor is None:
            return rows


async def _assert_parity(session: AsyncSession, filters: list[ScoreFilter], monkeypatch) -> None:
    read_buckets = 0
    real = bucket_reads.scores

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal read_buckets
        out = await real(*args, **kwargs)
        read_buckets += bool(out)
        return out

    monkeypatch.setattr(bucket_reads, "scores", counted)
    fast = await _figures(session, filters)
    monkeypatch.setattr(bucket_reads, "ENABLED", False)
    slow = await _figures(session, filters)
    monkeypatch.setattr(bucket_reads, "ENABLED", True)
    assert read_buckets > len(filters) * 5  # the fast path ran, and found sums
    assert fast.keys() == slow.keys()
    for key in fast:
        assert fast[key] == slow[key], key
    # Not vacuous: the data reaches every kind of figure.
    assert fast["2:summary"]["responses"] > 100 and fast["2:summary"]["not_sent"]
    assert any(p[1]["responses"] for p in fast["2:trend:day"])


async def _reopen(session: AsyncSession, ticket: Ticket, when: datetime, score: int) -> None:
    """The ticket is reopened and resolved again later: a second cycle, a new request and a
    new answer; the ticket's resolution time moves."""
    ticket.resolved_at = when
    request = FeedbackRequest(
        ticket_id=ticket.id,
        connector_id=ticket.connector_id,
        dedupe_key=f"{ticket.id}:2",
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        status="responded",
        channel="email",
        scale="happiness-0-10",
        sent_at=when,
        expires_at=when + timedelta(days=7),
    )
    session.add(request)
    await session.flush()
    session.add(
        Response(
            request_id=request.id,
            ticket_id=ticket.id,
            score=score,
            scale="happiness-0-10",
            answered_at=when + timedelta(minutes=3),
        )
    )
    await session.flush()


async def test_buckets_equal_the_per_ticket_rows(any_session: AsyncSession, monkeypatch) -> None:
    s = any_session
    connector = await make_connector(s)
    cases = _cases(seed=15, n=300) + _never_sent_at_the_edges()
    tickets = [await add_case(s, connector, case, i + 1) for i, case in enumerate(cases)]
    # A few tickets without a resolution time: only ranges unbounded at both ends hold them.
    await s.execute(
        update(Ticket).where(Ticket.id.in_([t.id for t in tickets[:3]])).values(resolved_at=None)
    )
    filters = _filters(connector.id)
    await _assert_parity(s, filters, monkeypatch)

    rng = random.Random(16)
    # Answers change, and some are judged automated afterwards.
    answered = list((await s.scalars(select(Response).order_by(Response.id))).all())
    for response in rng.sample(answered, 40):
        if response.scale == "happiness-0-10":
            response.score = rng.randint(0, 10)
        response.lost_minutes = rng.choice([None, 0, 45, 720])
    for response in rng.sample(answered, 5):
        response.automated = not response.automated
    # Reopened and surveyed again, resolved in another period (a local midnight, too).
    for ticket in rng.sample(tickets[3:], 15):
        when = rng.choice(
            [
                ticket.resolved_at + timedelta(days=rng.randint(1, 40)),
                datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # Berlin midnight after the change
                datetime(2026, 4, 4, 13, 30, tzinfo=UTC),  # Lord Howe midnight, DST ends
            ]
        )
        await _reopen(s, ticket, when, rng.randint(0, 10))
    # Requests suppressed after all, or failed with a new reason.
    requests = list(
        await s.scalars(select(FeedbackRequest).where(FeedbackRequest.sent_at.is_not(None)))
    )
    for request in rng.sample(requests, 12):
        request.status, request.status_reason, request.sent_at = "suppressed", "opted_out", None
    for request in rng.sample(requests, 4):
        request.status, request.status_reason = "failed", "smtp 451 " + "x" * 3000
    # Tickets move to other groups and agents; some are deleted.
    for ticket in rng.sample(tickets[3:], 20):
        ticket.service = rng.choice(VALUES["service"])
        ticket.assignee = rng.choice(VALUES["agent"])
    await s.flush()
    gone = [t.id for t in rng.sample(tickets[3:], 6)]
    await s.execute(delete(Response).where(Response.ticket_id.in_(gone)))
    await s.execute(delete(FeedbackRequest).where(FeedbackRequest.ticket_id.in_(gone)))
    await s.execute(delete(Ticket).where(Ticket.id.in_(gone)))
    assert await s.scalar(select(func.count()).select_from(Ticket)) == len(tickets) - 6
    await _assert_parity(s, filters, monkeypatch)


async def test_the_ends_of_the_calendar(any_session: AsyncSession, monkeypatch) -> None:
    """Before 1970 (negative epoch seconds, whose remainders SQLite truncates toward zero) and
    in December 9999 (no next month), both ways agree and nothing fails."""
    s = any_session
    connector = await make_connector(s)
    for i, when in enumerate(["1969-12-31T23:30:00", "1970-01-01T00:30:00", "9999-12-15T10:00"]):
        await add_case(s, connector, Case(when, "Old", score=i * 4), i + 1)
    filters = [
        ScoreFilter(date_from="1969-12-31", date_to="1969-12-31"),
        ScoreFilter(date_from="1970-01-01", date_to="1970-01-01"),
        ScoreFilter(date_from="1969-12-01", date_to="1970-01-31", tz="Asia/Kolkata"),
        ScoreFilter(date_from="9999-12-01", date_to="9999-12-30"),
        ScoreFilter(date_from="9999-12-15"),
    ]
    fast = [(await service.summary(s, f, hourly_cost=0)).model_dump() for f in filters]
    monkeypatch.setattr(bucket_reads, "ENABLED", False)
    slow = [(await service.summary(s, f, hourly_cost=0)).model_dump() for f in filters]
    assert fast == slow
    assert [f["responses"] for f in fast] == [1, 1, 2, 1, 1]
