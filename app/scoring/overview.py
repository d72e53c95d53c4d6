"""The overview page's content: figures, trends, breakdowns, factors, XLAs and watermelons,
from the same service functions as the API and with the same minimum group size (privacy.py);
every figure carries the link to the tickets behind it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.scoring import (
    charts,
    comments,
    display,
    followups,
    insights,
    privacy,
    service,
    webpage,
    xla,
)
from app.scoring.models import XlaScope
from app.scoring.schemas import Dimension, ScoreFilter, XlaStatus

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
        counts = await service.breakdown_counts(session, filt, by=by, with_not_sent=False)
        # Figures for the busiest groups only (the bars), and for every service and group
        # (the watermelon groups): a thousand agents' figures would cost more than the query.
        busiest = sorted(counts, key=lambda r: -r[1].responses)[:BARS_SHOWN]
        shown = [(k, c.figures(hourly_cost)) for k, c in busiest]
        breakdowns[title] = _bars(filt, by, shown, p, link, names.get(by, {}))
        if by in insights.GROUP_DIMENSIONS:
            rows_by[by] = [(k, c.figures(hourly_cost)) for k, c in counts]
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
        rows_by,
        sla_min=insights.SLA_MIN,
        happiness_max=insights.HAPPINESS_MAX,
        min_responses=insights.MIN_RESPONSES,
        privacy=p,
    )
    melon_tickets, _ = await insights.tickets(session, filt, cursor=None, limit=10)
    lines = trends(filt, points, interval, p, link)
    follow = await followups.figures(session, filt)
    return {
        "filt": filt,
        "interval": interval,
        "figures": figures,
        "hidden": hidden,
        "hidden_reason": p.reason,
        "agent_figures": p.agent_figures,
        "trends": lines,
        # Periods of a named group below the minimum group size are gaps: the page says so.
        "trend_hidden": sum(1 for _, f in points if p.hides(filt, None, f.responses)),
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
        # Follow-ups name people's unhappy answers: a group below the minimum shows none.
        "followups": None if hidden else follow,
        "followups_waiting": [] if hidden else await followups.waiting(session, filt, limit=10),
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
    """Happiness per group (the busiest, in that order); each bar leads to that group's
    tickets."""
    field = "connector_id" if by == Dimension.connector else by.value
    shown = rows

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
