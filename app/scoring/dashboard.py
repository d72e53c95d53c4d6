"""/dashboard: a server-rendered page for people with an admin or read key (no scripts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import oidc_routes, throttle
from app.auth import service as auth_service
from app.auth import web as auth_web
from app.auth.models import Role
from app.clock import utcnow
from app.db import SessionDep, get_session
from app.errors import AppError
from app.scoring import display, exports, overview, pages, privacy, webpage
from app.scoring.schemas import ScoreFilter
from app.scoring.webpage import CSP, DEFAULT_WEEKS, HERE, SECURITY_HEADERS, templates

__all__ = ["CSP", "DEFAULT_WEEKS", "SECURITY_HEADERS", "public_router", "templates"]

public_router = APIRouter(include_in_schema=False)
public_router.include_router(oidc_routes.router)  # /dashboard/oidc/login and /callback
public_router.include_router(pages.router)  # /dashboard/tickets and /dashboard/comments
_page = webpage.page


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    """The sign-in form: an API key field and/or the single sign-on button (docs/sign-in.md)."""
    oidc = request.app.state.settings.oidc
    context = {
        "error": error,
        "key_login": oidc.key_login,
        "oidc_name": oidc.provider_name if oidc.enabled else None,
    }
    return _page(request, "login.html", context, status)


@public_router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    session: SessionDep,
    interval: Annotated[str, Query(pattern="^(day|week|month)$")] = "week",
    lang: Annotated[str | None, Query()] = None,
) -> Response:
    """The experience dashboard, or the sign-in form without a live session."""
    if (signed_in := await auth_web.current(session, request)) is None:
        return _login_page(request)
    params = request.query_params
    zone_today = webpage.today_in(params, utcnow())
    try:
        filt = webpage.parse_filter(params, zone_today)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        return _page(request, "error.html", {"message": message}, status=422)
    settings = request.app.state.settings
    p = privacy.from_settings(settings)
    try:
        p.check(filt)
    except AppError as exc:
        return _page(request, "error.html", {"message": exc.detail}, status=exc.status)
    locale = display.viewer_locale(lang, request.headers.get("accept-language"))
    context = await overview.gather(
        session,
        filt,
        interval=interval,
        hourly_cost=settings.hourly_cost,
        today=zone_today,
        privacy=p,
        locale=locale,
        link=webpage.linker(filt, lang),
    )
    context.update(
        who=signed_in.display_name, role=signed_in.role, is_admin=signed_in.role == Role.admin
    )
    return _page(request, "dashboard.html", context)


@public_router.post("/dashboard/login")
async def login(request: Request, session: SessionDep, key: Annotated[str, Form()]) -> Response:
    """Check the key and start a server-side session; the cookie holds only its random id."""
    if not request.app.state.settings.oidc.key_login:
        return _login_page(request, "Sign-in with an API key is switched off here.", 403)
    if (wait := throttle.locked_out(request)) is not None:
        error = f"Too many failed sign-ins from this address. Try again in {wait} seconds."
        response = _login_page(request, error, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    api_key = await auth_service.authenticate(session, key.strip())
    if api_key is None:
        throttle.record_failure(request)
        return _login_page(request, "Unknown or revoked API key.", 401)
    response = RedirectResponse("/dashboard", status_code=303)
    await auth_web.sign_in(session, request, response, auth_service.person_of_key(api_key))
    response.headers.update(SECURITY_HEADERS)
    return response


@public_router.post("/dashboard/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """End this browser's session (revoked on the server) and forget its cookie."""
    response = RedirectResponse("/dashboard", status_code=303)
    await auth_web.sign_out(session, request, response)
    response.headers.update(SECURITY_HEADERS)
    return response


# The export streams after the handler returns: its session outlives the handler.
StreamSession = Annotated[AsyncSession, Depends(get_session, scope="request")]


@public_router.get("/dashboard/export/responses.csv")
async def export_responses(
    request: Request, session: StreamSession, filt: Annotated[ScoreFilter, Query()]
) -> Response:
    """Per-ticket responses as CSV, for admins only (the same rows as /api/v1/exports)."""
    signed_in = await auth_web.current(session, request)
    if signed_in is None:
        return RedirectResponse("/dashboard", status_code=303)
    if signed_in.role != Role.admin:
        message = "The per-ticket export is for admins only."
        return _page(request, "error.html", {"message": message}, status=403)
    p = privacy.from_settings(request.app.state.settings)
    p.check(filt)
    columns = exports.columns(agent=p.agent_figures)

    async def rows() -> AsyncIterator[str]:
        yield exports.csv_header(columns)
        async for batch in exports.records(session, filt, columns):
            yield exports.csv_rows(batch, columns)

    headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="responses.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


@public_router.get("/dashboard/static/dashboard.css")
async def stylesheet() -> Response:
    """The dashboard's stylesheet (served here: no CDN)."""
    return FileResponse(
        HERE / "templates" / "dashboard.css",
        media_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@public_router.get("/dashboard/static/favicon.svg")
async def favicon() -> Response:
    """The dashboard's icon."""
    return FileResponse(
        HERE / "templates" / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
