"""Responses from the feedback page: opens as evidence, clicks judged, answers saved as given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from app.config import Settings
from app.db import insert_ignore
from app.errors import AppError, NotFound
from app.feedback import judgement, writeback
from app.feedback.models import (
    FeedbackClick,
    FeedbackOpen,
    FeedbackRequest,
    RequestStatus,
    Response,
    ResponseFactor,
)
from app.feedback.scales import LOST_TIME_MINUTES, SCALES, factor_polarity, offered_factors
from app.feedback.tokens import token_hash
from app.tickets.models import Ticket

MAX_COMMENT = 4000

# The statements every page view and answer runs, built once and run with bound parameters:
# building a statement per call cost about as much CPU as running it (docs/benchmarks.md).
_REQUEST_BY_TOKEN = (
    # The ticket comes along in the same round trip: the page and the write-back need it, and
    # session.get() then finds it in the identity map.
    select(FeedbackRequest, Ticket)
    .join(Ticket, Ticket.id == FeedbackRequest.ticket_id)
    .where(FeedbackRequest.token_hash == bindparam("token_hash"))
    # Every click on a mail (an open of a link, an answer, an opt-out press) holds the request's
    # row to its commit: two at once would each miss the other's evidence (an answer counted
    # while another face's open was landing; a demotion resetting a status read before an
    # answer in flight changed it). A no-op on SQLite, which has one writer.
    .with_for_update(of=FeedbackRequest)
)
_RESPONSE = (
    select(Response)
    .where(Response.request_id == bindparam("request_id"))
    .execution_options(populate_existing=True)
)
# Clicks on one mail already wait for each other on the request row (_REQUEST_BY_TOKEN); this
# lock also holds the response against writers that do not come through a token (erasure).
_RESPONSE_LOCKED = _RESPONSE.with_for_update()
_opens = FeedbackOpen.__table__.c
_OPENS_NEAR = select(
    _opens.kind, _opens.score, _opens.opened_at, _opens.scanner_ua, _opens.client_hash
).where(
    _opens.request_id == bindparam("request_id"),
    _opens.opened_at >= bindparam("since"),
    _opens.opened_at <= bindparam("until"),
)
_requests = FeedbackRequest.__table__.c
_RESPONDED = (
    update(FeedbackRequest.__table__)
    .where(_requests.id == bindparam("request_id"))
    .values(
        status=RequestStatus.responded,
        responded_at=bindparam("responded_at"),
        updated_at=bindparam("updated_at"),
    )
)
_CLICK = insert(FeedbackClick.__table__).values(
    {c.key: bindparam(c.key) for c in FeedbackClick.__table__.c if not c.primary_key}
)


class FeedbackLinkUnknown(NotFound):
    type, title = "feedback-link-unknown", "This feedback link is not valid"


class FeedbackExpired(AppError):
    status, type, title = 410, "feedback-expired", "This feedback request has closed"


class InvalidAnswer(AppError):
    status, type, title = 422, "invalid-answer", "The answer could not be saved"


@dataclass
class Answer:
    """What a POST carries; None means "not given, leave as is", "" clears a text field."""

    score: int | None = None
    factors: list[str] | None = None
    lost_time: str | None = None
    comment: str | None = None
    locale: str | None = None


@dataclass
class Click:
    """Who sent the click, as the scanner judgement sees it."""

    user_agent: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    client_hash: str | None = None  # address + user agent, truncated hash
    mode: str = "form"  # auto | press | confirm | form (judgement.mode_of)
    view_age_ms: float | None = None  # since the server rendered the page the post came from

    def seen(self, at: datetime, sent_at: datetime | None) -> judgement.ClickSeen:
        return judgement.ClickSeen(
            at=at,
            mode=self.mode,
            client=self.client_hash,
            user_agent=self.user_agent,
            headers=self.headers,
            signals=self.signals,
            view_age_ms=self.view_age_ms,
            sent_at=sent_at,
        )


async def request_by_token(
    session: AsyncSession, token: str, *, now: datetime, allow_closed: bool = False
) -> FeedbackRequest:
    """The live request for a public token, its row held to the end of the transaction; 404
    unknown (or never sent), 410 closed."""
    if not (20 <= len(token) <= 100):
        raise FeedbackLinkUnknown()
    row = (await session.execute(_REQUEST_BY_TOKEN, {"token_hash": token_hash(token)})).first()
    request = row[0] if row else None
    if row is not None:  # the identity map holds weak references: keep the ticket alive
        session.info.setdefault("feedback_loaded", []).append(row[1])
    if request is None or request.status == RequestStatus.suppressed:
        raise FeedbackLinkUnknown()
    if not allow_closed and (
        request.status in (RequestStatus.expired, RequestStatus.cancelled)
        or request.expires_at <= now
    ):
        raise FeedbackExpired()
    return request


async def current_response(
    session: AsyncSession, request_id: uuid.UUID, *, lock: bool = False
) -> Response | None:
    stmt = _RESPONSE_LOCKED if lock else _RESPONSE
    return await session.scalar(stmt, {"request_id": request_id})


async def opens_near(
    session: AsyncSession, request_id: uuid.UUID, at: datetime, settings: Settings
) -> list[judgement.OpenSeen]:
    window = _window(settings)
    params = {"request_id": request_id, "since": at - window, "until": at + window}
    rows = await session.execute(_OPENS_NEAR, params)
    return [judgement.OpenSeen(*row) for row in rows]


async def response_factors(session: AsyncSession, response_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(ResponseFactor.factor).where(ResponseFactor.response_id == response_id)
    )
    return sorted(rows.all())


def limits(settings: Settings) -> judgement.Limits:
    fb = settings.feedback
    return judgement.Limits(
        sweep_seconds=fb.scanner_sweep_seconds,
        burst_seconds=fb.scanner_burst_seconds,
        trap_seconds=fb.scanner_trap_seconds,
        client_seconds=fb.scanner_client_seconds,
        min_seconds_after_send=fb.scanner_min_seconds_after_send,
        min_action_ms=fb.scanner_min_action_ms,
        sweep_controls=fb.scanner_sweep_controls,
        opt_out_after_score_seconds=fb.scanner_opt_out_after_score_seconds,
    )


def _window(settings: Settings) -> timedelta:
    fb = settings.feedback
    return timedelta(
        seconds=max(
            fb.scanner_sweep_seconds,
            fb.scanner_burst_seconds,
            fb.scanner_trap_seconds,
            fb.scanner_client_seconds,
            fb.scanner_opt_out_after_score_seconds,
        )
    )


async def log_click(
    session: AsyncSession,
    request: FeedbackRequest,
    kind: str,
    at: datetime,
    verdict: judgement.Verdict,
) -> None:
    """One row per judged click, for the admin's scanner counts by reason and day."""
    await session.execute(
        _CLICK,
        {
            "request_id": request.id,
            "connector_id": request.connector_id,
            "kind": kind,
            "at": at,
            "day": at.date(),
            "automated": verdict.automated,
            "reasons": ",".join(verdict.reasons)[:300],
        },
    )


async def record_open(
    session: AsyncSession,
    *,
    request: FeedbackRequest,
    kind: str,
    score: int | None,
    user_agent: str | None,
    client_hash: str | None,
    settings: Settings,
    now: datetime,
) -> Response | None:
    """Log a fetch of the request's links; a counted one-click answer it implicates becomes
    automated (a scanner's other fetches may land after its first post)."""
    await insert_ignore(
        session,
        FeedbackOpen,
        request_id=request.id,
        kind=kind,
        score=score,
        opened_at=now,
        user_agent=(user_agent or "")[:300] or None,
        client_hash=client_hash,
        scanner_ua=judgement.is_scanner_ua(user_agent),
    )
    response = await current_response(session, request.id)
    if response is not None and not response.automated:
        await _reconsider(session, request, response, settings, now)
    return response


async def _reconsider(
    session: AsyncSession,
    request: FeedbackRequest,
    response: Response,
    settings: Settings,
    now: datetime,
) -> None:
    """Judge a counted one-click answer again on the mail's evidence that arrived after it.
    Presses on the page stand on their own evidence and are not reconsidered."""
    evidence = response.evidence or {}
    if evidence.get("mode", "auto") not in judgement.ONE_CLICK:
        return
    if response.answered_at < now - timedelta(seconds=settings.feedback.scanner_sweep_seconds):
        return
    opens = await opens_near(session, request.id, response.answered_at, settings)
    reasons = judgement.mail_reasons(
        response.answered_at, opens, limits(settings), evidence.get("client")
    )
    if not reasons:
        return
    verdict = judgement.Verdict(True, reasons, {**evidence, "reasons": reasons})
    await _demote(session, request, response, verdict, now)


async def _demote(
    session: AsyncSession,
    request: FeedbackRequest,
    response: Response,
    verdict: judgement.Verdict,
    now: datetime,
) -> None:
    """A counted answer turns out automated: uncount it and withdraw its write-back."""
    response.automated = True
    response.evidence = {**verdict.evidence, "reconsidered_at": now.isoformat()}
    response.updated_at = now
    if request.status == RequestStatus.responded:
        request.status = RequestStatus.sent
        request.responded_at = None
        request.updated_at = now
    await log_click(session, request, "recheck", now, verdict)
    await writeback.supersede(session, response.id, now)


def validate(answer: Answer, scale_key: str, score: int | None) -> list[dict[str, str]]:
    """Field errors of an answer against docs/scoring.md; [] when valid."""
    scale = SCALES[scale_key]
    errors = []
    if score is None:
        errors.append({"field": "score", "message": "Choose a score first"})
    elif score not in scale.scores:
        errors.append({"field": "score", "message": f"Score must be {scale.min}-{scale.max}"})
    for key in answer.factors or []:
        if factor_polarity(key) is None:
            errors.append({"field": "factors", "message": f"Unknown factor {key!r}"})
    if answer.lost_time and answer.lost_time not in LOST_TIME_MINUTES:
        errors.append({"field": "lost_time", "message": "Unknown lost-time option"})
    if answer.comment and len(answer.comment) > MAX_COMMENT:
        errors.append({"field": "comment", "message": f"At most {MAX_COMMENT} characters"})
    return errors


@dataclass
class Saved:
    """The stored response and whether this click's answer is the counted one."""

    response: Response
    counted: bool
    factors: list[str] | None = None  # the response's factors when this click wrote them


async def record_response(
    session: AsyncSession,
    *,
    request: FeedbackRequest,
    answer: Answer,
    click: Click,
    settings: Settings,
    now: datetime,
) -> Saved:
    """Save the answer as given. A click judged automated is stored with its evidence and never
    counted; it never overwrites a counted answer (unless it comes from the page view that gave
    that answer: a sweep found out late), and a later person's click replaces it."""
    response = await current_response(session, request.id, lock=True)
    counted_before = response is not None and not response.automated
    score = answer.score
    if score is None and counted_before:
        score = response.score  # type: ignore[union-attr]
    if errors := validate(answer, request.scale, score):
        raise InvalidAnswer("; ".join(e["message"] for e in errors), errors=errors)
    assert score is not None
    opens = await opens_near(session, request.id, now, settings)
    verdict = judgement.judge_answer(click.seen(now, request.sent_at), opens, limits(settings))
    if response is not None and not verdict.automated:
        verdict = judgement.same_view_as_a_sweep(verdict, response.evidence or {})
    await log_click(session, request, "answer", now, verdict)
    if verdict.automated and counted_before:
        assert response is not None
        view = verdict.evidence.get("view")
        if view and (response.evidence or {}).get("view") == view:
            await _demote(session, request, response, verdict, now)
        else:
            await _reconsider(session, request, response, settings, now)
        return Saved(response, counted=False)
    created = response is None
    if response is None:
        response = await _first_response(session, request, score, answer.locale, verdict, now)
    changed, factors = await _apply(session, response, answer, score, verdict, now, created=created)
    if verdict.automated:
        return Saved(response, counted=False, factors=factors)
    if changed or not counted_before:
        await _mark_responded(session, request, now)
        if counted_before:  # a first answer has no earlier write-back to replace
            await writeback.supersede(session, response.id, now)
        await writeback.enqueue(session, request, response, factors, settings, now)
    return Saved(response, counted=True, factors=factors)


async def _mark_responded(session: AsyncSession, request: FeedbackRequest, now: datetime) -> None:
    """One prebuilt UPDATE; the loaded request is told the stored values, so the unit of work has
    nothing left to flush (its flushes of this row and the response were a tenth of an answer's
    CPU in a profile). Not for use inside a savepoint: a rollback to it would not expire them."""
    values = {"responded_at": request.responded_at or now, "updated_at": now}
    await session.execute(_RESPONDED, {"request_id": request.id, **values})
    for key, value in {"status": RequestStatus.responded, **values}.items():
        set_committed_value(request, key, value)


async def _first_response(
    session: AsyncSession,
    request: FeedbackRequest,
    score: int,
    locale: str | None,
    verdict: judgement.Verdict,
    now: datetime,
) -> Response:
    """The request's response row, inserted now or (a concurrent first answer won) locked. It
    carries the page's language, which every post of the page sends: inserted without it, the
    row would take a second statement to get it."""
    values = {
        "id": uuid.uuid4(),
        "request_id": request.id,
        "ticket_id": request.ticket_id,
        "score": score,
        "scale": request.scale,
        "lost_time": None,
        "lost_minutes": None,
        "comment": None,
        "locale": locale,
        "automated": verdict.automated,
        "evidence": verdict.evidence,
        "answered_at": now,
        "created_at": now,
        "updated_at": now,
    }
    if await insert_ignore(session, Response, **values) is not None:
        # Every column is known: attach the row as stored instead of reading it back.
        response = Response(**values)
        make_transient_to_detached(response)
        session.add(response)
        return response
    response = await current_response(session, request.id, lock=True)
    assert response is not None
    return response


async def _apply(
    session: AsyncSession,
    response: Response,
    answer: Answer,
    score: int,
    verdict: judgement.Verdict,
    now: datetime,
    *,
    created: bool,
) -> tuple[bool, list[str]]:
    """Copy the given fields onto the response; (anything counted changed, its factors)."""
    scale = SCALES[response.scale]
    # Read before touching the row: a query autoflushes, and a flush of a changed row without
    # an explicit updated_at lets the ORM's onupdate stamp the wall clock instead of `now`.
    current = [] if created else await response_factors(session, response.id)
    wanted = current if answer.factors is None else sorted(set(answer.factors))
    if response.automated and not verdict.automated and answer.factors is None:
        wanted = []  # the scanner's factors are not the person's
    allowed = set(offered_factors(scale.band(score)))
    wanted = [key for key in wanted if key in allowed]  # a new band drops the other polarity
    updated_at = response.updated_at
    automated = verdict.automated
    recounted = response.automated != automated
    changed = recounted or wanted != current
    if answer.score is not None:
        # The answer carries the evidence of the click that gave it, not of an earlier one
        # (a time-of-click check that posted first must not lend the person its evidence).
        if answer.score != response.score or recounted:
            response.answered_at = now
        if response.evidence != verdict.evidence:
            response.evidence = verdict.evidence
    if score != response.score:
        changed = True
        response.score = score
    # Fields are set only when they differ: a first answer's row, attached as inserted, then
    # stays clean and the flush has nothing to compare.
    if recounted:
        response.automated = automated
    if answer.locale and answer.locale != response.locale:
        response.locale = answer.locale
    if recounted and not automated:
        # A person's answer replaces a scanner's: nothing the scanner pressed is kept.
        answer = Answer(
            score=answer.score,
            factors=answer.factors,
            lost_time=answer.lost_time if answer.lost_time is not None else "",
            comment=answer.comment if answer.comment is not None else "",
            locale=answer.locale,
        )
    if answer.lost_time is not None:
        lost = answer.lost_time or None
        if lost != response.lost_time:
            changed = True
            response.lost_time = lost
            response.lost_minutes = LOST_TIME_MINUTES[lost] if lost else None
    if answer.comment is not None:
        comment = answer.comment.strip() or None
        if comment != response.comment:
            changed = True
            response.comment = comment
    if changed:
        response.updated_at = now
    elif session.is_modified(response):
        # Only fields the ticket never sees moved (the page language): keep updated_at as it was,
        # or the ORM's onupdate would stamp the wall clock and the pending write-back, carrying
        # the old stamp, would skip itself as stale with no newer job to replace it.
        response.updated_at = updated_at
        flag_modified(response, "updated_at")
    if wanted != current:
        await session.execute(
            delete(ResponseFactor).where(ResponseFactor.response_id == response.id)
        )
        session.add_all(
            ResponseFactor(response_id=response.id, factor=key, polarity=factor_polarity(key))
            for key in wanted
        )
    await session.flush()
    return changed, wanted
