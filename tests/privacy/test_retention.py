"""Retention on PostgreSQL and SQLite: the periodic tick enqueues one job when due, a worker
clears old comments, identities and webhook bodies in batches, figures stay, /metrics says so."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clock import utcnow
from app.config import RetentionSettings
from app.connectors.models import InboundEvent
from app.db import create_engine, make_sessionmaker
from app.feedback.models import FeedbackRequest, Response
from app.jobs.models import Job
from app.privacy import jobs as privacy_jobs
from app.privacy import retention
from app.privacy.models import RetentionState
from app.scoring.models import TicketScore
from app.tickets.models import Ticket
from tests.conftest import truncate_all
from tests.feedback.conftest import make_connector, make_ticket
from tests.jobs.conftest import make_worker

NOW = utcnow()
OLD = NOW - timedelta(days=800)  # past every default
RECENT = NOW - timedelta(days=2)


@pytest.fixture(params=["postgres", "sqlite"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    url = request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")
    eng = create_engine(url)
    await truncate_all(eng)
    yield eng
    await truncate_all(eng)
    await eng.dispose()


async def _answered(session: AsyncSession, ticket: Ticket, when, comment: str) -> Response:
    request = FeedbackRequest(
        ticket_id=ticket.id,
        connector_id=ticket.connector_id,
        dedupe_key=f"{ticket.id}:c1",
        token_hash=uuid.uuid4().hex,
        status="responded",
        channel="email",
        scale="happiness-0-10",
        recipient_email=ticket.requester_email,
        requester_key=f"email:{ticket.requester_email}",
        sent_at=when,
        responded_at=when,
        expires_at=when + timedelta(days=7),
        created_at=when,
        updated_at=when,
    )
    session.add(request)
    await session.flush()
    response = Response(
        request_id=request.id,
        ticket_id=ticket.id,
        score=4,
        scale="happiness-0-10",
        lost_time="1_2h",
        lost_minutes=90,
        comment=comment,
        answered_at=when,
        created_at=when,
        updated_at=when,
    )
    session.add(response)
    return response


async def _event(session: AsyncSession, connector_id: uuid.UUID, when, n: int) -> None:
    session.add(
        InboundEvent(
            connector_id=connector_id,
            delivery_id=f"d-{n}",
            status="processed",
            headers={"webhook-id": f"d-{n}"},
            body=b'{"requester": {"email": "old@example.com"}}',
            received_at=when,
        )
    )


async def _rows(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s:
        connector = await make_connector(s)
        for n, when in enumerate((OLD, OLD, RECENT)):
            ticket = await make_ticket(
                s, connector, requester_email=f"p{n}@example.com", resolved_at=when
            )
            await _answered(s, ticket, when, f"comment {n}")
            await _event(s, connector.id, when, n)
            s.add(  # a finished write-back carries the comment in its payload
                Job(
                    name="connectors.write_back",
                    payload={"comment": f"comment {n}"},
                    status="done",
                    run_after=when,
                    finished_at=when,
                )
            )
        await s.commit()


async def _scores(s: AsyncSession) -> list[tuple]:
    rows = (await s.scalars(select(TicketScore).order_by(TicketScore.ticket_id))).all()
    return [tuple(getattr(r, c.key) for c in TicketScore.__table__.columns) for r in rows]


async def test_the_tick_enqueues_a_job_that_clears_old_data_and_keeps_figures(
    engine: AsyncEngine,
) -> None:
    await _rows(engine)
    sessions = make_sessionmaker(engine)
    worker = make_worker(engine, "w1")
    async with sessions() as s:
        scores = await _scores(s)
        await privacy_jobs.enqueue_retention(s, worker.settings, NOW)
        await privacy_jobs.enqueue_retention(s, worker.settings, NOW)  # another replica
        await s.commit()
        jobs = (await s.scalars(select(Job).where(Job.name == "privacy.apply_retention"))).all()
        assert len(jobs) == 1
    assert await worker.run_once(NOW) == 1

    async with sessions() as s:
        assert (await s.get(Job, jobs[0].id)).status == "done"  # type: ignore[union-attr]
        comments = sorted(
            (r.answered_at == RECENT, r.comment) for r in (await s.scalars(select(Response)))
        )
        assert comments == [(False, None), (False, None), (True, "comment 2")]
        tickets = (await s.scalars(select(Ticket).order_by(Ticket.resolved_at))).all()
        assert [(t.requester_email, t.requester_name) for t in tickets] == [
            (None, None),
            (None, None),
            ("p2@example.com", "Kim Lee"),
        ]
        requests = (await s.scalars(select(FeedbackRequest))).all()
        assert sorted(str(r.recipient_email) for r in requests) == [
            "None",
            "None",
            "p2@example.com",
        ]
        bodies = sorted(len(e.body) for e in (await s.scalars(select(InboundEvent))))
        assert bodies[:2] == [0, 0] and bodies[2] > 0
        assert await _scores(s) == scores  # figures never change
        states = {st.kind: st for st in (await s.scalars(select(RetentionState)))}
        written = select(Job.payload).where(Job.name == "connectors.write_back")
        assert list(await s.scalars(written)) == [{"comment": "comment 2"}]
        assert {k: st.cleared_last for k, st in states.items()} == {
            "comments": 4,  # two comments, two finished write-backs
            "identities": 4,  # two tickets, two requests
            "webhook_bodies": 2,
        }
        # Not due again within the hour; no second job.
        await privacy_jobs.enqueue_retention(s, worker.settings, NOW + timedelta(minutes=5))
        await s.commit()
    assert await worker.run_once(NOW + timedelta(minutes=5)) == 0


async def test_zero_keeps_forever_and_a_backlog_is_worked_off_in_batches(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _rows(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        forever = RetentionSettings(comment_days=0, identity_days=0, webhook_body_days=0)
        assert await retention.apply(s, forever, NOW) == {
            "comments": 0,
            "identities": 0,
            "webhook_bodies": 0,
        }
        monkeypatch.setattr(retention, "BATCH", 1)
        monkeypatch.setattr(retention, "MAX_BATCHES", 1)
        only_comments = RetentionSettings(comment_days=365, identity_days=0, webhook_body_days=0)
        # One comment and one finished job per run: two runs, then nothing left.
        assert (await retention.apply(s, only_comments, NOW))["comments"] == 2
        assert await retention.due(s, NOW, timedelta(hours=1))  # a backlog: run again
        assert (await retention.apply(s, only_comments, NOW))["comments"] == 2
        assert (await retention.apply(s, only_comments, NOW))["comments"] == 0
        assert not await retention.due(s, NOW, timedelta(hours=1))
        state = await s.get(RetentionState, "comments")
        assert state is not None and state.cleared_total == 4


async def test_metrics_report_rows_cleared_and_the_last_run(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    session.add(RetentionState(kind="comments", last_run_at=NOW, cleared_last=3, cleared_total=7))
    await session.flush()
    await retention.refresh_metrics(session)
    text = (await client.get("/metrics", headers=read_headers)).text
    assert 'xpulse_retention_cleared_rows{kind="comments"} 7.0' in text
    assert 'xpulse_retention_last_cleared_rows{kind="comments"} 3.0' in text
    (stamp,) = re.findall(
        r'xpulse_retention_last_run_timestamp_seconds\{kind="comments"\} (\S+)', text
    )
    assert float(stamp) == pytest.approx(NOW.timestamp())
