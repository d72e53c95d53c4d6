"""Must show 5: two workers sending concurrently send each e-mail once; failures retry, then
the request is marked failed with the reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.db import make_sessionmaker
from app.feedback import service
from app.feedback.delivery import deliver
from app.feedback.models import FeedbackRequest
from app.feedback.schemas import SendEmail
from app.http import make_http_client
from app.jobs import queue
from app.jobs.models import Job
from app.jobs.registry import TransientError
from app.jobs.worker import Worker
from app.main import load_handlers
from tests.feedback.conftest import SmtpServer, free_port, make_connector, make_ticket, stored


def smtp_settings(settings: Settings, **smtp: Any) -> Settings:
    jobs = settings.jobs.model_copy(update={"batch_size": 1})
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update=smtp), "jobs": jobs})


async def test_two_workers_draining_together_send_each_email_once(
    committed: AsyncEngine, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_settings(settings, **smtp_server.settings())
    sessions = make_sessionmaker(committed)
    addresses = []
    async with sessions() as s:
        connector = await make_connector(s)
        for i in range(10):
            ticket = await make_ticket(s, connector, requester_email=f"p{i}@example.com")
            outcome = await service.create_request(
                s,
                ticket=ticket,
                channel="email",
                sampling_percent=100,
                cycle="c1",
                settings=settings,
                now=utcnow(),
            )
            # A duplicate of the job, as after a lost lease or an operator's retry.
            await queue.enqueue(
                s,
                "feedback.send_email",
                SendEmail(request_id=outcome.request.id),
                run_after=utcnow(),
            )
            addresses.append(ticket.requester_email)
        await s.commit()
    load_handlers()
    smtp_server.inbox.delay = 0.05  # widen the window in which both hold a job for one request
    async with make_http_client(settings) as http:
        workers = [Worker(sessions, http, settings, name=f"w{n}") for n in (1, 2)]
        counts = await asyncio.gather(*(w.drain() for w in workers))
    assert sum(counts) == 20 and all(counts), counts  # both workers did work
    assert sorted(to for _, (to,) in smtp_server.inbox.envelopes) == sorted(addresses)
    async with sessions() as s:
        assert set((await s.scalars(select(Job.status))).all()) == {"done"}
        statuses = (await s.scalars(select(FeedbackRequest.status))).all()
        assert set(statuses) == {"sent"}


async def test_a_failed_send_is_retried_then_marked_failed(
    session: AsyncSession, settings: Settings
) -> None:
    settings = smtp_settings(settings, host="127.0.0.1", port=free_port(), timeout_seconds=2)
    connector = await make_connector(session)
    ticket = await make_ticket(session, connector)
    outcome = await service.create_request(
        session,
        ticket=ticket,
        channel="email",
        sampling_percent=100,
        cycle="c1",
        settings=settings,
        now=utcnow(),
    )
    payload = SendEmail(request_id=outcome.request.id)
    await session.commit()
    attempt = await session.begin_nested()
    with pytest.raises(TransientError):
        await deliver(session, payload, settings=settings, now=utcnow(), last_attempt=False)
    await attempt.rollback()  # what the worker does with a failed attempt
    outcome.request = await stored(session, outcome.request)
    assert outcome.request.status == "pending" and outcome.request.sent_at is None
    assert not await deliver(session, payload, settings=settings, now=utcnow(), last_attempt=True)
    outcome.request = await stored(session, outcome.request)
    assert outcome.request.status == "failed"
    assert outcome.request.status_reason  # the SMTP error, for the admin API


async def test_each_resend_is_sent_once(
    session: AsyncSession, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = smtp_settings(settings, **smtp_server.settings())
    connector = await make_connector(session)
    ticket = await make_ticket(session, connector, requester_locale="es")
    outcome = await service.create_request(
        session,
        ticket=ticket,
        channel="email",
        sampling_percent=100,
        cycle="c1",
        settings=settings,
        now=utcnow(),
    )
    first = SendEmail(request_id=outcome.request.id)
    assert await deliver(session, first, settings=settings, now=utcnow(), last_attempt=False)
    await service.resend(session, request_id=outcome.request.id, settings=settings, now=utcnow())
    resend = SendEmail(request_id=outcome.request.id, kind="resend", resend_number=1)
    sent = [
        await deliver(session, p, settings=settings, now=utcnow(), last_attempt=False)
        for p in (resend, resend, first)
    ]
    assert sent == [True, False, False]
    subjects = [m["Subject"] for m in smtp_server.inbox.messages]
    assert len(subjects) == 2 and all("¿Qué tal lo hicimos?" in s for s in subjects)
    outcome.request = await stored(session, outcome.request)
    assert outcome.request.resend_count == 1
