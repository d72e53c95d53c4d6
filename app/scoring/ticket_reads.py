"""Reading ticket_scores and ticket_not_sent, the per-ticket rows: for the figures no bucket sum
answers (two or more dimensions involved) and for the minutes a local range leaves at its ends
(app/scoring/buckets.py)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_name
from app.feedback.scales import NEGATIVE_FACTORS, POSITIVE_FACTORS
from app.scoring.counts import Counts, add_into, from_row
from app.scoring.models import TicketNotSent, TicketScore
from app.scoring.schemas import Dimension, ScoreFilter
from app.scoring.sql import DIMENSIONS, hash_grouping, period_index, ticket_conditions

EVERYTHING = "*"  # the group key of an ungrouped query
FACTOR_COLUMNS = frozenset({f"f_{k}" for k in POSITIVE_FACTORS + NEGATIVE_FACTORS}) | {
    "positive_responses",
    "negative_responses",
}
# A grouping: given the table (ticket_scores or ticket_not_sent), what to group by and its label.
Grouping = Callable[[Any], tuple[Any, Any]]
Ranges = list[tuple[datetime, datetime]]


@dataclass(frozen=True)
class Scope:
    """The tickets read: the filter's, resolved in [start, end) (the filter's own days where
    None) and, with `rows`, within one of these ranges."""

    filt: ScoreFilter
    start: datetime | None = None
    end: datetime | None = None
    rows: Ranges | None = None

    def where(self, table: Any) -> list[Any]:
        conds = ticket_conditions(self.filt, table=table, start=self.start, end=self.end)
        if self.rows is not None:
            conds.append(within(table, self.rows))
        return conds


def within(table: Any, rows: Ranges) -> Any:
    return or_(*(and_(table.resolved_at >= a, table.resolved_at < b) for a, b in rows))


def by_value(by: Dimension) -> Grouping:
    column = DIMENSIONS[by]
    return lambda table: (getattr(table, column),) * 2


async def scores(
    session: AsyncSession,
    scope: Scope,
    *,
    by: Dimension | None,
    bounds: list[datetime] | None,
    with_factors: bool,
    with_not_sent: bool,
) -> dict[Any, Counts]:
    """Counts per value of `by`, per period between `bounds` or under EVERYTHING (as
    service.aggregate): one scan of ticket_scores gives every count; where some requests were
    never sent, one scan of ticket_not_sent lists them by reason."""
    async with AsyncExitStack() as stack:
        grouping: Grouping | None = None
        if by is not None:
            grouping = by_value(by)
        elif bounds is not None:
            index_of = stack.enter_context(period_index(bounds, dialect_name(session)))
            grouping = lambda table: (index_of(table.resolved_at),) * 2  # noqa: E731
            await stack.enter_async_context(hash_grouping(session))

        s = TicketScore
        counted = [
            c
            for c in s.__table__.columns
            if isinstance(c.type, Integer) and (with_factors or c.key not in FACTOR_COLUMNS)
        ]
        group, key = _grouped(s, grouping)
        stmt = select(key, func.count().label("tickets"), *(_total(c) for c in counted))
        out: dict[Any, Counts] = {}
        for row in await session.execute(stmt.where(*scope.where(s)).group_by(*group)):
            m = row._mapping
            if m["tickets"]:  # ungrouped, a row of zeros means no ticket in scope
                out[m["key"]] = from_row(m)
        if with_not_sent and any(c.requests_not_sent for c in out.values()):
            for k, reasons in (await not_sent(session, scope, grouping)).items():
                add_into(out.setdefault(k, Counts()).not_sent, reasons)
        return out


async def not_sent(
    session: AsyncSession, scope: Scope, grouping: Grouping | None
) -> dict[Any, dict[tuple[str, str | None], int]]:
    """Never-sent requests by (status, reason) per group, from ticket_not_sent."""
    n = TicketNotSent
    group, key = _grouped(n, grouping)
    stmt = (
        select(key, n.status, n.reason, func.sum(n.requests).label("n"))
        .where(*scope.where(n))
        .group_by(*group, n.status, n.reason)
    )
    out: dict[Any, dict[tuple[str, str | None], int]] = {}
    for row in await session.execute(stmt):
        out.setdefault(row.key, {})[(row.status, row.reason)] = int(row.n)
    return out


def _grouped(table: Any, grouping: Grouping | None) -> tuple[list[Any], Any]:
    if grouping is None:
        return [], literal_column(f"'{EVERYTHING}'").label("key")
    group, label = grouping(table)
    return [group], label.label("key")


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0).label(column.key)
