"""ticket_scores stays exactly what a rebuild from scratch gives, whatever happens to the
feedback rows, on PostgreSQL and on SQLite (the queue of migration 0011, caught up on read)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.scoring.models import TicketScore
from app.tickets.models import Ticket
from tests.scoring.builders import FIXED, assert_exact, not_sent_rows, seed


async def test_rollup_follows_every_change(any_session: AsyncSession) -> None:
    s = any_session
    tickets = await seed(s, FIXED)
    first = await assert_exact(s)
    assert len(first) == len(FIXED)  # every ticket has its row, feedback or not
    assert sorted((r[1], r[2], r[3]) for r in await not_sent_rows(s)) == [
        ("failed", "smtp 550", 1),
        ("suppressed", "fatigue", 1),
    ]

    # A failed request retried later: the reason, then the status, change.
    t10 = tickets[9].id
    await s.execute(
        update(FeedbackRequest)
        .where(FeedbackRequest.ticket_id == t10)
        .values(status_reason="smtp 451")
    )
    await assert_exact(s)
    await s.execute(
        update(FeedbackRequest)
        .where(FeedbackRequest.ticket_id == t10)
        .values(status="sent", status_reason=None, sent_at=tickets[9].resolved_at)
    )
    after = await assert_exact(s)
    assert (after[t10]["requests_sent"], after[t10]["requests_not_sent"]) == (1, 0)
    assert [r[1] for r in await not_sent_rows(s)] == ["suppressed"]
    t1 = tickets[0].id
    assert first[t1]["responses"] == 1 and first[t1]["f_fast"] == 1
    assert first[t1]["requests_sent"] == 1 and first[t1]["s10_happy"] == 1

    r1 = await s.scalar(select(Response.id).where(Response.ticket_id == t1))
    await s.execute(update(Response).where(Response.id == r1).values(score=2, lost_minutes=720))
    after = await assert_exact(s)
    assert after[t1]["s10_unhappy"] == 1 and after[t1]["lost_720"] == 1

    await s.execute(
        delete(ResponseFactor).where(
            ResponseFactor.response_id == r1, ResponseFactor.factor == "fast"
        )
    )
    s.add(ResponseFactor(response_id=r1, factor="slow", polarity="negative"))
    await s.flush()
    after = await assert_exact(s)
    assert (after[t1]["f_fast"], after[t1]["f_slow"], after[t1]["negative_responses"]) == (0, 1, 1)

    # A response judged automated afterwards stops counting, factors included.
    await s.execute(update(Response).where(Response.id == r1).values(automated=True))
    after = await assert_exact(s)
    assert after[t1]["responses"] == after[t1]["negative_responses"] == 0

    t2 = tickets[1].id
    await s.execute(
        update(FeedbackRequest).where(FeedbackRequest.ticket_id == t2).values(sent_at=None)
    )
    await s.execute(delete(Response).where(Response.ticket_id == t2))
    after = await assert_exact(s)
    assert after[t2]["responses"] == after[t2]["requests_sent"] == 0

    # The ticket's own fields are copied, and follow its changes.
    await s.execute(update(Ticket).where(Ticket.id == t2).values(service="Phones", sla_met=False))
    after = await assert_exact(s)
    assert (after[t2]["service"], after[t2]["sla_known"], after[t2]["sla_met"]) == ("Phones", 1, 0)

    # Moving a response to another ticket updates both tickets' rows.
    t3, t4 = tickets[2].id, tickets[3].id
    await s.execute(update(Response).where(Response.ticket_id == t3).values(ticket_id=t4))
    after = await assert_exact(s)
    assert after[t4]["responses"] == 2

    await s.execute(delete(Ticket).where(Ticket.id == t4))
    after = await assert_exact(s)
    assert t4 not in after
    assert (await s.get(TicketScore, t4)) is None  # gone with its ticket
