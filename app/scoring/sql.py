"""Shared SQL pieces: the filter as WHERE clauses, group keys, and local-period bucketing."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import Pool

from app.feedback.models import Response
from app.scoring import formulas
from app.scoring.schemas import Dimension, ScoreFilter
from app.tickets.models import Ticket

# Dimension -> column name, the same on `tickets` and on its copy in `ticket_scores`
DIMENSIONS: dict[Dimension, str] = {
    Dimension.connector: "connector_id",
    Dimension.service: "service",
    Dimension.assignment_group: "assignment_group",
    Dimension.category: "category",
    Dimension.priority: "priority",
    Dimension.channel: "channel",
    Dimension.agent: "assignee",
}


def utc_range(filt: ScoreFilter) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC for the filter's local days."""
    zone = filt.zone
    start = formulas.local_midnight_utc(filt.date_from, zone) if filt.date_from else None
    end = (
        formulas.local_midnight_utc(filt.date_to + timedelta(days=1), zone)
        if filt.date_to
        else None
    )
    return start, end


def ticket_conditions(
    filt: ScoreFilter,
    *,
    table: Any = Ticket,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Any]:
    """WHERE clauses on `tickets` (or `ticket_scores`) for the filter; `start`/`end` override
    its day range."""
    default_start, default_end = utc_range(filt)
    start = start or default_start
    end = end or default_end
    conds: list[Any] = []
    if start is not None:
        conds.append(table.resolved_at >= start)
    if end is not None:
        conds.append(table.resolved_at < end)
    for dim, column in DIMENSIONS.items():
        value = getattr(filt, "connector_id" if dim == Dimension.connector else dim.value)
        if value is not None:
            conds.append(getattr(table, column) == value)
    return conds


async def prefer_custom_plans(session: AsyncSession) -> None:
    """PostgreSQL only: plan each statement for its actual day range.

    asyncpg prepares statements; after five runs PostgreSQL may switch to a generic plan that
    cannot see the dates, and for the never-sent look-up it picks a nested loop that is ten
    times slower on a year of data. SET LOCAL lasts until the request's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


@asynccontextmanager
async def hash_grouping(session: AsyncSession) -> AsyncIterator[None]:
    """PostgreSQL only: group a computed key (a local period) by hashing, not sorting.

    PostgreSQL has no statistics for such an expression and expects one group per row, so it
    sorts every row (spilling to disk) to find a few dozen periods."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SET LOCAL enable_sort = off"))
    yield
    # Not in a `finally`: after an error the transaction is aborted and rolls back anyway.
    if postgres:
        await session.execute(text("SET LOCAL enable_sort = on"))


def counted_responses() -> Any:
    """Automated (scanner) clicks are kept as evidence but never counted."""
    return Response.automated.is_(False)


# --- local periods ------------------------------------------------------------------------
# Python finds each period's UTC start with zoneinfo (DST-safe); SQL only compares instants to
# find the period holding a row, so neither database converts time zones per row. On SQLite,
# which has no width_bucket, a Python function registered on every connection does the same.

SQLITE_PERIOD_FN = "xp_period_index"


@contextmanager
def period_index(bounds: Sequence[datetime], dialect: str) -> Iterator[Callable[[Any], Any]]:
    """A function of a timestamp column: i (1-based) when bounds[i-1] <= column < bounds[i];
    0 before the first bound and len(bounds) from the last on, as PostgreSQL's width_bucket
    counts. Use it within the `with`: on SQLite the bounds are only kept that long."""
    # Inline literals, not bind parameters: PostgreSQL only matches a SELECT expression to its
    # GROUP BY twin when both are textually identical. The values are our own datetimes.
    if dialect == "postgresql":
        instants = ",".join(f'"{b.astimezone(UTC).isoformat()}"' for b in bounds)
        array = literal_column(f"'{{{instants}}}'::timestamptz[]")
        yield lambda column: func.width_bucket(column, array)
        return
    # SQLite calls the function once per row with its arguments converted anew, so it gets a
    # short key to bounds kept here, not the bounds (a year of days is 10 kB of text). Only
    # the event loop changes _SQLITE_BOUNDS; SQLite's thread reads it while a query runs.
    naive = [b.astimezone(UTC).replace(tzinfo=None) for b in bounds]  # as SQLite keeps them
    key = hashlib.blake2b(repr(naive).encode(), digest_size=8).hexdigest()
    entry = _SQLITE_BOUNDS.setdefault(key, _Bounds(naive))
    entry.users += 1
    try:
        yield lambda column: func.xp_period_index(column, literal_column(f"'{key}'"))
    finally:
        entry.users -= 1
        if not entry.users:
            del _SQLITE_BOUNDS[key]


@dataclass
class _Bounds:
    values: list[datetime]
    users: int = 0  # queries using them now


_SQLITE_BOUNDS: dict[str, _Bounds] = {}


def _sqlite_period_index(value: str | None, key: str) -> int | None:
    if value is None:
        return None
    return bisect.bisect_right(_SQLITE_BOUNDS[key].values, datetime.fromisoformat(value))


@event.listens_for(Pool, "connect")
def _register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    if "sqlite" not in type(dbapi_connection).__module__:
        return
    dbapi_connection.create_function(SQLITE_PERIOD_FN, 2, _sqlite_period_index, deterministic=True)
