"""Clicks on one mail that land at the same moment, on separate connections as replicas and
concurrent requests run them: an open of another option and a one-click answer must each see the
other, whichever commits first. A scanner opening every face in turn produced exactly this (its
page's post of one face racing its fetch of the next), and the answer stayed counted, or stayed
"responded" with its write-back withdrawn."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.config import Settings
from app.feedback import answers
from app.feedback.answers import Answer, Click
from app.feedback.models import FeedbackRequest, OpenKind, Response
from app.feedback.writeback import JOB
from app.jobs.models import Job
from tests.feedback.conftest import BROWSER_HEADERS, make_request

# The page's script posting the mail's score (one-click): judged on the mail's evidence.
AUTO = Click(
    user_agent=BROWSER_HEADERS["user-agent"],
    headers=BROWSER_HEADERS,
    signals={"mode": "auto", "trusted": None, "visible": True, "since_ms": 1500},
    client_hash="client-a",
    mode="auto",
    view_age_ms=1500,
)

Step = Callable[[AsyncSession], Awaitable[None]]


async def open_link(session: AsyncSession, token: str, score: int, settings: Settings) -> None:
    """What GET /f/{token}?s=score does to the database."""
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now)
    await answers.record_open(
        session,
        request=fb,
        kind=OpenKind.page,
        score=score,
        user_agent=BROWSER_HEADERS["user-agent"],
        client_hash="client-a",
        settings=settings,
        now=now,
    )


async def answer(session: AsyncSession, token: str, score: int, settings: Settings) -> None:
    """What the page's one-click POST /f/{token} does to the database."""
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now)
    await answers.record_response(
        session, request=fb, answer=Answer(score=score), click=AUTO, settings=settings, now=now
    )


async def waits_or_ends(
    engine: AsyncEngine, task: asyncio.Task, parked: asyncio.Event, budget: float = 20
) -> None:
    """Until the second transaction has finished, waits on a lock the first one holds, or has
    parked itself where the test wants it to wait for the first one's commit."""
    deadline = time.monotonic() + budget
    while not task.done() and not parked.is_set():
        async with engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waiting:
            return
        assert time.monotonic() < deadline, "the second transaction neither ended nor waited"
        await asyncio.sleep(0.02)


async def interleave(
    engine: AsyncEngine,
    first: Step,
    second: Step,
    *,
    parked: asyncio.Event | None = None,
    first_committed: asyncio.Event | None = None,
) -> None:
    """`first` runs and holds its transaction open while `second` starts on another connection;
    then `first` commits (and sets `first_committed`), and `second` finishes."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as held:
        await first(held)

        async def run_second() -> None:
            async with sessions() as other:
                await second(other)
                await other.commit()

        task = asyncio.create_task(run_second())
        try:
            await waits_or_ends(engine, task, parked or asyncio.Event())
            await held.commit()
            if first_committed is not None:
                first_committed.set()
        except BaseException:
            task.cancel()
            raise
        finally:
            await asyncio.gather(task, return_exceptions=True)
        await task


async def outcome(engine: AsyncEngine, request_id: uuid.UUID) -> tuple[str, Response, int]:
    async with async_sessionmaker(engine)() as s:
        status = await s.scalar(
            select(FeedbackRequest.status).where(FeedbackRequest.id == request_id)
        )
        response = await s.scalar(select(Response).where(Response.request_id == request_id))
        pending = await s.scalar(
            select(text("count(*)"))
            .select_from(Job)
            .where(Job.name == JOB, Job.status == "pending")
        )
    assert status is not None and response is not None
    return status, response, pending


async def mail_with_one_face_opened(
    engine: AsyncEngine, settings: Settings
) -> tuple[uuid.UUID, str]:
    """A delivered request whose face 1 was opened (its page is about to post 1)."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        fb, links = await make_request(s, settings)
    token = links["1"].split("/f/")[1].split("?")[0]
    async with async_sessionmaker(engine)() as s:
        await open_link(s, token, 1, settings)
        await s.commit()
    return fb.id, token


async def test_alone_the_one_click_answer_counts(
    committed: AsyncEngine, settings: Settings
) -> None:
    """The control: with no other face opened, the page's post of face 1 is counted and written
    back, so the races below fail when they count it."""
    request_id, token = await mail_with_one_face_opened(committed, settings)
    async with async_sessionmaker(committed)() as s:
        await answer(s, token, 1, settings)
        await s.commit()
    status, response, pending = await outcome(committed, request_id)
    assert (status, response.automated, pending) == ("responded", False, 1)


@pytest.mark.parametrize("in_flight", ["answer", "open"])
async def test_an_answer_and_an_open_of_another_face_see_each_other(
    committed: AsyncEngine, settings: Settings, in_flight: str
) -> None:
    request_id, token = await mail_with_one_face_opened(committed, settings)

    async def post_1(s: AsyncSession) -> None:
        await answer(s, token, 1, settings)

    async def open_2(s: AsyncSession) -> None:
        await open_link(s, token, 2, settings)

    if in_flight == "answer":
        await interleave(committed, post_1, open_2)
    else:
        await interleave(committed, open_2, post_1)
    status, response, pending = await outcome(committed, request_id)
    assert response.automated, response.evidence
    assert "several_options_opened" in response.evidence["reasons"]
    assert (status, pending) == ("sent", 0)


async def test_a_demotion_sees_the_status_an_answer_in_flight_leaves(
    committed: AsyncEngine, settings: Settings
) -> None:
    """Face 2 is opened while the page's post of face 1 is in flight; the open's request was
    read before that post committed, and the open judges after it. The demotion must reset the
    status the post left ("responded"), not the one it read first."""
    request_id, token = await mail_with_one_face_opened(committed, settings)
    loaded, posted = asyncio.Event(), asyncio.Event()

    async def post_1(s: AsyncSession) -> None:
        await answer(s, token, 1, settings)

    async def open_2_judged_late(s: AsyncSession) -> None:
        now = utcnow()
        fb = await answers.request_by_token(s, token, now=now)
        loaded.set()
        await posted.wait()
        await answers.record_open(
            s,
            request=fb,
            kind=OpenKind.page,
            score=2,
            user_agent=BROWSER_HEADERS["user-agent"],
            client_hash="client-a",
            settings=settings,
            now=now,
        )

    await interleave(committed, post_1, open_2_judged_late, parked=loaded, first_committed=posted)
    status, response, pending = await outcome(committed, request_id)
    assert response.automated, response.evidence
    assert (status, pending) == ("sent", 0)
