"""Reading score_buckets and not_sent_buckets for a plan (app/scoring/buckets.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import dialect_name
from app.scoring import bucket_sql
from app.scoring.buckets import Plan
from app.scoring.counts import Counts, from_row
from app.scoring.schemas import Dimension, ScoreFilter
from app.scoring.sql import DIMENSIONS, hash_grouping

# False: every figure from ticket_scores alone. The parity tests compare both ways; nothing
# else sets it.
ENABLED = True


@dataclass(frozen=True)
class Dim:
    """The buckets a query reads: one `dim`, one value of it or all, grouped by value or not."""

    name: str
    value: Any | None
    by_value: bool

    def params(self, dialect: str) -> dict[str, str]:
        out = {"dim": self.name}
        if self.value is not None:
            out["value"] = self.encode(self.value, dialect)
        return out

    @staticmethod
    def encode(value: Any, dialect: str) -> str:
        if isinstance(value, uuid.UUID) and dialect != "postgresql":
            value = value.hex  # how SQLite keeps a Uuid column
        return bucket_sql.encode(value)

    def key(self, stored: str) -> Any:
        value = bucket_sql.decode(stored)
        if value is not None and self.name == Dimension.connector.value:
            return uuid.UUID(value)
        return value


def dimension(filt: ScoreFilter, by: Dimension | None) -> Dim | None:
    """The buckets that answer this filter grouped `by`, or None when more than one dimension
    is involved (no bucket holds the sums of a pair of values)."""
    named = {
        dim: getattr(filt, "connector_id" if dim is Dimension.connector else dim.value)
        for dim in DIMENSIONS
    }
    filtered = {dim: v for dim, v in named.items() if v is not None}
    involved = set(filtered) | ({by} if by is not None else set())
    if len(involved) > 1:
        return None
    if not involved:
        return Dim(bucket_sql.EVERYTHING, None, by_value=False)
    (dim,) = involved
    return Dim(dim.value, filtered.get(dim), by_value=by is not None)


async def values(session: AsyncSession, plan: Plan, dim: Dim) -> set[Any]:
    """The values of `dim` with tickets in the plan's buckets (None for tickets without one)."""
    if not plan.segments:
        return set()
    sql = bucket_sql.values(plan.segments)
    rows = await session.execute(text(sql), dim.params(dialect_name(session)))
    return {dim.key(v) for (v,) in rows}


async def scores(
    session: AsyncSession, plan: Plan, dim: Dim, *, skip: frozenset[str] = frozenset()
) -> dict[tuple[int, Any], Counts]:
    """Counts per (segment tag, value) from score_buckets; the columns in `skip` count 0."""
    if not plan.segments:
        return {}
    sql = bucket_sql.read(
        bucket_sql.SCORES,
        plan.segments,
        value=dim.value is not None,
        by_value=dim.by_value,
        skip=skip,
    )
    out: dict[tuple[int, Any], Counts] = {}
    for m in await _rows(session, sql, dim):
        key = (m["tag"], dim.key(m["value"]) if dim.by_value else None)
        out[key] = from_row(m)
    return out


async def not_sent(
    session: AsyncSession, plan: Plan, dim: Dim, *, only: Collection[Any] | None = None
) -> dict[tuple[int, Any], dict[tuple[str, str | None], int]]:
    """Never-sent requests by (status, reason) per (segment tag, value), from
    not_sent_buckets; with `only`, for those values of a `by_value` dim alone."""
    if not plan.segments or (only is not None and not only):
        return {}
    sql = bucket_sql.read(
        bucket_sql.NOT_SENT,
        plan.segments,
        value=dim.value is not None,
        by_value=dim.by_value,
        some_values=only is not None,
    )
    dialect = dialect_name(session)
    values = None if only is None else [dim.encode(v, dialect) for v in only]
    out: dict[tuple[int, Any], dict[tuple[str, str | None], int]] = {}
    for m in await _rows(session, sql, dim, values):
        if m["requests"]:  # a bucket's requests may all be sent since, or moved away
            key = (m["tag"], dim.key(m["value"]) if dim.by_value else None)
            out.setdefault(key, {})[(m["status"], m["reason"])] = int(m["requests"])
    return out


async def _rows(
    session: AsyncSession, sql: str, dim: Dim, values: list[str] | None = None
) -> list[dict[str, Any]]:
    """The rows as plain dicts: a thousand groups of 45 sums are read in one go (Row._mapping
    per row cost more than the query)."""
    statement = text(sql)
    params: dict[str, Any] = dim.params(dialect_name(session))
    if values is not None:
        statement = statement.bindparams(bindparam("values", expanding=True))
        params["values"] = values
    async with hash_grouping(session):
        result = await session.execute(statement, params)
        names = list(result.keys())
        return [dict(zip(names, row, strict=True)) for row in result.all()]
