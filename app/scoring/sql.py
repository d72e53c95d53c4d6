"""Shared SQL pieces: the filter as WHERE clauses, group keys, and local-period bucketing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, event, func, literal_column, text
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
# The one dialect-specific expression: PostgreSQL converts with its own tz database; SQLite has
# none, so it calls a Python function registered on every SQLite connection (zoneinfo).

SQLITE_PERIOD_FN = "xp_local_period"


def period_key(column: Any, interval: str, tz: str, dialect: str) -> tuple[Any, Any]:
    """(what to group by, its label): the label is the first local day ('YYYY-MM-DD') of the
    period holding `column`, in `tz`."""
    # Inline literals, not bind parameters: PostgreSQL only matches a SELECT expression to its
    # GROUP BY twin when both are textually identical. Both values are validated (IANA zone
    # name, interval enum) before they get here; quotes are escaped regardless.
    tz_sql, interval_sql = _quote(tz), _quote(interval)
    if dialect == "postgresql":
        # Group by the timestamp and format once per group, not once per row.
        start = func.date_trunc(interval_sql, func.timezone(tz_sql, column))
        return start, func.to_char(start, literal_column("'YYYY-MM-DD'"))
    key = func.xp_local_period(column, interval_sql, tz_sql)
    return key, key


def _quote(value: str) -> Any:
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _sqlite_local_period(value: str | None, interval: str, tz: str) -> str | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(value).replace(tzinfo=UTC)
    day: date = instant.astimezone(ZoneInfo(tz)).date()
    return formulas.period_start(day, interval).isoformat()


@event.listens_for(Pool, "connect")
def _register_sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    if "sqlite" not in type(dbapi_connection).__module__:
        return
    dbapi_connection.create_function(SQLITE_PERIOD_FN, 3, _sqlite_local_period, deterministic=True)
