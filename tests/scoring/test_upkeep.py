"""The scoring queue (app/scoring/upkeep.py): a write only queues its ticket; the drains and the
readers' catch-up keep ticket_scores and ticket_not_sent equal to a rebuild from scratch, on
PostgreSQL and SQLite; concurrent writers, drainers and readers on PostgreSQL; and the
background drain empties the queue within the bound docs/scoring.md states."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import create_engine, dialect_name, make_sessionmaker
from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.feedback.scales import factor_polarity
from app.http import make_http_client
from app.jobs.ticker import start_ticker
from app.jobs.worker import Worker
from app.scoring import service, upkeep
from app.scoring.models import ScoringDirty, TicketScore
from app.scoring.schemas import Dimension, ScoreFilter
from app.tickets.models import Ticket
from tests.conftest import make_settings, migrate
from tests.scoring.builders import (
    FIXED,
    Case,
    add_case,
    assert_exact,
    make_connector,
    not_sent_rows,
    score_rows,
    seed,
)

WATCHED_TABLES = {"tickets", "feedback_requests", "responses", "response_factors"}


async def _queue(session: AsyncSession) -> list[uuid.UUID]:
    rows = await session.scalars(select(ScoringDirty.ticket_id).order_by(ScoringDirty.id))
    return list(rows)


async def _stored(session: AsyncSession, ticket_id: uuid.UUID) -> dict | None:
    return (await score_rows(session)).get(ticket_id)


async def test_a_write_only_queues_its_ticket(any_session: AsyncSession) -> None:
    s = any_session
    connector = await make_connector(s)
    await upkeep.catch_up(s)
    assert await _queue(s) == []

    ticket = await add_case(s, connector, Case("2026-02-02T10:00", "Email"), 1)
    # One ticket and its request (status responded, no answer yet): one queue row each, and
    # nothing computed yet.
    assert await _queue(s) == [ticket.id, ticket.id]
    assert await _stored(s, ticket.id) is None

    assert await upkeep.catch_up(s) == 2
    assert await _queue(s) == []
    row = await _stored(s, ticket.id)
    assert row is not None and row["requests_sent"] == 1 and row["responses"] == 0

    # An answer: queued, and the stored row is not touched until a drain.
    postgres = dialect_name(s) == "postgresql"
    version = text("SELECT xmin::text FROM ticket_scores WHERE ticket_id = :t")
    before = (await s.execute(version, {"t": ticket.id})).scalar() if postgres else None
    request = await s.scalar(select(FeedbackRequest).where(FeedbackRequest.ticket_id == ticket.id))
    s.add(
        Response(
            request_id=request.id,
            ticket_id=ticket.id,
            score=9,
            scale="happiness-0-10",
            answered_at=request.expires_at - timedelta(days=6),
        )
    )
    await s.flush()
    assert await _queue(s) == [ticket.id]
    assert await _stored(s, ticket.id) == row
    if postgres:
        assert (await s.execute(version, {"t": ticket.id})).scalar() == before

    await upkeep.catch_up(s)
    after = await _stored(s, ticket.id)
    assert after is not None and (after["responses"], after["s10_happy"]) == (1, 1)


async def test_no_trigger_writes_the_rollup(any_session: AsyncSession) -> None:
    """Whatever statement a write path runs, the database itself only queues: the triggers on
    the watched tables insert into scoring_dirty and never touch the rollup tables."""
    s = any_session
    if dialect_name(s) == "postgresql":
        found = await s.execute(
            text(
                "SELECT c.relname, p.prosrc FROM pg_trigger tg "
                "JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_proc p ON p.oid = tg.tgfoid "
                "WHERE NOT tg.tgisinternal"
            )
        )
        # Every user function, too: none may recompute a ticket (0004's did).
        functions = await s.scalars(
            text(
                "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema()"
            )
        )
        bodies = list(functions)
    else:
        found = await s.execute(
            text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        )
        bodies = []
    triggers = [(table, body) for table, body in found.all() if table in WATCHED_TABLES]
    assert {table for table, _ in triggers} == WATCHED_TABLES
    for table, body in triggers:
        assert "INSERT INTO scoring_dirty" in body, table
    for body in [b for _, b in triggers] + bodies:
        assert "ticket_scores" not in body and "ticket_not_sent" not in body


async def test_rollup_equals_a_rebuild_after_every_kind_of_change(
    any_session: AsyncSession,
) -> None:
    s = any_session
    tickets = await seed(s, FIXED)
    await assert_exact(s)

    # Inserts: a new ticket answered with factors.
    new = await add_case(
        s,
        await make_connector(s),
        Case("2026-02-03T10:00", "VPN", "Net", "cy", True, 4, lost="1_2h", factors=("slow",)),
        99,
    )
    rows = await assert_exact(s)
    assert (rows[new.id]["responses"], rows[new.id]["f_slow"], rows[new.id]["lost_90"]) == (1, 1, 1)

    t1 = tickets[0].id
    r1 = await s.scalar(select(Response.id).where(Response.ticket_id == t1))
    # An answer changed.
    await s.execute(update(Response).where(Response.id == r1).values(score=6, lost_minutes=25))
    rows = await assert_exact(s)
    assert (rows[t1]["s10_unhappy"], rows[t1]["lost_25"]) == (1, 1)
    # Judged automated, then counted again.
    await s.execute(update(Response).where(Response.id == r1).values(automated=True))
    assert (await assert_exact(s))[t1]["responses"] == 0
    await s.execute(update(Response).where(Response.id == r1).values(automated=False))
    assert (await assert_exact(s))[t1]["responses"] == 1
    # Factors changed.
    await s.execute(delete(ResponseFactor).where(ResponseFactor.response_id == r1))
    s.add(ResponseFactor(response_id=r1, factor="not_solved", polarity="negative"))
    await s.flush()
    rows = await assert_exact(s)
    assert (rows[t1]["f_fast"], rows[t1]["f_not_solved"], rows[t1]["positive_responses"]) == (
        0,
        1,
        0,
    )

    # Reopened and resolved again: a second request (the next cycle) and its answer.
    t2 = tickets[1]
    resolved = t2.resolved_at + timedelta(days=3)
    await s.execute(update(Ticket).where(Ticket.id == t2.id).values(resolved_at=resolved))
    again = FeedbackRequest(
        ticket_id=t2.id,
        connector_id=t2.connector_id,
        dedupe_key=f"{t2.id}:2",
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        status="responded",
        channel="email",
        scale="happiness-0-10",
        sent_at=resolved + timedelta(minutes=5),
        expires_at=resolved + timedelta(days=7),
    )
    s.add(again)
    await s.flush()
    s.add(
        Response(
            request_id=again.id,
            ticket_id=t2.id,
            score=10,
            scale="happiness-0-10",
            answered_at=resolved + timedelta(hours=1),
        )
    )
    await s.flush()
    rows = await assert_exact(s)
    assert (rows[t2.id]["requests_sent"], rows[t2.id]["responses"]) == (2, 2)
    assert rows[t2.id]["resolved_at"] == resolved

    # Suppressed: the request leaves the sent ones and is listed by its reason.
    await s.execute(
        update(FeedbackRequest)
        .where(FeedbackRequest.id == again.id)
        .values(status="suppressed", status_reason="opt-out", sent_at=None)
    )
    rows = await assert_exact(s)
    assert (rows[t2.id]["requests_sent"], rows[t2.id]["requests_not_sent"]) == (1, 1)
    assert [(r[1], r[2]) for r in await not_sent_rows(s) if r[0] == t2.id] == [
        ("suppressed", "opt-out")
    ]

    # The ticket moved to another group: both tables copy it.
    await s.execute(update(Ticket).where(Ticket.id == t2.id).values(assignment_group="Moved"))
    rows = await assert_exact(s)
    assert rows[t2.id]["assignment_group"] == "Moved"
    moved = [r for r in await not_sent_rows(s) if r[0] == t2.id]
    assert moved and all("Moved" in r for r in moved)

    # Deletes: an answer, a ticket, and a ticket queued and deleted before any drain.
    await s.execute(delete(Response).where(Response.ticket_id == t1))
    assert (await assert_exact(s))[t1]["responses"] == 0
    await s.execute(delete(Ticket).where(Ticket.id == t2.id))
    assert t2.id not in await assert_exact(s)
    gone = await add_case(s, await make_connector(s), Case("2026-02-04T10:00", score=3), 100)
    await s.execute(delete(Ticket).where(Ticket.id == gone.id))
    assert gone.id in await _queue(s)
    rows = await assert_exact(s)
    assert gone.id not in rows and await _queue(s) == []


async def test_drains_work_in_bounded_batches(
    any_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = any_session
    await seed(s, FIXED)
    waiting = len(await _queue(s))
    monkeypatch.setattr(upkeep, "BATCH", 4)
    assert await upkeep.drain_batch(s) == 4
    assert len(await _queue(s)) == waiting - 4
    assert await upkeep.catch_up(s) == waiting - 4  # batch after batch, to the end
    assert await _queue(s) == []
    await assert_exact(s, catch_up=False)


async def test_the_background_drain_on_sqlite(tmp_path) -> None:
    """The quick start's database: the same drain, committed batch after batch."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'drain.db'}"
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as s:
            await seed(s, FIXED)
            await s.commit()
            waiting = await upkeep.queued(s)
        assert waiting >= len(FIXED)
        settings = make_settings(url)
        assert await upkeep.drain_in_background(sessions, settings) == waiting
        async with sessions() as s:
            assert await upkeep.queued(s) == 0
            assert len(await assert_exact(s, catch_up=False)) == len(FIXED)
            await s.rollback()
    finally:
        await engine.dispose()


# --- PostgreSQL: real transactions side by side -------------------------------------------


async def _seed_committed(engine: AsyncEngine, cases: list[Case]) -> list[Ticket]:
    async with make_sessionmaker(engine)() as s:
        tickets = await seed(s, cases)
        await s.commit()
    return tickets


async def test_concurrent_writers_drainers_and_readers(committed: AsyncEngine) -> None:
    """Writers commit changes on separate connections while background drains (several, as
    on replicas) and readers run; every reader sees the write committed just before it, and
    at the end the rollup equals a rebuild."""
    sessions = make_sessionmaker(committed)
    settings = make_settings("postgresql+asyncpg://unused")
    cases = [
        Case(f"2026-03-0{1 + i % 9}T10:00", f"svc-{i % 4}", f"grp-{i % 3}", score=i % 11)
        for i in range(24)
    ]
    cases.append(Case("2026-03-10T10:00", "probe", score=0))
    tickets = await _seed_committed(committed, cases)
    probe, others = tickets[-1], tickets[:-1]
    writing = True
    rng = random.Random(11)

    async def writer(n: int) -> None:
        for i in range(30):
            t = rng.choice(others)
            async with sessions() as s:
                kind = (n + i) % 5
                if kind == 0:
                    await s.execute(
                        update(Response)
                        .where(Response.ticket_id == t.id)
                        .values(score=rng.randrange(11), lost_minutes=rng.choice([None, 10, 90]))
                    )
                elif kind == 1:
                    await s.execute(
                        update(Response)
                        .where(Response.ticket_id == t.id)
                        .values(automated=rng.random() < 0.5)
                    )
                elif kind == 2:
                    rid = await s.scalar(select(Response.id).where(Response.ticket_id == t.id))
                    await s.execute(delete(ResponseFactor).where(ResponseFactor.response_id == rid))
                    factor = rng.choice(["fast", "slow", "expert"])
                    await s.execute(
                        pg_insert(ResponseFactor)
                        .values(response_id=rid, factor=factor, polarity=factor_polarity(factor))
                        .on_conflict_do_nothing()  # another writer's, at the same moment
                    )
                elif kind == 3:
                    await s.execute(
                        update(Ticket)
                        .where(Ticket.id == t.id)
                        .values(assignment_group=f"grp-{rng.randrange(5)}")
                    )
                else:
                    await s.execute(
                        update(FeedbackRequest)
                        .where(FeedbackRequest.ticket_id == t.id)
                        .values(
                            status=rng.choice(["suppressed", "responded"]),
                            status_reason=rng.choice([None, "fatigue"]),
                        )
                    )
                await s.commit()

    async def drainer() -> None:
        while writing:
            await upkeep.drain_in_background(sessions, settings)
            await asyncio.sleep(0.005)

    async def reader() -> None:
        # As a dashboard page reads: several figures, each catching up, in one transaction.
        while writing:
            async with sessions() as s:
                await service.summary(s, ScoreFilter(), hourly_cost=0)
                await service.breakdown(s, ScoreFilter(), by=Dimension.service, hourly_cost=0)
                await service.summary(s, ScoreFilter(service="svc-1"), hourly_cost=0)
                await s.commit()

    async def read_your_writes() -> None:
        for score in [3, 9, 10, 0, 7, 5, 8, 1, 6, 10, 2, 4]:
            async with sessions() as s:
                await s.execute(
                    update(Response).where(Response.ticket_id == probe.id).values(score=score)
                )
                await s.commit()
            async with sessions() as s:
                figures = await service.summary(s, ScoreFilter(service="probe"), hourly_cost=0)
                await s.commit()
            assert figures.responses == 1
            assert figures.mean_normalised_score == score * 10

    async def writers_then_stop() -> None:
        nonlocal writing
        try:
            await asyncio.gather(*(writer(n) for n in range(5)), read_your_writes())
        finally:
            writing = False

    await asyncio.gather(
        writers_then_stop(), *(drainer() for _ in range(3)), *(reader() for _ in range(6))
    )

    async with sessions() as s:
        await assert_exact(s)
        assert await _queue(s) == []
        await s.rollback()


async def _score(sessions, ticket_id: uuid.UUID, score: int) -> None:
    async with sessions() as s:
        await s.execute(update(Response).where(Response.ticket_id == ticket_id).values(score=score))
        await s.commit()


async def _until_a_backend_waits_on_a_lock(sessions) -> None:
    deadline = time.monotonic() + 30
    while True:
        async with sessions() as s:
            waiting = await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        assert time.monotonic() < deadline, "the drain never reached the held row"
        await asyncio.sleep(0.02)


async def test_an_older_computation_never_overwrites_a_newer_one(committed: AsyncEngine) -> None:
    """Drain D1 takes tickets A and B, then is held up (another transaction holds A's row)
    while an answer on B commits. Drain D2, started then, must not recompute B before D1 has
    committed (D1's older figures for B would then overwrite D2's, and the bucket sums would
    subtract what D2 added): drains take turns (upkeep.DRAINING), so D2 waits for D1."""
    sessions = make_sessionmaker(committed)
    tickets = await _seed_committed(committed, [Case("2026-05-04T10:00", score=1)] * 2)
    a, b = sorted(t.id for t in tickets)
    async with sessions() as s:
        await upkeep.catch_up(s)
        await s.commit()
    await _score(sessions, a, 2)
    await _score(sessions, b, 5)

    async def drain() -> int:
        async with sessions() as s:
            n = await upkeep.drain_batch(s, skip_locked=True)
            await s.commit()
            return n

    async with sessions() as holder:
        await holder.execute(
            select(TicketScore.ticket_id).where(TicketScore.ticket_id == a).with_for_update()
        )
        d1 = asyncio.create_task(drain())
        await _until_a_backend_waits_on_a_lock(sessions)  # D1 took both changes, waits on A
        await _score(sessions, b, 9)
        d2 = asyncio.create_task(drain())
        await asyncio.sleep(0.5)
        assert not d2.done()  # waits for D1's turn to end
        await holder.rollback()
    assert await asyncio.wait_for(d1, 30) == 2
    assert await asyncio.wait_for(d2, 30) == 1

    async with sessions() as s:
        assert await _queue(s) == []
        rows = await score_rows(s)  # as stored: no catch-up
        assert (rows[a]["s10_sum"], rows[b]["s10_sum"]) == (2, 9)
        await assert_exact(s, catch_up=False)
        await s.rollback()


async def test_the_background_drain_gives_way_to_a_foreign_row_lock(committed: AsyncEngine) -> None:
    """Another session holds a ticket's row (no drain does: drains take turns, but an
    operator's session might); the background drain does not queue behind it: it gives its
    batch back and the next tick goes on."""
    sessions = make_sessionmaker(committed)
    settings = make_settings("postgresql+asyncpg://unused")
    (ticket,) = await _seed_committed(committed, [Case("2026-05-05T10:00", score=4)])
    async with sessions() as s:
        await upkeep.catch_up(s)
        await s.commit()
    await _score(sessions, ticket.id, 8)
    async with sessions() as reader:
        await reader.execute(
            select(TicketScore.ticket_id)
            .where(TicketScore.ticket_id == ticket.id)
            .with_for_update()
        )
        assert await asyncio.wait_for(upkeep.drain_in_background(sessions, settings), 30) == 0
        await reader.rollback()
    async with sessions() as s:
        assert await upkeep.queued(s) == 1  # given back, not lost
    assert await upkeep.drain_in_background(sessions, settings) == 1
    async with sessions() as s:
        assert (await score_rows(s))[ticket.id]["s10_sum"] == 8
        await s.rollback()


async def test_the_background_drain_empties_the_queue_within_its_bound(
    committed: AsyncEngine, pg_url: str
) -> None:
    """With the ticker running, the stored rollup catches up by itself (no reader involved)
    within one drain interval plus one pass: docs/scoring.md's bound. Polled, not timed."""
    settings = make_settings(pg_url, jobs={"enabled": True}, scoring={"drain_seconds": 0.5})
    sessions = make_sessionmaker(committed)
    cases = [
        Case(f"2026-04-{1 + i % 28:02d}T09:00", f"svc-{i % 7}", score=i % 11) for i in range(300)
    ]
    http = make_http_client(settings)
    scheduler = start_ticker(Worker(sessions, http, settings), sessions, settings)
    try:
        await _seed_committed(committed, cases)  # 600 queued changes in one commit
        deadline = time.monotonic() + settings.scoring.drain_seconds + upkeep.PASS_BOUND_SECONDS
        while True:
            async with sessions() as s:
                left = await upkeep.queued(s)
            if left == 0:
                break
            assert time.monotonic() < deadline, f"{left} changes still queued"
            await asyncio.sleep(0.05)
    finally:
        scheduler.shutdown(wait=False)
        await http.aclose()
    async with sessions() as s:
        assert len(await assert_exact(s, catch_up=False)) == len(cases)  # no reader drained
        assert await s.scalar(select(func.count()).select_from(TicketScore)) == len(cases)
        await s.rollback()


async def test_the_bucket_sums_never_lag_an_answer_past_the_bound(
    committed: AsyncEngine, pg_url: str
) -> None:
    """Answers arrive one after another while the ticker runs; each is in the stored bucket
    sums (read raw, no reader catching up) within one drain interval plus one pass, the bound
    docs/scoring.md states for every scoring table."""
    settings = make_settings(pg_url, jobs={"enabled": True}, scoring={"drain_seconds": 0.5})
    sessions = make_sessionmaker(committed)
    tickets = await _seed_committed(
        committed,
        [Case(f"2026-06-{1 + i % 28:02d}T09:00", agent="ann", score=5) for i in range(20)],
    )
    bound = settings.scoring.drain_seconds + upkeep.PASS_BOUND_SECONDS
    stored = text(
        "SELECT sum(s10_sum) FROM score_buckets WHERE dim = :dim AND value = :value AND grain = :g"
    )
    http = make_http_client(settings)
    scheduler = start_ticker(Worker(sessions, http, settings), sessions, settings)
    lags = []
    try:
        expected = 5 * len(tickets)
        for i, ticket in enumerate(random.Random(3).sample(tickets, 10)):
            score = i % 11
            await _score(sessions, ticket.id, score)
            answered = time.monotonic()
            expected += score - 5
            while True:
                async with sessions() as s:
                    sums = [
                        await s.scalar(stored, {"dim": dim, "value": value, "g": grain})
                        for dim, value, grain in (("*", "", 3), ("agent", "=ann", 1))
                    ]
                if sums == [expected, expected]:
                    break
                lag = time.monotonic() - answered
                assert lag < bound, f"answer {i} not in the sums after {lag:.1f} s: {sums}"
                await asyncio.sleep(0.02)
            lags.append(time.monotonic() - answered)
            await asyncio.sleep(random.Random(i).random() * 0.3)  # answers at any moment
    finally:
        scheduler.shutdown(wait=False)
        await http.aclose()
    assert max(lags) < bound
    async with sessions() as s:
        await assert_exact(s, catch_up=False)
        await s.rollback()


async def test_a_reader_holds_the_drain_lock_only_while_it_drains(committed: AsyncEngine) -> None:
    """A reader that wrote nothing drains in a short transaction of its own: other readers do
    not wait for its whole request. One that wrote drains in its own transaction and holds the
    lock until that ends (its changes are visible to nobody else)."""
    sessions = make_sessionmaker(committed)
    (ticket,) = await _seed_committed(committed, [Case("2026-05-06T10:00", score=3)])
    try_lock = text("SELECT pg_try_advisory_xact_lock(:key)")
    async with sessions() as s:
        await upkeep.catch_up(s)
        await s.commit()

    await _score(sessions, ticket.id, 9)
    async with sessions() as reader, sessions() as other:
        assert await upkeep.catch_up(reader) == 1
        assert (await _stored(reader, ticket.id))["s10_sum"] == 9  # drained and committed
        assert await other.scalar(try_lock, {"key": upkeep.DRAINING})  # lock already free
        await other.rollback()
        async with sessions() as fresh:  # committed: visible to everyone
            assert (await _stored(fresh, ticket.id))["s10_sum"] == 9

    async with sessions() as writer, sessions() as other:
        await writer.execute(
            update(Response).where(Response.ticket_id == ticket.id).values(score=4)
        )
        assert await upkeep.catch_up(writer) == 1
        assert (await _stored(writer, ticket.id))["s10_sum"] == 4
        assert not await other.scalar(try_lock, {"key": upkeep.DRAINING})  # held until it ends
        await writer.rollback()
        await other.rollback()


async def test_a_reader_catches_up_once_per_request(committed: AsyncEngine) -> None:
    """The figures of one read request come from one snapshot taken after its catch-up: an
    answer another request commits and drains meanwhile is left for the next request, so a
    page's figures (and the several statements of one figure) agree with each other."""
    sessions = make_sessionmaker(committed)
    (ticket,) = await _seed_committed(committed, [Case("2026-05-07T10:00", score=3)])
    filt = ScoreFilter(date_from="2026-05-01", date_to="2026-05-31", tz="Asia/Kolkata")
    async with sessions() as reader:
        first = await service.summary(reader, filt, hourly_cost=0)
        await _score(sessions, ticket.id, 10)
        async with sessions() as other:  # another request drains and commits
            assert (await service.summary(other, filt, hourly_cost=0)).happiness.happy == 1
            await other.rollback()
        again = await service.summary(reader, filt, hourly_cost=0)
        assert again == first
        await reader.rollback()
    async with sessions() as next_request:
        assert (await service.summary(next_request, filt, hourly_cost=0)).happiness.happy == 1
        await next_request.rollback()


async def test_readers_need_one_connection_each(committed: AsyncEngine) -> None:
    """Catching up takes no second connection: as many readers as the pool holds, all with
    something to drain, all finish (two connections each would starve the pool)."""
    (ticket,) = await _seed_committed(committed, [Case("2026-05-08T10:00", score=3)])
    await _score(make_sessionmaker(committed), ticket.id, 7)
    small = create_engine(str(committed.url.render_as_string(hide_password=False)), pool_size=1)
    sessions = make_sessionmaker(small)
    filt = ScoreFilter(date_from="2026-05-01", date_to="2026-05-31")

    async def read() -> int:
        async with sessions() as s:
            figures = await service.summary(s, filt, hourly_cost=0)
            await asyncio.sleep(0.3)  # both hold their connection at once
            await s.rollback()
            return figures.responses

    try:
        assert await asyncio.wait_for(asyncio.gather(read(), read()), 30) == [1, 1]
    finally:
        await small.dispose()
