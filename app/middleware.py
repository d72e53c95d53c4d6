"""ASGI middleware: request id, access log, metrics and the last word on errors; the body size
cap; the input guard."""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import inputs
from app.errors import problem, unexpected_error, validation_problem
from app.logs import request_id_var

log = logging.getLogger("xpulse.http")

REQUESTS = Counter("xpulse_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "xpulse_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# Answers that must not be kept by a browser or proxy cache: API data and error answers.
NO_STORE_PREFIXES = ("/api/", "/metrics")


def _harden(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`X-Content-Type-Options: nosniff` on every answer; `Cache-Control: no-store` on API
    answers, /metrics and problem answers (anything else keeps the caching it chose)."""
    names = {k.lower() for k, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    no_store = path.startswith(NO_STORE_PREFIXES) or content_type.startswith(
        b"application/problem+json"
    )
    if no_store:
        headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
        headers.append((b"cache-control", b"no-store"))
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    return headers


class ObservabilityMiddleware:
    """Sets X-Request-ID, logs one JSON line per request and records metrics by route template;
    answers any exception no handler took (app/errors.py unexpected_error); hardens every
    answer's headers (_harden)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        start = time.perf_counter()
        started = finished = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started, finished
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = _harden(
                    scope["path"],
                    [*message.get("headers", []), (b"x-request-id", rid.encode())],
                )
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answered here rather than re-raised, so the server keeps the connection open.
            # A response cut off mid-stream cannot be mended: re-raising makes the server close
            # the connection, which tells the client the body is incomplete.
            if not started:
                response = unexpected_error(Request(scope), exc)
                await response(scope, receive, send_wrapper)
            elif not finished:
                log.error("error after the response started", exc_info=exc)
                raise
            else:
                log.error("error after the response was sent", exc_info=exc)
        finally:
            elapsed = time.perf_counter() - start
            # The route template, not the raw path, keeps label cardinality bounded.
            route, endpoint = scope.get("route"), scope.get("endpoint")
            template = getattr(route, "path", None) or getattr(endpoint, "__name__", "unmatched")
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with a 413 problem, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            detail = f"The body exceeds {self.max_bytes} bytes"
            response = problem(413, "payload-too-large", "Request body too large", detail)
            await response(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException, so FastAPI passes it through and it renders as a problem.
                    raise HTTPException(413, f"The body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


class InputGuardMiddleware:
    """422 naming the field for text no database can store (NUL, a lone surrogate) in the path,
    the query or a JSON or form body, and for JSON nested too deep, before a route or FastAPI
    parses anything (a 10,000-level body made json.loads recurse into a 500). Bodies of
    `raw_body_prefixes` (webhooks) are not checked: they are kept as sent, and the connector
    cleans what it takes from them (app/tickets/schemas.py)."""

    def __init__(self, app: ASGIApp, raw_body_prefixes: tuple[str, ...] = ("/webhooks/",)) -> None:
        self.app = app
        self.raw_body_prefixes = raw_body_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bad = _check_target(scope)
        kind = None if bad else self._body_kind(scope)
        if kind is not None:
            try:
                body, last = await _read_body(receive)
            except HTTPException as exc:  # the body cap (BodyLimitMiddleware) while reading
                await problem(
                    exc.status_code, "payload-too-large", "Request body too large", exc.detail
                )(scope, receive, send)
                return
            bad = inputs.check_json(body) if kind == "json" else inputs.check_urlencoded(body, "")
            receive = _replay(body, last, receive)
        if bad is not None:
            error = {"field": bad.field, "message": bad.message, "type": bad.type}
            await validation_problem(Request(scope), [error])(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _body_kind(self, scope: Scope) -> str | None:
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or scope["path"].startswith(
            self.raw_body_prefixes
        ):
            return None
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        media = content_type.split(b";", 1)[0].strip().lower()
        if media == b"application/x-www-form-urlencoded":
            return "form"
        # FastAPI reads a body without a content type as JSON.
        if not media or media == b"application/json" or media.endswith(b"+json"):
            return "json"
        return None  # multipart and others: the database guard (app/db_errors.py) still holds


def _check_target(scope: Scope) -> inputs.BadInput | None:
    if kind := inputs.text_problem(scope["path"]):
        return inputs.BadInput("path", inputs.MESSAGES[kind], kind)
    return inputs.check_urlencoded(scope.get("query_string") or b"", "query.")


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, and the disconnect message if the client left while sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks), None


def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
    """A receive() that hands the app the body already read, then carries on as before."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last is not None:
        pending.append(last)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
