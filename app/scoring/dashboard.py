"""/dashboard: a server-rendered page for people with an admin or read key (no scripts)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth import throttle
from app.clock import utcnow
from app.db import SessionDep
from app.feedback import i18n
from app.scoring import charts, insights, privacy, service, xla
from app.scoring.models import XlaScope
from app.scoring.schemas import Dimension, ScoreFilter

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# Counted words ("1 response", "2 responses") from the feedback catalogue; the page is English.
templates.env.globals["plural"] = partial(i18n.plural, "en")
COOKIE = "xpulse_dashboard"
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


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _signed_in(session: AsyncSession, request: Request) -> bool:
    key = request.cookies.get(COOKIE)
    return bool(key) and await auth_service.authenticate(session, key) is not None


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
    """The experience dashboard, or the sign-in form without a valid key."""
    if not await _signed_in(session, request):
        return _page(request, "login.html", {"error": None})
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
    """Check the key and keep it in an HttpOnly, SameSite=Strict cookie."""
    if (wait := throttle.locked_out(request)) is not None:
        error = f"Too many failed sign-ins from this address. Try again in {wait} seconds."
        response = _page(request, "login.html", {"error": error}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if await auth_service.authenticate(session, key.strip()) is None:
        throttle.record_failure(request)
        return _page(request, "login.html", {"error": "Unknown or revoked API key."}, 401)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/dashboard",
        max_age=12 * 3600,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@public_router.post("/dashboard/logout")
async def logout() -> Response:
    """Forget the key."""
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict")
    response.headers.update(SECURITY_HEADERS)
    return response


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
