"""/dashboard/oidc/login and /dashboard/oidc/callback: single sign-on for the dashboard.

Between the two, a short-lived `xpulse_oidc` cookie remembers the state, nonce and PKCE verifier,
encrypted (Fernet under a key derived from XPULSE_SECRET_KEY). It is SameSite=Lax: the callback
is a top-level navigation from the provider's site, which a Strict cookie would not follow."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth import oidc, sessions, throttle
from app.auth import web as auth_web
from app.auth.models import SignInMethod
from app.config import Settings
from app.db import SessionDep

FLOW_COOKIE = "xpulse_oidc"
FLOW_PATH = "/dashboard/oidc"
FLOW_SECONDS = 600  # a sign-in at the provider must finish within ten minutes
CALLBACK = "/dashboard/oidc/callback"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the callback URL carries the code: never pass it on
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
security_log = logging.getLogger("xpulse.security")
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def _flow_box(settings: Settings) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"xpulse oidc flow").derive(
        settings.secret_key.get_secret_value().encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _read_flow(request: Request) -> oidc.Flow | None:
    raw = request.cookies.get(FLOW_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(_flow_box(request.app.state.settings).decrypt(raw, ttl=FLOW_SECONDS))
        return oidc.Flow(state=data["state"], nonce=data["nonce"], verifier=data["verifier"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None


def _client(request: Request) -> oidc.OidcClient:
    settings: Settings = request.app.state.settings
    client = getattr(request.app.state, "oidc_client", None)
    if client is None or client.settings is not settings.oidc:
        client = request.app.state.oidc_client = oidc.OidcClient(settings.oidc)
    return client


def _redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK


def _page(
    request: Request,
    title: str,
    message: str | None,
    status: int,
    *,
    next_url: str | None = None,
) -> Response:
    context: dict[str, Any] = {
        "title": title,
        "message": message,
        "error": status >= 400,
        "next_url": next_url,
    }
    response = templates.TemplateResponse(request, "sign_in.html", context, status_code=status)
    response.headers.update(HEADERS)
    return response


def _locked_out(request: Request) -> Response | None:
    if (wait := throttle.locked_out(request)) is None:
        return None
    message = f"Too many failed sign-ins from this address. Try again in {wait} seconds."
    response = _page(request, "Sign-in refused", message, 429)
    response.headers["Retry-After"] = str(wait)
    return response


@router.get("/dashboard/oidc/login")
async def oidc_login(request: Request) -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    settings: Settings = request.app.state.settings
    if not settings.oidc.enabled:
        return RedirectResponse("/dashboard", status_code=303)
    if (refused := _locked_out(request)) is not None:
        return refused
    flow = oidc.Flow.new()
    try:
        url = await _client(request).authorization_url(
            request.app.state.http, flow, redirect_uri=_redirect_uri(settings)
        )
    except oidc.OidcError as exc:
        security_log.error(
            "single sign-on provider unusable",
            extra={"event": "oidc_provider_error", "reason": exc.reason},
        )
        message = f"{settings.oidc.provider_name} cannot be reached just now. Try again shortly."
        return _page(request, "Sign-in unavailable", message, 502)
    response = RedirectResponse(url, status_code=302)
    sealed = _flow_box(settings).encrypt(json.dumps(dataclasses.asdict(flow)).encode()).decode()
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=FLOW_SECONDS,
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",
        secure=auth_web.secure(settings),
    )
    response.headers.update(HEADERS)
    return response


@router.get(CALLBACK)
async def oidc_callback(request: Request, session: SessionDep) -> Response:
    """Check the provider's answer and the ID token, map the role, start a session."""
    settings: Settings = request.app.state.settings
    if not settings.oidc.enabled:
        return RedirectResponse("/dashboard", status_code=303)
    if (refused := _locked_out(request)) is not None:
        return refused
    params = request.query_params
    flow = _read_flow(request)
    try:
        if params.get("error"):
            # The person cancelled or the provider refused: nothing was guessed, not counted.
            message = f"{settings.oidc.provider_name} did not sign you in ({params['error'][:60]})."
            return _done(_page(request, "Not signed in", message, 403), settings)
        if flow is None:
            raise oidc.OidcError("no or expired flow cookie")
        if not hmac.compare_digest(params.get("state", ""), flow.state):
            raise oidc.OidcError("state does not match")
        if not params.get("code"):
            raise oidc.OidcError("no code")
        claims = await _client(request).exchange(
            request.app.state.http, flow, code=params["code"], redirect_uri=_redirect_uri(settings)
        )
    except oidc.OidcError as exc:
        if exc.status < 500:
            throttle.record_failure(request)
        security_log.warning(
            "single sign-on refused",
            extra={"event": "oidc_failed", "reason": exc.reason, "path": request.url.path},
        )
        message = "The sign-in could not be completed. Please start again."
        return _done(_page(request, "Not signed in", message, exc.status), settings)
    role = oidc.role_for(claims, settings.oidc)
    if role is None:
        security_log.warning(
            "single sign-on without an XPulse role",
            extra={"event": "oidc_no_role", "subject": claims.get("sub")},
        )
        message = (
            f"You are signed in at {settings.oidc.provider_name}, but you have no XPulse role. "
            "Ask your administrator to give you the XPulse viewer or admin role."
        )
        return _done(_page(request, "No access to XPulse", message, 403), settings)
    person = sessions.Person(
        subject=str(claims["sub"]),
        display_name=oidc.display_name(claims),
        role=role,
        method=SignInMethod.oidc,
        actor=oidc.actor(claims),
    )
    # A same-site page continues to the dashboard, so the Strict session cookie is sent there.
    response = _page(request, "Signed in", None, 200, next_url="/dashboard")
    await auth_web.sign_in(session, request, response, person)
    return _done(response, settings)


def _done(response: Response, settings: Settings) -> Response:
    """The flow cookie is single-use: forget it whatever happened."""
    response.delete_cookie(
        FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax", secure=auth_web.secure(settings)
    )
    return response
