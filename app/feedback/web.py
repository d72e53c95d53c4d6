"""HTTP glue of the public feedback page: headers, locale, content negotiation, form parsing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from app.clock import utcnow
from app.config import Settings
from app.errors import RateLimited, Unprocessable
from app.feedback import i18n, judgement, rules
from app.feedback.answers import Answer, Click, FeedbackExpired, FeedbackLinkUnknown, InvalidAnswer
from app.feedback.models import FeedbackRequest
from app.feedback.ratelimit import SlidingWindow
from app.feedback.render import render
from app.feedback.tokens import token_hash, view_of, view_stamp

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept or "application/problem+json" in accept


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def client_hash(request: Request) -> str:
    """Who fetched, as evidence: address and user agent, hashed and truncated (not reversible
    to the address, never stored in clear)."""
    raw = client_address(request) + "\0" + request.headers.get("user-agent", "")
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


RETRY_MINUTE = {"Retry-After": "60"}


def check_rate(request: Request, token: str, settings: Settings) -> None:
    """Per token and per client address, in this process (ratelimit.py)."""
    limiter = getattr(request.app.state, "feedback_limiter", None)
    if limiter is None:
        limiter = request.app.state.feedback_limiter = SlidingWindow()
    fb = settings.feedback
    per_address = fb.rate_limit_per_address_per_minute or fb.rate_limit_per_minute
    if not limiter.allow("a:" + client_address(request), per_address):
        raise RateLimited(
            "Too many requests from this address; try again in a minute", headers=RETRY_MINUTE
        )
    if not limiter.allow("t:" + token_hash(token)[:32], fb.rate_limit_per_minute):
        raise RateLimited(
            "Too many requests for this link; try again in a minute", headers=RETRY_MINUTE
        )


def locale_for(request: Request, fb_request: FeedbackRequest | None, settings: Settings) -> str:
    return rules.pick_locale(
        request.query_params.get("lang"),
        fb_request.locale if fb_request else None,
        request.headers.get("accept-language"),
        settings.feedback.default_locale,
    )


def error_page(request: Request, exc: Exception, settings: Settings) -> Response:
    """A friendly page for people; the same facts as problem+json for programs."""
    lang = locale_for(request, None, settings)
    s = i18n.strings(lang)
    if isinstance(exc, FeedbackLinkUnknown):
        status, title, body = 404, s["not_found_title"], s["not_found_body"]
    elif isinstance(exc, FeedbackExpired):
        status, title, body = 410, s["gone_title"], s["gone_body"]
    elif isinstance(exc, RateLimited):
        status, title, body = 429, s["rate_title"], s["rate_body"]
    else:
        assert isinstance(exc, InvalidAnswer | Unprocessable)
        status, title, body = 422, s["invalid_title"], exc.detail
    back = request.url.path if status == 422 else None
    html = render("message.html", lang=lang, s=s, title=title, body=body, back=back)
    response = HTMLResponse(html, status_code=status)
    if status == 429:
        response.headers.update(RETRY_MINUTE)
    return secure(response)


async def parse_answer(request: Request, token: str, settings: Settings) -> tuple[Answer, Click]:
    """The public contract: form fields or a JSON object, `score`, `factors`, `lost_time`,
    `comment` (plus the page's `lang`, `view`, `confirm` and `signals`)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise InvalidAnswer("The body is not valid JSON") from exc
        if not isinstance(data, dict):
            raise InvalidAnswer("The body must be a JSON object")
        factors = data.get("factors")
        if isinstance(factors, str):
            factors = [factors]
        signals = data.get("signals") if isinstance(data.get("signals"), dict) else {}
    else:
        form: FormData = await request.form()
        fields = ("score", "lost_time", "comment", "lang", "view", "confirm")
        data = {k: form.get(k) for k in fields}
        factors = form.getlist("factors") if "factors" in form else None
        signals = json_dict(form.get("signals"))
    answer = Answer(
        score=_score(data.get("score")),
        factors=None if factors is None else [str(f) for f in factors if f],
        lost_time=_text(data.get("lost_time")),
        comment=_text(data.get("comment")),
        locale=rules.normalise_locale(_text(data.get("lang"))),
    )
    click = click_of(request, token, settings, signals, data.get("view"), data.get("confirm"))
    return answer, click


def click_of(
    request: Request,
    token: str,
    settings: Settings,
    signals: dict[str, Any],
    view: Any,
    confirm: Any,
) -> Click:
    """The evidence of one POST: fetch metadata, the page's signals and its signed view."""
    names = ("accept-language", "sec-fetch-site", "sec-fetch-user", "sec-fetch-mode", "origin")
    headers = {k: request.headers.get(k, "") for k in names}
    secret = settings.secret_key.get_secret_value()
    found = view_of(view if isinstance(view, str) else None, secret, token)
    view_age_ms = None
    # The view id comes from the signed stamp only: a client cannot claim another page's view.
    signals = {**signals, "view": found[0] if found else None}
    if found is not None:
        view_age_ms = utcnow().timestamp() * 1000 - found[1]
    return Click(
        user_agent=request.headers.get("user-agent"),
        headers=headers,
        signals=signals,
        client_hash=client_hash(request),
        mode=judgement.mode_of(signals, confirm=confirm in ("1", "true", True)),
        view_age_ms=view_age_ms,
    )


def stamp(token: str, settings: Settings) -> str:
    """A signed id for the page being rendered (forms and the script post it back)."""
    now_ms = int(utcnow().timestamp() * 1000)
    return view_stamp(settings.secret_key.get_secret_value(), token, now_ms)


def _score(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool | float):
        raise InvalidAnswer(
            "Score must be a whole number", errors=[{"field": "score", "message": "not a number"}]
        )
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidAnswer(
            "Score must be a whole number", errors=[{"field": "score", "message": "not a number"}]
        ) from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidAnswer("Text fields must be strings")
    return value


def json_dict(value: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def json_answer(data: dict[str, Any]) -> JSONResponse:
    return secure(JSONResponse(data))  # type: ignore[return-value]
