"""Responses from the feedback page: opens as evidence, clicks judged, answers saved as given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from app.config import Settings
from app.db import insert_ignore
from app.errors import AppError, NotFound
from app.feedback import rules, writeback
from app.feedback.models import (
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


async def request_by_token(
    session: AsyncSession, token: str, *, now: datetime, allow_closed: bool = False
) -> FeedbackRequest:
    """The live request for a public token; 404 unknown (or never sent), 410 closed."""
    if not (20 <= len(token) <= 100):
        raise FeedbackLinkUnknown()
    # The ticket comes along in the same round trip: the page and the write-back need it, and
    # session.get() then finds it in the identity map.
    row = (
        await session.execute(
            select(FeedbackRequest, Ticket)
            .join(Ticket, Ticket.id == FeedbackRequest.ticket_id)
            .where(FeedbackRequest.token_hash == token_hash(token))
        )
    ).first()
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
    stmt = select(Response).where(Response.request_id == request_id)
    if lock:  # serialise concurrent answers to one request (a no-op on SQLite: one writer)
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def judge_click(
    session: AsyncSession,
    request: FeedbackRequest,
    *,
    user_agent: str | None,
    client_hash: str | None,
    settings: Settings,
    now: datetime,
) -> tuple[bool, dict[str, Any]]:
    """The scanner judgement for a button press that is not an answer (opt-out)."""
    opens = await _opens_near(session, request.id, now, settings)
    return rules.judge(
        at=now,
        opens=opens,
        sent_at=request.sent_at,
        user_agent=user_agent,
        headers={},
        signals={},
        limits=_limits(settings),
        client=client_hash,
    )


async def response_factors(session: AsyncSession, response_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(ResponseFactor.factor).where(ResponseFactor.response_id == response_id)
    )
    return sorted(rows.all())


def _limits(settings: Settings) -> rules.Thresholds:
    fb = settings.feedback
    return rules.Thresholds(
        fb.scanner_burst_seconds,
        fb.scanner_trap_seconds,
        fb.scanner_min_seconds_after_send,
        fb.scanner_client_seconds,
    )


def _window(settings: Settings) -> timedelta:
    fb = settings.feedback
    return timedelta(
        seconds=max(fb.scanner_burst_seconds, fb.scanner_trap_seconds, fb.scanner_client_seconds)
    )


async def _opens_near(
    session: AsyncSession, request_id: uuid.UUID, at: datetime, settings: Settings
) -> list[rules.OpenSeen]:
    window = _window(settings)
    rows = await session.scalars(
        select(FeedbackOpen).where(
            FeedbackOpen.request_id == request_id,
            FeedbackOpen.opened_at >= at - window,
            FeedbackOpen.opened_at <= at + window,
        )
    )
    return [rules.OpenSeen(o.kind, o.score, o.opened_at, o.scanner_ua, o.client_hash) for o in rows]


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
    """Log a fetch of the request's links; a counted click it implicates becomes automated."""
    await insert_ignore(
        session,
        FeedbackOpen,
        request_id=request.id,
        kind=kind,
        score=score,
        opened_at=now,
        user_agent=(user_agent or "")[:300] or None,
        client_hash=client_hash,
        scanner_ua=rules.is_scanner_ua(user_agent),
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
    """Judge a counted click again with the evidence that arrived after it (scanners open
    every option within a second, so the first click may be judged before the others land)."""
    if response.answered_at < now - _window(settings):
        return
    opens = await _opens_near(session, request.id, response.answered_at, settings)
    automated, evidence = rules.judge(
        at=response.answered_at,
        opens=opens,
        sent_at=request.sent_at,
        user_agent=(response.evidence or {}).get("user_agent"),
        headers={"accept-language": "-", "origin": "-"},
        signals={},
        limits=_limits(settings),
        client=(response.evidence or {}).get("client"),
    )
    if not automated:
        return
    response.automated = True
    response.evidence = {**evidence, "reconsidered_at": now.isoformat()}
    response.updated_at = now
    if request.status == RequestStatus.responded:
        request.status = RequestStatus.sent
        request.responded_at = None
        request.updated_at = now
    await writeback.supersede(session, response.id, now)


def validate(answer: Answer, scale_key: str, score: int | None) -> list[dict[str, str]]:
    """Field errors of an answer against scoring.md; [] when valid."""
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


async def record_response(
    session: AsyncSession,
    *,
    request: FeedbackRequest,
    answer: Answer,
    click: Click,
    settings: Settings,
    now: datetime,
) -> Response:
    """Save the answer as given. A click judged automated is stored with its evidence and never
    counted; it never overwrites a counted answer, and a later human click replaces it."""
    response = await current_response(session, request.id, lock=True)
    counted_before = response is not None and not response.automated
    score = answer.score
    if score is None and counted_before:
        score = response.score  # type: ignore[union-attr]
    if errors := validate(answer, request.scale, score):
        raise InvalidAnswer("; ".join(e["message"] for e in errors), errors=errors)
    assert score is not None
    opens = await _opens_near(session, request.id, now, settings)
    automated, evidence = rules.judge(
        at=now,
        opens=opens,
        sent_at=request.sent_at,
        user_agent=click.user_agent,
        headers=click.headers,
        signals=click.signals,
        limits=_limits(settings),
        client=click.client_hash,
    )
    if automated and counted_before:
        assert response is not None
        await _reconsider(session, request, response, settings, now)
        return response
    created = response is None
    if response is None:
        await insert_ignore(
            session,
            Response,
            request_id=request.id,
            ticket_id=request.ticket_id,
            score=score,
            scale=request.scale,
            automated=automated,
            evidence=evidence,
            answered_at=now,
            created_at=now,
            updated_at=now,
        )
        response = await current_response(session, request.id, lock=True)
        assert response is not None
    changed, factors = await _apply(
        session, response, answer, score, automated, evidence, now, created=created
    )
    if automated:
        return response
    if changed or not counted_before:
        request.status = RequestStatus.responded
        request.responded_at = request.responded_at or now
        request.updated_at = now
        if counted_before:  # a first answer has no earlier write-back to replace
            await writeback.supersede(session, response.id, now)
        await writeback.enqueue(session, request, response, factors, settings, now)
    return response


async def _apply(
    session: AsyncSession,
    response: Response,
    answer: Answer,
    score: int,
    automated: bool,
    evidence: dict[str, Any],
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
    allowed = set(offered_factors(scale.band(score)))
    wanted = [key for key in wanted if key in allowed]  # a new band drops the other polarity
    updated_at = response.updated_at
    recounted = response.automated != automated
    changed = recounted or wanted != current
    if answer.score is not None and (answer.score != response.score or recounted):
        response.answered_at = now
        response.evidence = evidence
    if score != response.score:
        changed = True
        response.score = score
    response.automated = automated
    if answer.locale:
        response.locale = answer.locale
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
