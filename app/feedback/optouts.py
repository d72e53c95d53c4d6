"""Opt-outs: applied only on a person's deliberate press (or RFC 8058 one-click from the mail
provider); a suspected scanner's opt-out is kept as evidence, and an opt-out can be undone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback import answers, judgement, optout_keys, service
from app.feedback.answers import Click
from app.feedback.models import FeedbackRequest, OptOut, OptOutStatus

# What the opt-out page shows: the form, done (with undo), held (not applied, press again),
# undone (requests again).
ASK, DONE, HELD, UNDONE = "ask", "done", "held", "undone"


def requester_of(request: FeedbackRequest) -> str | None:
    if request.requester_key:
        return request.requester_key
    return service.email_key(request.recipient_email) if request.recipient_email else None


async def state(session: AsyncSession, request: FeedbackRequest) -> str:
    """The page to show on a GET: done (with undo) when opted out, else the question."""
    key = requester_of(request)
    row = await session.get(OptOut, key) if key else None
    return DONE if row is not None and row.status == OptOutStatus.applied else ASK


async def one_click(
    session: AsyncSession, request: FeedbackRequest, *, headers: Mapping[str, str], now: datetime
) -> None:
    """RFC 8058: the mailbox provider posts `List-Unsubscribe=One-Click` for the person."""
    evidence = {
        "mode": "one_click",
        "user_agent": (headers.get("user-agent") or "")[:200],
        "at": now.isoformat(),
    }
    await _set(session, request, OptOutStatus.applied, "list-unsubscribe", evidence, now)


async def press(
    session: AsyncSession,
    request: FeedbackRequest,
    *,
    click: Click,
    undo: bool,
    settings: Settings,
    now: datetime,
) -> str:
    """A press of the page's opt-out (or undo) button, judged like an answer."""
    opens = await answers.opens_near(session, request.id, now, settings)
    seen = click.seen(now, request.sent_at)
    verdict = judgement.judge_opt_out(seen, opens, answers.limits(settings))
    await answers.log_click(session, request, "undo" if undo else "opt_out", now, verdict)
    key = requester_of(request)
    if key is None:
        return DONE if not undo else UNDONE
    row = await session.get(OptOut, key, populate_existing=True, with_for_update=True)
    if verdict.automated:
        if not undo and (row is None or row.status != OptOutStatus.applied):
            await _set(session, request, OptOutStatus.automated, "link", verdict.evidence, now)
        return HELD if not undo else DONE
    if undo:
        if row is not None and row.status == OptOutStatus.applied:
            evidence = {**(row.evidence or {}), "undo": verdict.evidence}
            await _set(session, request, OptOutStatus.undone, row.source, evidence, now)
        await _undo_erased(session, key, settings, now)
        return UNDONE
    await _set(session, request, OptOutStatus.applied, "link", verdict.evidence, now)
    return DONE


async def _set(
    session: AsyncSession,
    request: FeedbackRequest,
    status: str,
    source: str,
    evidence: dict,
    now: datetime,
) -> None:
    key = requester_of(request)
    if key is None:
        return
    row = await session.get(OptOut, key)
    if row is None:
        row = OptOut(requester_key=key, created_at=now)
        session.add(row)
    row.status = status
    row.source = source
    row.evidence = evidence
    row.request_id = request.id
    row.updated_at = now
    await session.flush()


async def _undo_erased(session: AsyncSession, key: str, settings: Settings, now: datetime) -> None:
    """An erased person who comes back and takes their opt-out back is asked again: the opt-out
    kept under the keyed hash of their key (optout_keys) is undone too."""
    hashed = optout_keys.hashed_key(key, settings.secret_key.get_secret_value())
    row = await session.get(OptOut, hashed, with_for_update=True)
    if row is not None and row.status == OptOutStatus.applied:
        row.status = OptOutStatus.undone
        row.updated_at = now
        await session.flush()
