"""Actions jobs: the alert evaluation tick, the XLA check and digest enqueuer (each minute),
and the handlers that mail, post to chat and send digests. Handlers are idempotent."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.actions import alerts, chat, digest_mail, digests, mail, xla_alerts
from app.actions.alert_actions import CHAT_JOB, EMAIL_JOB, AlertEmail, ChatPost
from app.actions.models import AlertRule, DigestSend
from app.clock import utcnow
from app.config import Settings
from app.db import insert_ignore
from app.jobs import queue
from app.jobs.registry import JobContext, handler, periodic, ticking

log = logging.getLogger("xpulse.actions")
DIGEST_JOB = "actions.send_digest"


class SendDigest(BaseModel):
    """`actions.send_digest`: one digest for one period; `preview` sends without marking it."""

    digest_id: uuid.UUID
    period_start: date
    period_end: date
    preview: bool = False


@ticking("actions.evaluate", every=lambda settings: settings.actions.evaluate_seconds)
async def evaluate(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Read answers past the watermark until none is left (one replica at a time)."""
    total = 0
    while True:
        async with sessionmaker() as session:
            read = await alerts.evaluate_answers(session, settings, utcnow())
            await session.commit()
        total += read
        if read < settings.actions.batch_size:
            return total


@periodic("actions.check_xlas")
async def check_xlas(session: AsyncSession, settings: Settings, now: datetime) -> None:
    await xla_alerts.check(session, settings, now)


@periodic("actions.enqueue_digests")
async def enqueue_digests(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """Queue each digest's last complete period once: the send row is inserted by whichever
    replica gets there first, and only that one queues the job."""
    for digest, start, end in await digests.due(session, now):
        created = await insert_ignore(
            session, DigestSend, digest_id=digest.id, period_start=start, created_at=now
        )
        if created is None:
            continue
        await enqueue_send(session, digest.id, start, end, now=now)


async def enqueue_send(
    session: AsyncSession,
    digest_id: uuid.UUID,
    start: date,
    end: date,
    *,
    now: datetime,
    preview: bool = False,
) -> int | None:
    payload = SendDigest(digest_id=digest_id, period_start=start, period_end=end, preview=preview)
    suffix = f":preview:{now.timestamp()}" if preview else ""
    return await queue.enqueue(
        session,
        DIGEST_JOB,
        payload,
        dedupe_key=f"digest:{digest_id}:{start}{suffix}",
        run_after=now,
    )


@handler(DIGEST_JOB, payload=SendDigest, max_attempts=8)
async def send_digest(ctx: JobContext, payload: SendDigest) -> None:
    """Send once: the send row is claimed (sent_at set) in the job's transaction before the mail
    leaves, so a second worker holding the same period finds it taken."""
    digest = await ctx.session.get(digests.Digest, payload.digest_id)
    if digest is None:
        return
    if not payload.preview:
        claimed = await ctx.session.execute(
            update(DigestSend)
            .where(
                DigestSend.digest_id == payload.digest_id,
                DigestSend.period_start == payload.period_start,
                DigestSend.sent_at.is_(None),
            )
            .values(sent_at=ctx.now)
        )
        if claimed.rowcount != 1:
            return  # sent already
    found = await digests.content(
        ctx.session, digest, payload.period_start, payload.period_end, ctx.settings
    )
    to = list(digest.recipients.get("to", []))
    await mail.deliver(digest_mail.build(found, ctx.settings, to), ctx.settings)


@handler(EMAIL_JOB, payload=AlertEmail, max_attempts=8)
async def send_alert_email(ctx: JobContext, payload: AlertEmail) -> None:
    alert = payload.alert
    message = mail.new_message(
        ctx.settings, to=payload.to, subject=alert.title, idstring=f"alert.{payload.firing_id}"
    )
    lines = [alert.title, "", *(f"{name}: {value}" for name, value in alert.facts)]
    if alert.text:
        lines += ["", f"“{alert.text}”"]
    if alert.link:
        lines += ["", f"{alert.link_label}: {alert.link}"]
    message.set_content("\n".join(lines) + "\n")
    await mail.deliver(message, ctx.settings)


@handler(CHAT_JOB, payload=ChatPost, max_attempts=8)
async def post_chat(ctx: JobContext, payload: ChatPost) -> None:
    rule = await ctx.session.get(AlertRule, payload.rule_id)
    targets = (rule.actions.get("chat") or []) if rule else []
    if payload.index >= len(targets):
        return  # the rule or its webhook was removed since
    target = targets[payload.index]
    await chat.post(ctx.http, target["url"], target["format"], payload.alert)
