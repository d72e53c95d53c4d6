"""Scores for a filter and grouping: counts and sums per group in SQL, ratios by formulas.py."""

from __future__ import annotations

import bisect
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.pagination import InvalidCursor, decode_cursor, encode_cursor
from app.scoring import bucket_reads, buckets, formulas, ticket_reads, upkeep
from app.scoring.counts import Counts, add_into
from app.scoring.models import TicketScore
from app.scoring.schemas import Dimension, FactorList, ScoreFigures, ScoreFilter
from app.scoring.sql import (
    DIMENSIONS,
    prefer_custom_plans,
    ticket_conditions,
    utc_range,
)

EVERYTHING = ticket_reads.EVERYTHING  # the group key of an ungrouped query
NULL_KEY = "\x7f"  # the breakdown cursor of the null group, which sorts last


async def aggregate(
    session: AsyncSession,
    filt: ScoreFilter,
    *,
    by: Dimension | None = None,
    bounds: list[datetime] | None = None,
    with_factors: bool = True,
    with_not_sent: bool = True,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[Any, Counts]:
    """Counts per value of `by`, per period between `bounds` (i for [bounds[i-1], bounds[i]),
    1-based), or under EVERYTHING; `start` and `end` narrow the filter's own days.

    Where at most one dimension is involved (filtered on or grouped by), the sums come from
    score_buckets for whole UTC hours, days and months, and from ticket_scores for the minutes
    left at the ends (app/scoring/buckets.py); otherwise from ticket_scores alone."""
    await upkeep.catch_up(session)  # the tables include every change committed before this
    await prefer_custom_plans(session)
    default_start, default_end = utc_range(filt)
    start, end = start or default_start, end or default_end
    dim = bucket_reads.dimension(filt, by) if bucket_reads.ENABLED else None
    scope = ticket_reads.Scope(filt, start, end)
    flags = {"with_factors": with_factors, "with_not_sent": with_not_sent}
    if dim is None:
        return await ticket_reads.scores(session, scope, by=by, bounds=bounds, **flags)

    plan = buckets.plan(_ranges(start, end, bounds))

    def key(tag: int, value: Any) -> Any:
        return value if by is not None else tag if bounds is not None else EVERYTHING

    out: dict[Any, Counts] = {}
    skip = frozenset() if with_factors else ticket_reads.FACTOR_COLUMNS
    for (tag, value), counts in (await bucket_reads.scores(session, plan, dim, skip=skip)).items():
        _merge(out, key(tag, value), counts)
    if plan.rows:
        edges = replace(scope, rows=_instants(plan.rows))
        parts = await ticket_reads.scores(session, edges, by=by, bounds=bounds, **flags)
        for k, counts in parts.items():
            _merge(out, k, counts)
    if with_not_sent and any(c.requests_not_sent for c in out.values()):
        for (tag, value), by_reason in (await bucket_reads.not_sent(session, plan, dim)).items():
            if key(tag, value) in out:
                add_into(out[key(tag, value)].not_sent, by_reason)
    return {k: c for k, c in out.items() if c.tickets > 0}


def _merge(out: dict[Any, Counts], key: Any, counts: Counts) -> None:
    # Most keys have one part: taken as it is (a breakdown by agent has 900 of them).
    if key in out:
        out[key].add(counts)
    else:
        out[key] = counts


async def values(session: AsyncSession, filt: ScoreFilter, by: Dimension) -> list[Any]:
    """The values of `by` among tickets resolved in the filter's days (its other fields are
    ignored), sorted; tickets without one are left out."""
    await upkeep.catch_up(session)
    days = ScoreFilter(date_from=filt.date_from, date_to=filt.date_to, tz=filt.tz)
    column = getattr(TicketScore, DIMENSIONS[by])
    per_ticket = select(column).where(*ticket_conditions(days, table=TicketScore)).distinct()
    if not bucket_reads.ENABLED:
        found = set((await session.scalars(per_ticket)).all())
    else:
        plan = buckets.plan(_ranges(*utc_range(days), None))
        found = await bucket_reads.values(session, plan, bucket_reads.Dim(by.value, None, True))
        if plan.rows:
            edges = per_ticket.where(ticket_reads.within(TicketScore, _instants(plan.rows)))
            found |= set((await session.scalars(edges)).all())
    return sorted(v for v in found if v is not None)


def _ranges(
    start: datetime | None, end: datetime | None, bounds: list[datetime] | None
) -> list[tuple[int | None, int | None, int]]:
    """[start, end) as epoch seconds, or each period within it tagged with its index."""
    if bounds is None:
        return [(_epoch(start), _epoch(end), 0)]
    out = []
    for i in range(1, len(bounds)):
        lo = bounds[i - 1] if start is None else max(bounds[i - 1], start)
        hi = bounds[i] if end is None else min(bounds[i], end)
        if lo < hi:
            out.append((_epoch(lo), _epoch(hi), i))
    return out


def _epoch(t: datetime | None) -> int | None:
    # Bounds are local midnights: whole seconds (zone offsets are whole minutes).
    return None if t is None else int(t.timestamp())


def _instants(rows: list[tuple[int, int]]) -> ticket_reads.Ranges:
    return [(datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)) for lo, hi in rows]


async def _list_not_sent(
    session: AsyncSession, filt: ScoreFilter, by: Dimension, groups: dict[Any, Counts]
) -> None:
    """Lists the never-sent requests by reason into `groups`, some groups of a breakdown by
    `by` (counted without them). From the bucket sums, for these groups alone (a page of 100
    agents needs a ninth of what all 900 do); per-ticket rows are read for every group."""
    wanted = {k: c for k, c in groups.items() if c.requests_not_sent}
    if not wanted:
        return
    start, end = utc_range(filt)
    found: dict[Any, dict[tuple[str, str | None], int]] = {}
    dim = bucket_reads.dimension(filt, by) if bucket_reads.ENABLED else None
    scope = ticket_reads.Scope(filt, start, end)
    if dim is not None:
        plan = buckets.plan(_ranges(start, end, None))
        read = await bucket_reads.not_sent(session, plan, dim, only=list(wanted))
        for (_, value), reasons in read.items():
            add_into(found.setdefault(value, {}), reasons)
        scope = replace(scope, rows=_instants(plan.rows))
    if dim is None or scope.rows:
        per_ticket = await ticket_reads.not_sent(session, scope, ticket_reads.by_value(by))
        for k, reasons in per_ticket.items():
            add_into(found.setdefault(k, {}), reasons)
    for k, counts in wanted.items():
        add_into(counts.not_sent, found.get(k, {}))


async def summary(session: AsyncSession, filt: ScoreFilter, *, hourly_cost: float) -> ScoreFigures:
    counts = (await aggregate(session, filt, with_factors=False)).get(EVERYTHING, Counts())
    return counts.figures(hourly_cost)


async def summary_and_factors(
    session: AsyncSession, filt: ScoreFilter, *, hourly_cost: float
) -> tuple[ScoreFigures, FactorList]:
    counts = (await aggregate(session, filt)).get(EVERYTHING, Counts())
    return counts.figures(hourly_cost), counts.factor_list()


async def breakdown_counts(
    session: AsyncSession, filt: ScoreFilter, *, by: Dimension, with_not_sent: bool = True
) -> list[tuple[str | None, Counts]]:
    """Every group with tickets in scope, sorted by key (null last). Without `with_not_sent`,
    never-sent requests are counted but not listed by reason (a chart needs no reasons)."""
    groups = await aggregate(session, filt, by=by, with_factors=False, with_not_sent=with_not_sent)
    return [(_label(k), groups[k]) for k in _sorted(groups)]


def _sorted(groups: dict[Any, Counts]) -> list[Any]:
    return sorted(groups, key=lambda k: (k is None, str(k) if k is not None else ""))


def _label(key: Any) -> str | None:
    return None if key is None else str(key)


async def breakdown(
    session: AsyncSession, filt: ScoreFilter, *, by: Dimension, hourly_cost: float
) -> list[tuple[str | None, ScoreFigures]]:
    rows = await breakdown_counts(session, filt, by=by)
    return [(k, c.figures(hourly_cost)) for k, c in rows]


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
    groups = await aggregate(session, filt, bounds=bounds, with_factors=False, start=start, end=end)
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
    groups = await aggregate(session, filt, by=by, with_factors=False, with_not_sent=False)
    keys = _sorted(groups)
    # Sort key for the cursor: null groups sort last, as "\x7f" never starts a real value here.
    sort_keys = [NULL_KEY if k is None else "\x00" + str(k) for k in keys]
    start = _after(sort_keys, cursor)
    page = keys[start : start + limit]
    await _list_not_sent(session, filt, by, {k: groups[k] for k in page})
    chunk = [(_label(k), groups[k].figures(hourly_cost)) for k in page]
    more = start + limit < len(keys)
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
