"""The answer path writes its rows with prebuilt statements and keeps the loaded objects in step
with what it stored: nothing is left for the unit of work to compare or flush, and what the
page and the write-back read from those objects is what the database holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback.answers import Answer, Click, record_response
from app.feedback.models import FeedbackRequest, Response
from tests.feedback.conftest import BROWSER_HEADERS, make_request

HUMAN = Click(user_agent=BROWSER_HEADERS["user-agent"], headers=BROWSER_HEADERS)


async def stored_request(session: AsyncSession, request_id: uuid.UUID) -> dict:
    table = FeedbackRequest.__table__
    row = await session.execute(select(table).where(table.c.id == request_id))
    return dict(row.mappings().one())


async def test_a_first_answer_leaves_nothing_to_flush_and_objects_as_stored(
    any_session: AsyncSession, settings: Settings
) -> None:
    session = any_session
    sent = utcnow() - timedelta(hours=1)
    fb, _ = await make_request(session, settings, now=sent)
    await session.flush()
    answered = sent + timedelta(minutes=5)
    flushed: list[list[object]] = []

    def on_flush(sync_session, context, instances) -> None:
        flushed.append([*sync_session.dirty, *sync_session.new, *sync_session.deleted])

    event.listen(session.sync_session, "before_flush", on_flush)
    try:
        saved = await record_response(
            session,
            request=fb,
            answer=Answer(score=9, locale="de"),
            click=HUMAN,
            settings=settings,
            now=answered,
        )
    finally:
        event.remove(session.sync_session, "before_flush", on_flush)
    assert saved.counted
    assert flushed == [] and not session.dirty and not session.new
    row = await stored_request(session, fb.id)
    assert (row["status"], row["responded_at"], row["updated_at"]) == (
        "responded",
        answered,
        answered,
    )
    assert (fb.status, fb.responded_at, fb.updated_at) == ("responded", answered, answered)
    stored = (await session.execute(select(Response.__table__))).mappings().one()
    assert (stored["score"], stored["automated"], stored["locale"]) == (9, False, "de")
    assert stored["answered_at"] == answered
    assert saved.response.score == 9 and saved.response.evidence == stored["evidence"]

    # A changed answer keeps the first responded_at and moves updated_at, in both places.
    changed = answered + timedelta(minutes=3)
    again = await record_response(
        session, request=fb, answer=Answer(score=3), click=HUMAN, settings=settings, now=changed
    )
    assert again.counted
    row = await stored_request(session, fb.id)
    assert (row["responded_at"], row["updated_at"]) == (answered, changed)
    assert (fb.responded_at, fb.updated_at) == (answered, changed)
