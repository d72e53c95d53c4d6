"""/dashboard: a server-rendered page for people with an admin or read key (no scripts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Annotated, Any

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
from app.scoring import (
    charts,
    comments,
    display,
    exports,
    insights,
    pages,
    privacy,
    service,
    webpage,
    xla,
)
from app.scoring.models import XlaScope
from app.scoring.schemas import Dimension, ScoreFilter, XlaStatus
from app.scoring.webpage import CSP, DEFAULT_WEEKS, HERE, SECURITY_HEADERS, templates

__all__ = ["CSP", "DEFAULT_WEEKS", "SECURITY_HEADERS", "public_router", "templates"]

public_router = APIRouter(include_in_schema=False)
public_router.include_router(oidc_routes.router)  # /dashboard/oidc/login and /callback
public_router.include_router(pages.router)  # /dashboard/tickets and /dashboard/comments
_page = webpage.page
# Breakdowns shown, with their titles; the agent one only with per-agent figures on.
BREAKDOWNS = (
    (Dimension.service, "service", "By service"),
    (Dimension.assignment_group, "group", "By assignment group"),
    (Dimension.category, "category", "By category"),
    (Dimension.priority, "priority", "By priority"),
    (Dimension.channel, "channel", "By channel"),
    (Dimension.connector, "connector", "By connector"),
    (Dimension.agent, "agent", "By agent"),
)
BARS_SHOWN = 12


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
    context = await gather(
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


async def gather(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    interval: str,
    hourly_cost: float,
    today: date,
    privacy: privacy.Privacy,
    locale: str = display.PAGE_LOCALE,
    link: Callable[..., str] | None = None,
) -> dict[str, Any]:
    """Everything the page shows, from the same service functions as the API, with the same
    minimum group size (privacy.py)."""
    p = privacy
    link = link or webpage.linker(filt, None)
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
    values = await comments.filter_values(session, filt, agents=p.agent_figures)
    names = {Dimension.connector: dict(values.get(Dimension.connector, []))}
    breakdowns, rows_by = {}, {}
    for by, title, _ in BREAKDOWNS:
        if by == Dimension.agent and not p.agent_figures:
            continue
        rows_by[by] = await service.breakdown(session, filt, by=by, hourly_cost=hourly_cost)
        breakdowns[title] = _bars(filt, by, rows_by[by], p, link, names.get(by, {}))
    factor_bars = {
        polarity: charts.bar_chart(
            [
                (
                    display.factor_label(locale, f.factor),
                    (f.share or 0) * 100,
                    f"{display.percent(f.share)} · {display.counted('n_responses', f.responses)}",
                )
                for f in ([] if hidden else shares[:7])
            ],
            lo=0,
            hi=100,
            label_w=250,  # factor labels are sentences
            good_from=0 if polarity == "positive" else 101,
            bad_below=101 if polarity == "negative" else -1,
            hrefs=[link("/dashboard/tickets", factor=f.factor) for f in shares[:7]],
        )
        for polarity, shares in (("positive", factors.positive), ("negative", factors.negative))
    }
    targets, _ = await xla.page(session, cursor=None, limit=20)
    xlas = [
        await xla.read(session, t, at=today, tz=filt.tz, hourly_cost=hourly_cost) for t in targets
    ]
    melons = insights.pick(
        {by: rows_by[by] for by in insights.GROUP_DIMENSIONS},
        sla_min=insights.SLA_MIN,
        happiness_max=insights.HAPPINESS_MAX,
        min_responses=insights.MIN_RESPONSES,
        privacy=p,
    )
    melon_tickets, _ = await insights.tickets(session, filt, cursor=None, limit=10)
    lines = trends(filt, points, interval, p, link)
    return {
        "filt": filt,
        "interval": interval,
        "figures": figures,
        "hidden": hidden,
        "hidden_reason": p.reason,
        "agent_figures": p.agent_figures,
        "trends": lines,
        "trend": lines["happiness"],
        "breakdowns": breakdowns,
        "breakdown_titles": [(t, h) for by, t, h in BREAKDOWNS if t in breakdowns],
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
        "xla_links": {x.id: _xla_link(x, link) for x in xlas},
        "xla_reasons": {
            x.id: display.xla_reason(
                x.current.status, x.current.figures.responses, x.current.targets
            )
            for x in xlas
            if isinstance(x.current, XlaStatus)
        },
        "melons": melons,
        "melon_tickets": melon_tickets,
        "hourly_cost": hourly_cost,
        "selects": webpage.selects(filt, values),
        "locale": locale,
        "link": link,
    }


def _bars(
    filt: ScoreFilter,
    by: Dimension,
    rows: list[tuple[str | None, Any]],
    p: privacy.Privacy,
    link: Callable[..., str],
    names: dict[str, str],
) -> charts.BarChart:
    """Happiness per group, the busiest first; each bar leads to that group's tickets."""
    field = "connector_id" if by == Dimension.connector else by.value
    shown = sorted(rows, key=lambda r: -r[1].responses)[:BARS_SHOWN]

    def label(k: str | None) -> str:
        return names.get(k or "", k) or "(none)"

    return charts.bar_chart(
        [
            (label(k), None, f"hidden: {p.reason}")
            if p.hides(filt, by, f.responses)
            else (label(k), f.happiness.value, _happiness_text(f.happiness))
            for k, f in shown
        ],
        hrefs=[None if k is None else link("/dashboard/tickets", **{field: k}) for k, _ in shown],
    )


def trends(
    filt: ScoreFilter,
    points: list[tuple[date, Any]],
    interval: str,
    p: privacy.Privacy,
    link: Callable[..., str],
) -> dict[str, charts.LineChart]:
    """Happiness, response rate, volume and lost time per period; a dot leads to the period's
    tickets. A period of a group too small to show is a gap in every line."""
    shown = [(d, None if p.hides(filt, None, f.responses) else f) for d, f in points]
    hrefs = []
    for d, _ in shown:
        first, last = webpage.period_days(d, interval, filt)
        hrefs.append(link("/dashboard/tickets", date_from=first, date_to=last))
    volume = [f.responses for _, f in shown if f is not None]
    hours = [round(f.lost_time.total_hours, 1) for _, f in shown if f is not None]
    return {
        "happiness": charts.line_chart(
            [
                (d.isoformat(), None, None)
                if f is None
                else (d.isoformat(), f.happiness.value, f.happiness.margin)
                for d, f in shown
            ],
            hrefs=hrefs,
        ),
        "rate": charts.line_chart(
            [
                (
                    d.isoformat(),
                    None
                    if f is None or f.response_rate is None
                    else round(f.response_rate * 100, 1),
                    None,
                )
                for d, f in shown
            ],
            lo=0,
            hi=100,
            unit="%",
            hrefs=hrefs,
        ),
        "volume": charts.line_chart(
            [(d.isoformat(), None if f is None else f.responses, None) for d, f in shown],
            lo=0,
            hi=charts.nice_max(volume),
            unit="",
            describe=lambda v: display.counted("n_responses", int(v)),
            hrefs=hrefs,
        ),
        "lost": charts.line_chart(
            [
                (d.isoformat(), None if f is None else round(f.lost_time.total_hours, 1), None)
                for d, f in shown
            ],
            lo=0,
            hi=charts.nice_max(hours),
            unit=" h",
            hrefs=hrefs,
        ),
    }


def _xla_link(x: Any, link: Callable[..., str]) -> str | None:
    """The tickets of an XLA's current period and scope."""
    if x.current is None:
        return None
    scope = {"service": None, "assignment_group": None}
    if x.scope == XlaScope.service:
        scope["service"] = x.scope_value
    elif x.scope == XlaScope.group:
        scope["assignment_group"] = x.scope_value
    return link(
        "/dashboard/tickets",
        date_from=x.current.period_start,
        date_to=x.current.period_end,
        tz=x.current.tz,
        **scope,
    )


def _happiness_text(h: Any) -> str:
    if h.value is None:
        return "no responses"
    # The margin is in the tooltip as a range clipped to the scale; here it would not fit.
    return f"{display.signed(h.value)} · {display.counted('n_responses', h.responses)}"


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
