"""AppError family rendered as RFC 9457 application/problem+json with stable `type` URIs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import db_errors
from app.inputs import MESSAGES

PROBLEM_BASE = "https://xpulse.dev/problems/"
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("xpulse.errors")


class AppError(Exception):
    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra


class NotFound(AppError):
    status, type, title = 404, "not-found", "Not found"


class Unauthorized(AppError):
    status, type, title = 401, "unauthorized", "Authentication required"


class Forbidden(AppError):
    status, type, title = 403, "forbidden", "Not allowed for this key's scope"


class Conflict(AppError):
    status, type, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, type, title = 413, "payload-too-large", "Request body too large"


class Unprocessable(AppError):
    status, type, title = 422, "unprocessable", "Request could not be processed"


class RateLimited(AppError):
    status, type, title = 429, "rate-limited", "Too many requests"


# How long a client is told to wait while the database is unreachable.
RETRY_AFTER_SECONDS = 5


def problem(
    status: int,
    type_: str,
    title: str,
    detail: str,
    request: Request | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    headers = {**({"WWW-Authenticate": "Bearer"} if status == 401 else {}), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_HTTP_TYPES = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
}


def validation_problem(request: Request | None, errors: list[dict[str, str]]) -> JSONResponse:
    """422 naming each bad field: `errors` holds {field, message, type}."""
    fields = ", ".join(e["field"] for e in errors) or "request"
    return problem(
        422, "validation-error", "Invalid request", f"Invalid: {fields}", request, errors=errors
    )


# What a person who clicked a feedback link sees while the database is away: the link
# stays valid, so trying again is all there is to do.
BUSY_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Please try again in a minute</title></head>
<body><p>We cannot record your answer just now. Please open the link again in a minute.</p>
</body></html>
"""


def _for_a_person(request: Request) -> bool:
    """A browser on a public page (feedback, dashboard): it asks for HTML, not for JSON."""
    accept = request.headers.get("accept", "")
    path = request.url.path
    return (
        "text/html" in accept
        and "json" not in accept
        and not path.startswith(("/api/", "/webhooks/"))
    )


def unexpected_error(request: Request, exc: BaseException) -> Response:
    """The answer to an exception no handler took: 503 while the database is unreachable (the
    client should retry; a 500 would say "bug"), 409 when a concurrent request changed the row,
    422 for a value the database cannot store, otherwise 500. Called by ObservabilityMiddleware,
    so the answer still carries the request id and the connection stays open."""
    if db_errors.is_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        if _for_a_person(request):
            return HTMLResponse(BUSY_PAGE, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        return problem(
            503,
            "database-unavailable",
            "Service unavailable",
            "The database cannot be reached; try again shortly",
            request,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, StaleDataError | ObjectDeletedError):
        # Another request changed or deleted the row while this one worked on it.
        return problem(
            409, "conflict", "Conflict", "The resource changed while this request ran", request
        )
    if bad := db_errors.unstorable(exc):
        message = MESSAGES.get(bad.kind, "The value cannot be stored")
        return validation_problem(
            request, [{"field": bad.column, "message": message, "type": bad.kind}]
        )
    log.error("unhandled error", exc_info=exc)
    return problem(500, "internal", "Internal error", "An unexpected error occurred", request)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem(
            exc.status, exc.type, exc.title, exc.detail, request, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        return validation_problem(request, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, title = _HTTP_TYPES.get(exc.status_code, ("http-error", "HTTP error"))
        # exc.headers carries Allow on a 405 (RFC 9110 §15.5.6).
        return problem(exc.status_code, type_, title, str(exc.detail), request, headers=exc.headers)

    # No handler for Exception here: Starlette runs that one outside every middleware and
    # re-raises afterwards, which made uvicorn drop the keep-alive connection and left the
    # answer without X-Request-ID. ObservabilityMiddleware calls unexpected_error instead.
