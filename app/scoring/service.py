"""Scores for a filter and grouping: counts and sums per group in SQL, ratios by formulas.py."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_name
from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS, SCALES
from app.pagination import InvalidCursor, decode_cursor, encode_cursor
from app.scoring import formulas, upkeep
from app.scoring.models import SCALE_PREFIX, TicketNotSent, TicketScore
from app.scoring.schemas import (
    CsatFigures,
    Dimension,
    FactorList,
    FactorShare,
    HappinessFigures,
    LostTimeFigures,
    NotSent,
    ScoreFigures,
    ScoreFilter,
    SlaFigures,
)
from app.scoring.sql import (
    DIMENSIONS,
    hash_grouping,
    period_index,
    prefer_custom_plans,
    ticket_conditions,
)

HAPPINESS_SCALE = "happiness-0-10"  # happiness uses 0–10 responses only
CSAT_SCALE = "faces-5"  # CSAT uses 1–5 responses only
EVERYTHING = "*"  # the group key of an ungrouped query
NULL_KEY = "\x7f"  # the breakdown cursor of the null group, which sorts last
FACTOR_COLUMNS = {f"f_{k}" for k in POSITIVE_FACTORS + NEGATIVE_FACTORS} | {
    "positive_responses",
    "negative_responses",
}


@dataclass
class Counts:
    """Raw per-group counts and sums, as SQL returns them; `figures()` derives the ratios."""

    responses: int = 0
    per_scale: dict[str, dict[str, int]] = field(default_factory=dict)  # n, sum, happy, unhappy
    lost_n: int = 0
    lost_sum: int = 0
    lost_histogram: dict[int, int] = field(default_factory=dict)
    requests_sent: int = 0
    requests_not_sent: int = 0
    not_sent: list[NotSent] = field(default_factory=list)
    sla_known: int = 0
    sla_met: int = 0
    factors: dict[str, int] = field(default_factory=dict)  # responses that picked each
    polarity_responses: dict[str, int] = field(default_factory=dict)  # picked any of polarity

    def factor_list(self) -> FactorList:
        def shares(polarity: str, known: tuple[str, ...]) -> list[FactorShare]:
            total = self.polarity_responses.get(polarity, 0)
            rows = [
                FactorShare(
                    factor=name,
                    polarity=polarity,
                    responses=self.factors.get(name, 0),
                    share=formulas.ratio(self.factors.get(name, 0), total),
                )
                for name in known
            ]
            return sorted(rows, key=lambda r: (-r.responses, known.index(r.factor)))

        return FactorList(
            positive_responses=self.polarity_responses.get("positive", 0),
            negative_responses=self.polarity_responses.get("negative", 0),
            positive=shares("positive", POSITIVE_FACTORS),
            negative=shares("negative", NEGATIVE_FACTORS),
        )

    def scale(self, key: str) -> dict[str, int]:
        return self.per_scale.get(key, {"n": 0, "sum": 0, "happy": 0, "unhappy": 0})

    def figures(self, hourly_cost: float) -> ScoreFigures:
        h = self.scale(HAPPINESS_SCALE)
        c = self.scale(CSAT_SCALE)
        norm_sum, norm_n = 0.0, 0
        for key, s in self.per_scale.items():
            scale = SCALES.get(key)
            if scale is None or not s["n"]:
                continue
            # Σ normalised = (Σ score − n × min) × 100 ÷ (max − min): exact on every backend.
            norm_sum += (s["sum"] - s["n"] * scale.min) * 100 / (scale.max - scale.min)
            norm_n += s["n"]
        return ScoreFigures(
            requests_sent=self.requests_sent,
            not_sent=sorted(self.not_sent, key=lambda x: (x.status, x.reason or "")),
            responses=self.responses,
            response_rate=formulas.ratio(self.responses, self.requests_sent),
            happiness=HappinessFigures(
                value=formulas.happiness(h["happy"], h["unhappy"], h["n"]),
                margin=formulas.happiness_margin(h["happy"], h["unhappy"], h["n"]),
                low_sample=formulas.low_sample(h["n"]),
                responses=h["n"],
                happy=h["happy"],
                neutral=h["n"] - h["happy"] - h["unhappy"],
                unhappy=h["unhappy"],
            ),
            csat=CsatFigures(
                value=formulas.csat(c["happy"], c["n"]), responses=c["n"], satisfied=c["happy"]
            ),
            mean_normalised_score=formulas.mean(norm_sum, norm_n),
            lost_time=LostTimeFigures(
                responses=self.lost_n,
                mean_minutes=formulas.mean(self.lost_sum, self.lost_n),
                median_minutes=formulas.median_from_histogram(self.lost_histogram),
                total_hours=formulas.lost_hours(self.lost_sum),
                cost=formulas.lost_cost(self.lost_sum, hourly_cost),
            ),
            sla=SlaFigures(
                known=self.sla_known,
                met=self.sla_met,
                attainment=formulas.ratio(self.sla_met, self.sla_known),
            ),
        )


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0).label(column.key)


# A grouping: given the table (ticket_scores or ticket_not_sent), what to group by and its label.
Grouping = Callable[[Any], tuple[Any, Any]]


def by_column(name: str) -> Grouping:
    return lambda table: (getattr(table, name), getattr(table, name))


async def aggregate(
    session: AsyncSession,
    filt: ScoreFilter,
    grouping: Grouping | None = None,
    *,
    with_factors: bool = True,
    **window: Any,
) -> dict[Any, Counts]:
    """Counts per group, or under EVERYTHING without a grouping.

    One scan of ticket_scores gives every count; where some requests were never sent, one scan
    of ticket_not_sent lists them by reason."""
    await upkeep.catch_up(session)  # the tables include every change committed before this
    await prefer_custom_plans(session)
    s = TicketScore
    counted = [
        c
        for c in s.__table__.columns
        if isinstance(c.type, Integer) and (with_factors or c.key not in FACTOR_COLUMNS)
    ]
    group, key = _grouped(s, grouping)
    stmt = select(key, *(_total(c) for c in counted)).where(
        *ticket_conditions(filt, table=s, **window)
    )
    out: dict[Any, Counts] = {}
    for row in await session.execute(stmt.group_by(*group)):
        m = {k: (v if k == "key" else int(v)) for k, v in row._mapping.items()}
        if grouping is not None or any(v for k, v in m.items() if k != "key"):
            out[m["key"]] = _counts(m)  # ungrouped, an all-zero row means no ticket in scope
    if not any(c.requests_not_sent for c in out.values()):
        return out

    n = TicketNotSent
    group, key = _grouped(n, grouping)
    stmt = (
        select(key, n.status, n.reason, func.sum(n.requests).label("n"))
        .where(*ticket_conditions(filt, table=n, **window))
        .group_by(*group, n.status, n.reason)
    )
    for row in await session.execute(stmt):
        out.setdefault(row.key, Counts()).not_sent.append(
            NotSent(status=row.status, reason=row.reason, requests=int(row.n))
        )
    return out


def _grouped(table: Any, grouping: Grouping | None) -> tuple[list[Any], Any]:
    if grouping is None:
        return [], literal_column(f"'{EVERYTHING}'").label("key")
    group, label = grouping(table)
    return [group], label.label("key")


def _counts(m: dict[str, Any]) -> Counts:
    return Counts(
        responses=m["responses"],
        per_scale={
            key: {f: m[f"{prefix}_{f}"] for f in ("n", "sum", "happy", "unhappy")}
            for key, prefix in SCALE_PREFIX.items()
        },
        lost_n=m["lost_n"],
        lost_sum=m["lost_sum"],
        # The median comes from this histogram: lost time is one of docs/scoring.md's buckets.
        lost_histogram={v: m[f"lost_{v}"] for v in LOST_TIME_MINUTES.values()},
        requests_sent=m["requests_sent"],
        requests_not_sent=m["requests_not_sent"],
        sla_known=m["sla_known"],
        sla_met=m["sla_met"],
        factors={k: m.get(f"f_{k}", 0) for k in POSITIVE_FACTORS + NEGATIVE_FACTORS},
        polarity_responses={p: m.get(f"{p}_responses", 0) for p in ("positive", "negative")},
    )


async def summary(session: AsyncSession, filt: ScoreFilter, *, hourly_cost: float) -> ScoreFigures:
    counts = (await aggregate(session, filt, with_factors=False)).get(EVERYTHING, Counts())
    return counts.figures(hourly_cost)


async def summary_and_factors(
    session: AsyncSession, filt: ScoreFilter, *, hourly_cost: float
) -> tuple[ScoreFigures, FactorList]:
    counts = (await aggregate(session, filt)).get(EVERYTHING, Counts())
    return counts.figures(hourly_cost), counts.factor_list()


async def breakdown(
    session: AsyncSession, filt: ScoreFilter, *, by: Dimension, hourly_cost: float
) -> list[tuple[str | None, ScoreFigures]]:
    """Every group with tickets, requests or responses in scope, sorted by key (null last)."""
    groups = await aggregate(session, filt, by_column(DIMENSIONS[by]), with_factors=False)
    keys = sorted(groups, key=lambda k: (k is None, str(k) if k is not None else ""))
    return [(None if k is None else str(k), groups[k].figures(hourly_cost)) for k in keys]


async def trend(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    interval: str,
    first: date,
    last: date,
    hourly_cost: float,
) -> list[tuple[date, ScoreFigures]]:
    """One point per period from the one holding `first` to the one holding `last`; periods
    without data are present with zero counts and null ratios."""
    starts = formulas.periods(first, last, interval)
    if not starts:
        return []
    zone = filt.zone
    bounds = [formulas.local_midnight_utc(s, zone) for s in starts]
    bounds.append(formulas.local_midnight_utc(formulas.next_period(starts[-1], interval), zone))
    # Intersect the page's window with the filter's own days.
    start, end = _intersect(filt, bounds[0], bounds[-1])
    with period_index(bounds, dialect_name(session)) as index_of:

        def per_period(table: Any) -> tuple[Any, Any]:
            key = index_of(table.resolved_at)
            return key, key

        async with hash_grouping(session):
            groups = await aggregate(
                session, filt, per_period, with_factors=False, start=start, end=end
            )
    # Rows lie in [bounds[0], bounds[-1]), so period i (1-based) starts at starts[i - 1].
    return [(s, groups.get(i, Counts()).figures(hourly_cost)) for i, s in enumerate(starts, 1)]


def _intersect(filt: ScoreFilter, start: Any, end: Any) -> tuple[Any, Any]:
    zone = filt.zone
    if filt.date_from:
        start = max(start, formulas.local_midnight_utc(filt.date_from, zone))
    if filt.date_to:
        end = min(end, formulas.local_midnight_utc(filt.date_to + timedelta(days=1), zone))
    return start, end


async def resolved_days(session: AsyncSession, filt: ScoreFilter) -> tuple[date, date] | None:
    """The first and last local resolution days in scope, for a trend without a day range."""
    await upkeep.catch_up(session)
    s = TicketScore
    stmt = select(func.min(s.resolved_at), func.max(s.resolved_at)).where(
        *ticket_conditions(filt, table=s)
    )
    low, high = (await session.execute(stmt)).one()
    if low is None:
        return None
    zone = filt.zone
    return formulas.local_day(low, zone), formulas.local_day(high, zone)


async def factors(session: AsyncSession, filt: ScoreFilter) -> FactorList:
    """Every factor with its share of same-polarity responses, most picked first."""
    return (await aggregate(session, filt)).get(EVERYTHING, Counts()).factor_list()


def _after(keys: list[str], cursor: str | None) -> int:
    """Index of the first key after the cursor's key (keys are sorted, cursor is a key)."""
    if cursor is None:
        return 0
    values = decode_cursor(cursor)
    if len(values) != 1:
        raise InvalidCursor("The cursor is not one this API issued")
    return bisect.bisect_right(keys, values[0])


async def breakdown_page(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    by: Dimension,
    hourly_cost: float,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[str | None, ScoreFigures]], str | None]:
    rows = await breakdown(session, filt, by=by, hourly_cost=hourly_cost)
    # Sort key for the cursor: null groups sort last, as "\x7f" never starts a real value here.
    sort_keys = [NULL_KEY if k is None else "\x00" + k for k, _ in rows]
    start = _after(sort_keys, cursor)
    chunk = rows[start : start + limit]
    more = start + limit < len(rows)
    return chunk, encode_cursor(sort_keys[start + limit - 1]) if more else None


async def trend_page(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    interval: str,
    hourly_cost: float,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[date, ScoreFigures]], str | None]:
    """Periods from the filter's first day (or the first resolution in scope) to its last."""
    first, last = filt.date_from, filt.date_to
    if first is None or last is None:
        seen = await resolved_days(session, filt)
        if seen is None:
            return [], None
        first, last = first or seen[0], last or seen[1]
    starts = [s.isoformat() for s in formulas.periods(first, last, interval)]
    begin = _after(starts, cursor)
    chunk = starts[begin : begin + limit]
    if not chunk:
        return [], None
    points = await trend(
        session,
        filt,
        interval=interval,
        first=date.fromisoformat(chunk[0]),
        last=date.fromisoformat(chunk[-1]),
        hourly_cost=hourly_cost,
    )
    more = begin + limit < len(starts)
    return points, encode_cursor(chunk[-1]) if more else None
