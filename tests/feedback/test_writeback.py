"""The write-back to the ticket: a change the ticket never sees must not strand a pending job."""

from __future__ import annotations

from datetime import timedelta

import httpx
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback.answers import Answer, Click, record_response
from app.jobs import queue
from app.jobs.models import Job, JobStatus
from app.tickets.events import WriteBack
from tests.feedback.conftest import BROWSER_HEADERS, jobs_named, make_request, response_of

HUMAN = Click(user_agent=BROWSER_HEADERS["user-agent"], headers=BROWSER_HEADERS)
JSON = {**BROWSER_HEADERS, "accept": "application/json"}


async def pending_write_backs(session: AsyncSession) -> list[Job]:
    jobs = await jobs_named(session, "connectors.write_back")
    return [j for j in jobs if j.status == JobStatus.pending]


def still_current(job: Job, stored_updated_at: object) -> bool:
    """What connectors.write_back checks before writing: the payload is not older than the row."""
    payload = WriteBack.model_validate(job.payload)
    return not payload.response_updated_at < stored_updated_at  # type: ignore[operator]


async def test_a_language_only_change_keeps_the_pending_write_back_current(
    session: AsyncSession, settings: Settings
) -> None:
    # Answers a few minutes in the past: the ORM's wall-clock onupdate would differ from them.
    sent = utcnow() - timedelta(minutes=10)
    fb, _ = await make_request(session, settings, now=sent)
    first = sent + timedelta(minutes=5)
    await record_response(
        session,
        request=fb,
        answer=Answer(score=9, locale="en"),
        click=HUMAN,
        settings=settings,
        now=first,
    )
    await record_response(
        session,
        request=fb,
        answer=Answer(score=9, locale="de"),
        click=HUMAN,
        settings=settings,
        now=first + timedelta(minutes=1),
    )
    response = await response_of(session, fb.id)
    assert response is not None and response.locale == "de" and response.score == 9
    assert response.updated_at == first  # nothing the ticket sees changed
    (job,) = await pending_write_backs(session)
    assert job.payload["score"] == 9
    assert still_current(job, response.updated_at)


async def test_a_language_only_repost_on_the_page_still_writes_the_score_back(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The reviewer's reproduction: score 9 with lang=en, then score 9 with lang=de."""
    fb, links = await make_request(session, settings)
    token = links["9"].split("/f/")[1].split("?")[0]
    for lang in ("en", "de"):
        answer = await client.post(f"/f/{token}", data={"score": "9", "lang": lang}, headers=JSON)
        assert answer.status_code == 200, answer.text
    response = await response_of(session, fb.id)
    assert response is not None and response.locale == "de"
    (job,) = await pending_write_backs(session)
    assert still_current(job, response.updated_at)


async def test_a_changed_answer_replaces_the_pending_write_back_with_a_current_one(
    session: AsyncSession, settings: Settings
) -> None:
    sent = utcnow() - timedelta(minutes=10)
    fb, _ = await make_request(session, settings, now=sent)
    first = sent + timedelta(minutes=5)
    for offset, answer in enumerate((Answer(score=9, locale="en"), Answer(score=4, locale="fi"))):
        await record_response(
            session,
            request=fb,
            answer=answer,
            click=HUMAN,
            settings=settings,
            now=first + timedelta(minutes=offset),
        )
    response = await response_of(session, fb.id)
    assert response is not None and response.updated_at == first + timedelta(minutes=1)
    jobs = await jobs_named(session, "connectors.write_back")
    superseded = [j for j in jobs if j.status == JobStatus.done]
    assert [j.payload["score"] for j in superseded] == [9]
    assert superseded[0].last_error == "superseded by a newer answer"
    (job,) = await pending_write_backs(session)
    assert job.payload["score"] == 4 and still_current(job, response.updated_at)


class Nothing(BaseModel):
    pass


async def test_cancel_pending_closes_only_pending_jobs_of_that_name_and_literal_prefix(
    any_session: AsyncSession,
) -> None:
    """The queue function feedback supersedes with (kept here: feedback owns its only caller),
    on PostgreSQL and SQLite."""
    session = any_session
    now = utcnow()
    keys = {
        "pending": ("connectors.write_back", "write_back:r1:a"),
        "pending_too": ("connectors.write_back", "write_back:r1:\u00e9\U0001f600"),
        "running": ("connectors.write_back", "write_back:r1:b"),
        "other_name": ("connectors.post_comment", "write_back:r1:c"),
        "other_response": ("connectors.write_back", "write_back:r12:a"),
        "wildcard": ("connectors.write_back", "writeXback:r1:a"),  # `_` must not match any char
        # Around the key range the index finds (byte order, whatever the collation):
        "next_prefix": ("connectors.write_back", "write_back:r1;"),
        "shorter": ("connectors.write_back", "write_back:r1"),
        "other_case": ("connectors.write_back", "WRITE_BACK:r1:a"),
    }
    ids = {}
    for label, (name, key) in keys.items():
        ids[label] = await queue.enqueue(session, name, Nothing(), dedupe_key=key, run_after=now)
    await session.execute(update(Job).where(Job.id == ids["running"]).values(status="running"))
    cancelled = await queue.cancel_pending(
        session,
        name="connectors.write_back",
        dedupe_prefix="write_back:r1:",
        now=now,
        reason="superseded by a newer answer",
    )
    assert cancelled == 2
    rows = await session.execute(
        select(Job.id, Job.status, Job.finished_at, Job.last_error)
        .where(Job.id.in_(ids.values()))
        .execution_options(populate_existing=True)
    )
    by_id = {row.id: row for row in rows}
    for label in ("pending", "pending_too"):
        done = by_id[ids[label]]
        assert (done.status, done.finished_at, done.last_error) == (
            "done",
            now,
            "superseded by a newer answer",
        )
    others = {label: by_id[ids[label]].status for label in keys if "pending" not in label}
    assert others == {
        "running": "running",
        "other_name": "pending",
        "other_response": "pending",
        "wildcard": "pending",
        "next_prefix": "pending",
        "shorter": "pending",
        "other_case": "pending",
    }
