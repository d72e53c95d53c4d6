"""Feedback: admin reads and actions under /api/v1, and the public page at /f/{token}."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.auth.deps import AdminKey, ReadKey
from app.clock import utcnow
from app.config import Settings
from app.db import SessionDep
from app.errors import RateLimited
from app.feedback import pages, queries, render, service, web
from app.feedback.answers import FeedbackExpired, FeedbackLinkUnknown, InvalidAnswer
from app.feedback.schemas import FeedbackRequestRead, OptOutRead, ResponseRead, ScannerStats
from app.pagination import Page

router = APIRouter(tags=["feedback"])  # admin routes under /api/v1
public_router = APIRouter(tags=["feedback page"], include_in_schema=True)  # outside /api/v1

Limit = Annotated[int, Query(ge=1, le=500)]
RequestStatusFilter = Literal[
    "pending", "sent", "responded", "expired", "suppressed", "failed", "cancelled"
]
ASSETS = {"page.js": "text/javascript", "page.css": "text/css"}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


# --- admin -------------------------------------------------------------------------------


@router.get("/feedback/requests", response_model=Page[FeedbackRequestRead])
async def list_requests(
    request: Request,
    session: SessionDep,
    _: ReadKey,
    connector_id: uuid.UUID | None = None,
    status: RequestStatusFilter | None = None,
    requester: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[FeedbackRequestRead]:
    """List feedback requests, newest first; `requester` is an e-mail or requester key."""
    filters = queries.Filters(connector_id, status, requester, created_from, created_to)
    rows, next_cursor = await queries.list_requests(
        session, filters, cursor=cursor, limit=limit, settings=_settings(request)
    )
    return Page[FeedbackRequestRead](items=rows, next_cursor=next_cursor)


@router.get("/feedback/requests/{request_id}", response_model=FeedbackRequestRead)
async def get_request(
    request_id: uuid.UUID, request: Request, session: SessionDep, _: ReadKey
) -> FeedbackRequestRead:
    """Get one feedback request with its one-click links."""
    return await queries.get_request_read(session, request_id, _settings(request))


@router.post(
    "/feedback/requests/{request_id}/resend", status_code=202, response_model=FeedbackRequestRead
)
async def resend_request(
    request_id: uuid.UUID, request: Request, session: SessionDep, _: AdminKey
) -> FeedbackRequestRead:
    """Deliver an open request again (same links); 409 when answered, closed or suppressed."""
    settings = _settings(request)
    fb = await service.resend(session, request_id=request_id, settings=settings, now=utcnow())
    return queries.request_read(fb, settings)


@router.post("/feedback/requests/{request_id}/cancel", response_model=FeedbackRequestRead)
async def cancel_request(
    request_id: uuid.UUID, request: Request, session: SessionDep, _: AdminKey
) -> FeedbackRequestRead:
    """Close an open request: its links answer 410 and no reminder is sent."""
    fb = await service.cancel(session, request_id=request_id, now=utcnow())
    return queries.request_read(fb, _settings(request))


@router.get("/feedback/responses", response_model=Page[ResponseRead])
async def list_responses(
    session: SessionDep,
    _: ReadKey,
    connector_id: uuid.UUID | None = None,
    status: Literal["counted", "automated"] | None = None,
    requester: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[ResponseRead]:
    """List responses, newest first; `status=automated` lists clicks judged to be scanners."""
    filters = queries.Filters(connector_id, status, requester, created_from, created_to)
    rows, next_cursor = await queries.list_responses(session, filters, cursor=cursor, limit=limit)
    return Page[ResponseRead](items=rows, next_cursor=next_cursor)


@router.get("/feedback/responses/{response_id}", response_model=ResponseRead)
async def get_response(response_id: uuid.UUID, session: SessionDep, _: ReadKey) -> ResponseRead:
    """Get one response with its factors and the scanner evidence."""
    return await queries.get_response_read(session, response_id)


@router.get("/feedback/opt-outs", response_model=Page[OptOutRead])
async def list_opt_outs(
    session: SessionDep,
    _: ReadKey,
    status: Literal["applied", "automated", "undone"] | None = None,
    requester: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[OptOutRead]:
    """List opt-outs with the evidence of the press that decided each; `status=automated`
    lists suspected scanners' opt-outs, kept and not applied."""
    rows, next_cursor = await queries.list_opt_outs(
        session, status=status, requester=requester, cursor=cursor, limit=limit
    )
    return Page[OptOutRead](items=rows, next_cursor=next_cursor)


@router.get("/feedback/scanner-stats", response_model=ScannerStats)
async def scanner_stats(
    session: SessionDep,
    _: ReadKey,
    connector_id: uuid.UUID | None = None,
    day_from: date | None = Query(
        None, alias="from", description="First UTC day (default: 29 days ago)"
    ),
    day_to: date | None = Query(None, alias="to", description="Last UTC day (default: today)"),
) -> ScannerStats:
    """Clicks judged automated by connector, UTC day and reason, to judge a change of rules."""
    today = utcnow().date()
    return await queries.scanner_stats(
        session,
        connector_id=connector_id,
        day_from=day_from or today - timedelta(days=29),
        day_to=day_to or today,
    )


# --- public page -------------------------------------------------------------------------

Flow = Callable[..., Awaitable[Response]]
HUMAN_ERRORS = (FeedbackLinkUnknown, FeedbackExpired, RateLimited, InvalidAnswer)


async def _guarded(flow: Flow, request: Request, session: SessionDep, token: str) -> Response:
    """Rate-limit, run a page flow, and turn its errors into friendly pages for people
    (problem+json stays for `Accept: application/json`)."""
    settings = _settings(request)
    try:
        web.check_rate(request, token, settings)
        return await flow(request, session, token, settings)
    except HUMAN_ERRORS as exc:
        if web.wants_json(request):
            raise
        return web.error_page(request, exc, settings)


@public_router.get("/f/-/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    """The page's own script and stylesheet (the CSP allows only 'self')."""
    if name not in ASSETS:
        return Response(status_code=404)
    body = (render.STATIC / name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=ASSETS[name], headers=headers)


@public_router.get("/f/{token}")
async def feedback_page(token: str, request: Request, session: SessionDep) -> Response:
    """The feedback page; `?s=` carries the score chosen in the mail, `?lang=` the language."""
    return await _guarded(pages.show, request, session, token)


@public_router.head("/f/{token}", include_in_schema=False)
async def feedback_page_head(token: str, request: Request, session: SessionDep) -> Response:
    """HEAD records nothing (kept as scanner evidence)."""
    return await _guarded(pages.head, request, session, token)


_ANSWER_FIELDS = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "description": "A score of the request's scale"},
        "factors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Factor keys (docs/scoring.md); present replaces the set",
        },
        "lost_time": {"type": "string", "description": "A lost-time bucket key; empty clears"},
        "comment": {"type": "string", "maxLength": 4000},
        "view": {"type": "string", "description": "The page's signed view stamp (evidence)"},
        "confirm": {"type": "string", "description": "`1`: the not-counted notice's button"},
        "signals": {
            "type": "string",
            "description": "JSON evidence from the page's script (docs/mail-scanners.md)",
        },
    },
}
_OPT_OUT_FIELDS = {
    "type": "object",
    "properties": {
        "List-Unsubscribe": {"type": "string", "enum": ["One-Click"], "description": "RFC 8058"},
        "action": {"type": "string", "enum": ["undo"], "description": "Take the opt-out back"},
        "view": {"type": "string"},
        "confirm": {"type": "string"},
        "signals": {"type": "string"},
    },
}
OPT_OUT_OPENAPI = {
    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": _OPT_OUT_FIELDS}}},
    "responses": {
        "200": {
            "description": "The page: opted out (with undo), not applied (a suspected scanner's "
            "press, kept as evidence) or back in; empty for RFC 8058 one-click"
        },
        "404": {"description": "Unknown link"},
        "429": {"description": "Rate-limited"},
    },
}
ANSWER_OPENAPI = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {"schema": _ANSWER_FIELDS},
            "application/json": {"schema": _ANSWER_FIELDS},
        }
    },
    "responses": {
        "200": {
            "description": "With `Accept: application/json`: the answer on record; `counted` "
            "says whether this post's answer is the counted one"
        },
        "303": {"description": "Saved; back to the page"},
        "404": {"description": "Unknown link"},
        "410": {"description": "The request expired or was cancelled"},
        "422": {"description": "Invalid answer (problem+json for JSON clients)"},
        "429": {"description": "Rate-limited"},
    },
}


@public_router.post("/f/{token}", openapi_extra=ANSWER_OPENAPI)
async def answer(token: str, request: Request, session: SessionDep) -> Response:
    """Save answers: form or JSON fields `score`, `factors`, `lost_time`, `comment`."""
    return await _guarded(pages.submit, request, session, token)


@public_router.api_route("/f/{token}/go", methods=["GET", "HEAD"], include_in_schema=False)
async def trap(token: str, request: Request, session: SessionDep) -> Response:
    """The hidden link: only software follows it."""
    return await _guarded(pages.trap, request, session, token)


@public_router.get("/f/{token}/opt-out")
async def opt_out_form(token: str, request: Request, session: SessionDep) -> Response:
    """Ask before opting out (a GET never changes anything)."""
    return await _guarded(pages.opt_out_form, request, session, token)


@public_router.head("/f/{token}/opt-out", include_in_schema=False)
async def opt_out_head(token: str, request: Request, session: SessionDep) -> Response:
    """Link checkers' HEAD: changes nothing."""
    return await _guarded(pages.opt_out_form, request, session, token)


@public_router.post("/f/{token}/opt-out", openapi_extra=OPT_OUT_OPENAPI)
async def opt_out(token: str, request: Request, session: SessionDep) -> Response:
    """Opt out (a press judged like an answer; RFC 8058 one-click too), or `action=undo`."""
    return await _guarded(pages.opt_out, request, session, token)
