"""What every dashboard page shares: templates, strict headers, the filter read from the URL and
links that carry it, so a figure's drill-down shows exactly the answers behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from app.feedback import i18n
from app.scoring import display, formulas
from app.scoring.schemas import ScoreFilter

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
# Counted words ("1 response", "2 responses") from the feedback catalogue; the page is English.
templates.env.globals["plural"] = partial(i18n.plural, display.PAGE_LOCALE)
templates.env.globals["d"] = display
DEFAULT_WEEKS = 12
FILTER_FIELDS = tuple(ScoreFilter.model_fields)
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


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def parse_filter(params: Mapping[str, str], today: date) -> ScoreFilter:
    """The filter in the URL (an empty select box means "any"); without days, the last 12 weeks
    up to today. Raises pydantic's ValidationError for a bad value."""
    given = {k: params[k] for k in FILTER_FIELDS if params.get(k, "").strip()}
    filt = ScoreFilter(**given)  # checks the zone before `today` is read in it
    date_to = filt.date_to or today
    date_from = filt.date_from or date_to - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    return filt.model_copy(update={"date_from": date_from, "date_to": date_to})


def today_in(params: Mapping[str, str], now: Any) -> date:
    """Today in the URL's time zone (UTC when it names none or an unknown one)."""
    try:
        return now.astimezone(ScoreFilter(tz=params.get("tz") or "UTC").zone).date()
    except ValueError:
        return now.date()


def linker(filt: ScoreFilter, lang: str | None) -> Callable[..., str]:
    """link(path, **over): `path` with the filter's query, `over` replacing fields (None drops
    one); every drill-down link is built here so it filters like the figure it comes from."""
    base: dict[str, Any] = {
        k: v for k, v in filt.model_dump(mode="json").items() if v is not None and v != ""
    }
    if lang:
        base["lang"] = lang

    def link(path: str, **over: Any) -> str:
        query = {k: str(v) for k, v in {**base, **over}.items() if v is not None}
        return f"{path}?{urlencode(query)}" if query else path

    return link


def period_days(start: date, interval: str, filt: ScoreFilter) -> tuple[date, date]:
    """The local days of one trend period, cut to the filter's days."""
    end = formulas.next_period(start, interval) - timedelta(days=1)
    assert filt.date_from is not None and filt.date_to is not None
    return max(start, filt.date_from), min(end, filt.date_to)


SELECT_LABELS = (
    ("service", "Service"),
    ("assignment_group", "Group"),
    ("category", "Category"),
    ("priority", "Priority"),
    ("channel", "Channel"),
    ("connector", "Connector"),
    ("agent", "Agent"),
)


def selects(
    filt: ScoreFilter, values: Mapping[Any, list[tuple[str, str]]]
) -> list[tuple[str, str, list[tuple[str, str]], str]]:
    """(query name, label, (value, text) options, chosen value) per filter select box; a
    chosen value missing from the data stays selectable, so the URL and the form agree."""
    out = []
    for dim, label in SELECT_LABELS:
        if dim not in values:
            continue
        name = "connector_id" if dim == "connector" else dim
        current = getattr(filt, name)
        current = "" if current is None else str(current)
        options = list(values[dim])
        if current and current not in {v for v, _ in options}:
            options.insert(0, (current, current))
        out.append((name, label, options, current))
    return out
