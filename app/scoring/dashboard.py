"""/dashboard: a server-rendered page for people with an admin or read key (no scripts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import oidc_routes, throttle
from app.auth import service as auth_service
from app.auth import web as auth_web
from app.auth.models import Role
from app.clock import utcnow
from app.db import SessionDep, get_session
from app.feedback import i18n
from app.scoring import charts, exports, insights, privacy, service, xla
from app.scoring.models import XlaScope
from app.scoring.schemas import Dimension, ScoreFilter

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# Counted words ("1 response", "2 responses") from the feedback catalogue; the page is English.
templates.env.globals["plural"] = partial(i18n.plural, "en")
DEFAULT_WEEKS = 12
# No scripts at all; styles and images only from this origin; forms post only here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

public_router = APIRouter(include_in_schema=False)
public_router.include_router(oidc_routes.router)  # /dashboard/oidc/login and /callback


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


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
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    tz: Annotated[str, Query()] = "UTC",
    service_: Annotated[str | None, Query(alias="service")] = None,
    assignment_group: Annotated[str | None, Query()] = None,
    interval: Annotated[str, Query(pattern="^(day|week|month)$")] = "week",
) -> Response:
    """The experience dashboard, or the sign-in form without a live session."""
    if (signed_in := await auth_web.current(session, request)) is None:
        return _login_page(request)
    try:
        zone_today = utcnow().astimezone(ScoreFilter(tz=tz).zone).date()
        date_to = date_to or zone_today
        date_from = date_from or date_to - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
        filt = ScoreFilter(
            date_from=date_from,
            date_to=date_to,
            tz=tz,
            service=service_ or None,
            assignment_group=assignment_group or None,
        )
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        return _page(request, "error.html", {"message": message}, status=422)
    settings = request.app.state.settings
    context = await gather(
        session,
        filt,
        interval=interval,
        hourly_cost=settings.hourly_cost,
        today=zone_today,
        privacy=privacy.from_settings(settings),
    )
    context.update(
        who=signed_in.display_name, role=signed_in.role, is_admin=signed_in.role == Role.admin
    )
    return _page(request, "dashboard.html", context)


async def gather(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    interval: str,
    hourly_cost: float,
    today: date,
    privacy: privacy.Privacy,
) -> dict[str, Any]:
    """Everything the page shows, from the same service functions as the API, with the same
    minimum group size (privacy.py)."""
    p = privacy
    assert filt.date_from is not None and filt.date_to is not None
    figures, factors = await service.summary_and_factors(session, filt, hourly_cost=hourly_cost)
    points = await service.trend(
        session,
        filt,
        interval=interval,
        first=filt.date_from,
        last=filt.date_to,
        hourly_cost=hourly_cost,
    )
    # A group's summary, factors and trend points below the minimum group size are not shown.
    hidden = p.reason if p.hides(filt, None, figures.responses) else None
    trend = charts.line_chart(
        [
            (d.isoformat(), None, None)
            if p.hides(filt, None, f.responses)
            else (d.isoformat(), f.happiness.value, f.happiness.margin)
            for d, f in points
        ]
    )
    breakdowns, rows_by = {}, {}
    for by, title in ((Dimension.service, "service"), (Dimension.assignment_group, "group")):
        rows_by[by] = await service.breakdown(session, filt, by=by, hourly_cost=hourly_cost)
        rows = sorted(rows_by[by], key=lambda r: -r[1].responses)[:12]
        breakdowns[title] = charts.bar_chart(
            [
                (k or "(none)", None, f"hidden: {p.reason}")
                if p.hides(filt, by, f.responses)
                else (k or "(none)", f.happiness.value, _happiness_text(f.happiness))
                for k, f in rows
            ]
        )
    factor_bars = {
        polarity: charts.bar_chart(
            [
                (f.factor, (f.share or 0) * 100, f"{(f.share or 0) * 100:.0f}% · {f.responses}")
                for f in ([] if hidden else shares[:7])
            ],
            lo=0,
            hi=100,
            good_from=0 if polarity == "positive" else 101,
            bad_below=101 if polarity == "negative" else -1,
        )
        for polarity, shares in (("positive", factors.positive), ("negative", factors.negative))
    }
    targets, _ = await xla.page(session, cursor=None, limit=20)
    xlas = [
        await xla.read(session, t, at=today, tz=filt.tz, hourly_cost=hourly_cost) for t in targets
    ]
    melons = insights.pick(
        rows_by,
        sla_min=insights.SLA_MIN,
        happiness_max=insights.HAPPINESS_MAX,
        min_responses=insights.MIN_RESPONSES,
        privacy=p,
    )
    melon_tickets, _ = await insights.tickets(session, filt, cursor=None, limit=10)
    return {
        "filt": filt,
        "interval": interval,
        "figures": figures,
        "hidden": hidden,
        "hidden_reason": p.reason,
        "agent_figures": p.agent_figures,
        "trend": trend,
        "breakdowns": breakdowns,
        "factor_bars": factor_bars,
        "xlas": xlas,
        # An XLA on one service or group is that group's figures: hidden below the minimum.
        "xla_hidden": {
            x.id
            for x in xlas
            if x.scope != XlaScope.all
            and x.current is not None
            and p.min_responses > x.current.figures.responses
        },
        "melons": melons,
        "melon_tickets": melon_tickets,
        "hourly_cost": hourly_cost,
    }


def _happiness_text(h: Any) -> str:
    if h.value is None:
        return "no responses"
    return f"{h.value:+.1f} ±{h.margin:.1f} · {h.responses}"


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
