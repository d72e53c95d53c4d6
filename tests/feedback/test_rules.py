"""Must show 4: reminder timing, none after a response or expiry, expiry (410), the fatigue
window, sampling, opt-out, and every suppression stored with its reason; delivery per channel."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback import jobs as feedback_jobs
from app.feedback import rules, service
from app.feedback.answers import Answer, Click, record_open, record_response
from app.feedback.delivery import deliver
from app.feedback.models import FeedbackOpen, FeedbackRequest, OptOut
from app.feedback.schemas import SendEmail
from tests.feedback.conftest import (
    BROWSER_HEADERS,
    SmtpServer,
    jobs_named,
    make_connector,
    make_request,
    make_ticket,
    path_of,
    stored,
)

HUMAN = Click(user_agent=BROWSER_HEADERS["user-agent"], headers=BROWSER_HEADERS)


def with_smtp(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update=smtp.settings())})


async def test_one_reminder_after_the_delay(
    session: AsyncSession, settings: Settings, smtp_server: SmtpServer
) -> None:
    settings = with_smtp(settings, smtp_server)
    sent = utcnow() - timedelta(hours=30)
    fb, _ = await make_request(session, settings, now=sent)
    await feedback_jobs.enqueue_reminders(session, settings, sent + timedelta(hours=23))
    assert await jobs_named(session, "feedback.send_reminder") == []
    due = sent + timedelta(hours=24, minutes=1)
    for _ in range(2):  # two replicas ticking together
        await feedback_jobs.enqueue_reminders(session, settings, due)
    (job,) = await jobs_named(session, "feedback.send_reminder")
    assert job.dedupe_key == f"reminder:{fb.id}:1"
    payload = SendEmail.model_validate(job.payload)
    assert await deliver(session, payload, settings=settings, now=due, last_attempt=False)
    assert not await deliver(session, payload, settings=settings, now=due, last_attempt=False)
    (mail,) = smtp_server.inbox.messages
    assert "A quick reminder" in mail.get_body(preferencelist=("plain",)).get_content()
    await session.refresh(fb)
    assert fb.reminded_at == due
    job.status = "done"
    await feedback_jobs.enqueue_reminders(session, settings, due + timedelta(hours=30))
    assert len(await jobs_named(session, "feedback.send_reminder")) == 1


async def test_no_reminder_after_a_response_but_after_a_scanner_click(
    session: AsyncSession, settings: Settings
) -> None:
    sent = utcnow() - timedelta(hours=30)
    answered, _ = await make_request(session, settings, now=sent)
    scanned, _ = await make_request(session, settings, now=sent)
    await record_response(
        session,
        request=answered,
        answer=Answer(score=8),
        click=HUMAN,
        settings=settings,
        now=sent + timedelta(minutes=5),
    )
    scanner = Click(user_agent="Mimecast URL scanner", headers={})
    await record_response(
        session,
        request=scanned,
        answer=Answer(score=10),
        click=scanner,
        settings=settings,
        now=sent,
    )
    await feedback_jobs.enqueue_reminders(session, settings, utcnow())
    jobs = await jobs_named(session, "feedback.send_reminder")
    assert [j.payload["request_id"] for j in jobs] == [str(scanned.id)]


async def test_no_reminder_after_expiry_and_expired_links_answer_410(
    session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    sent = utcnow() - timedelta(days=8)
    fb, links = await make_request(session, settings, now=sent)
    await feedback_jobs.enqueue_reminders(session, settings, utcnow())
    assert await jobs_named(session, "feedback.send_reminder") == []
    await feedback_jobs.enqueue_expiry(session, settings, utcnow())
    await feedback_jobs.enqueue_expiry(session, settings, utcnow())
    assert len(await jobs_named(session, "feedback.expire_requests")) == 1
    assert await feedback_jobs.expire_due(session, now=utcnow()) >= 1
    await session.refresh(fb)
    assert fb.status == "expired"
    page = await client.get(path_of(links["5"]), headers=BROWSER_HEADERS)
    assert page.status_code == 410


async def test_fatigue_window_suppresses_with_its_reason(
    session: AsyncSession, settings: Settings
) -> None:
    settings.feedback.fatigue_days = 7
    connector = await make_connector(session)
    now = utcnow()

    async def ask(days: int) -> FeedbackRequest:
        ticket = await make_ticket(session, connector, requester_email="Pat@Example.com")
        outcome = await service.create_request(
            session,
            ticket=ticket,
            channel="email",
            sampling_percent=100,
            cycle="c1",
            settings=settings,
            now=now + timedelta(days=days),
        )
        return outcome.request

    first = await ask(0)
    second = await ask(3)
    third = await ask(8)
    assert (first.status, second.status, third.status) == ("pending", "suppressed", "pending")
    assert second.status_reason == "fatigue"
    settings.feedback.fatigue_days = 0
    assert (await ask(9)).status == "pending"


async def test_sampling_is_per_connector_deterministic_and_recorded(
    session: AsyncSession, settings: Settings
) -> None:
    none, links = await make_request(session, settings, sampling_percent=0)
    assert none.status == "suppressed" and none.status_reason == "sampling" and links == {}
    assert await jobs_named(session, "feedback.send_email") == []
    keys = [f"conn:T-{i}:c1" for i in range(400)]
    chosen = [k for k in keys if rules.sampled_in(k, 25)]
    assert 60 < len(chosen) < 140
    assert chosen == [k for k in keys if rules.sampled_in(k, 25)]
    assert all(rules.sampled_in(k, 100) for k in keys)


async def test_opted_out_requesters_are_never_asked_again(
    session: AsyncSession, settings: Settings
) -> None:
    now = utcnow()
    session.add(OptOut(requester_key="email:gone@example.com", created_at=now, source="link"))
    await session.flush()
    fb, links = await make_request(session, settings, requester_email="GONE@example.com")
    assert (fb.status, fb.status_reason, links) == ("suppressed", "opted_out", {})
    # An address found later by the contact look-up is checked too.
    pending, _ = await make_request(session, settings, sent=False, requester_email=None)
    await service.set_recipient(
        session, request_id=pending.id, email="gone@example.com", settings=settings, now=now
    )
    await session.refresh(pending)
    assert (pending.status, pending.status_reason) == ("suppressed", "opted_out")


async def test_each_channel_enqueues_its_delivery_once(
    session: AsyncSession, settings: Settings
) -> None:
    connector = await make_connector(session, channel="ticket_comment")
    now = utcnow()

    async def create(channel: str, **fields: object) -> service.RequestOutcome:
        ticket = await make_ticket(session, connector, **fields)
        return await service.create_request(
            session,
            ticket=ticket,
            channel=channel,
            sampling_percent=100,
            cycle="c1",
            settings=settings,
            now=now,
        )

    mail = await create("email")
    (job,) = await jobs_named(session, "feedback.send_email")
    assert job.dedupe_key == f"send_email:{mail.request.id}"
    no_address = await create("email", requester_email=None)
    assert no_address.needs_contact and no_address.links
    await service.fallback_to_comment(
        session, request_id=no_address.request.id, reason="no address", settings=settings, now=now
    )
    comment = await create("ticket_comment", requester_locale="fi")
    comments = await jobs_named(session, "connectors.post_comment")
    assert sorted(j.dedupe_key for j in comments) == sorted(
        [f"post_comment:{no_address.request.id}", f"post_comment:{comment.request.id}"]
    )
    text = next(j for j in comments if str(comment.request.id) in j.dedupe_key).payload["text"]
    assert text.startswith("Miten onnistuimme") and comment.links["10"] in text
    no_address.request = await stored(session, no_address.request)
    assert no_address.request.channel == "ticket_comment"
    assert no_address.request.status_reason == "no address"
    assert await service.mark_delivered(session, request_id=comment.request.id, now=now)
    assert not await service.mark_delivered(session, request_id=comment.request.id, now=now)
    silent = await create("none")
    assert silent.request.status == "sent" and silent.links
    # A retried webhook returns the same request and enqueues nothing more.
    again = await service.create_request(
        session,
        ticket=await session.get(service.Ticket, mail.request.ticket_id),
        channel="email",
        sampling_percent=100,
        cycle="c1",
        settings=settings,
        now=now,
    )
    assert not again.created and again.request.id == mail.request.id
    assert len(await jobs_named(session, "feedback.send_email")) == 1


async def test_no_reminder_once_the_requester_opted_out(
    session: AsyncSession, settings: Settings, smtp_server: SmtpServer, client: httpx.AsyncClient
) -> None:
    settings = with_smtp(settings, smtp_server)
    sent = utcnow() - timedelta(hours=30)
    fb, links = await make_request(session, settings, now=sent, requester_email="lee@example.com")
    token = path_of(links["1"]).split("?")[0]
    # A mail provider's RFC 8058 one-click unsubscribe: a POST, no person, no page.
    one_click = await client.post(
        f"{token}/opt-out", data={"List-Unsubscribe": "One-Click"}, headers={}
    )
    assert one_click.status_code == 200
    opt_out = await session.get(OptOut, "email:lee@example.com")
    assert opt_out is not None and opt_out.source == "list-unsubscribe"
    await feedback_jobs.enqueue_reminders(session, settings, utcnow())
    payload = SendEmail(request_id=fb.id, kind="reminder")
    assert not await deliver(session, payload, settings=settings, now=utcnow(), last_attempt=False)
    assert smtp_server.inbox.messages == []


async def test_old_link_fetches_are_purged(session: AsyncSession, settings: Settings) -> None:
    fb, _ = await make_request(session, settings)
    for days in (40, 1):
        await record_open(
            session,
            request=fb,
            kind="page",
            score=3,
            user_agent=None,
            client_hash=None,
            settings=settings,
            now=utcnow() - timedelta(days=days),
        )
    assert await feedback_jobs.purge_opens(session, now=utcnow(), days=30) == 1
    remaining = await session.scalars(select(FeedbackOpen).where(FeedbackOpen.request_id == fb.id))
    assert len(remaining.all()) == 1
