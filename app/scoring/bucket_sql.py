"""The SQL of `score_buckets` and `not_sent_buckets`: sums of `ticket_scores` and
`ticket_not_sent` per UTC hour, day and month, for everything and for each dimension value.

Kept exact by difference: a drain (app/scoring/upkeep.py) subtracts the stored rows of the
tickets it is about to recompute, recomputes them, and adds the new rows. Only one drain runs at
a time (its advisory lock on PostgreSQL, the single writer on SQLite), so what it subtracts is
exactly what an earlier drain added.

A dimension value is stored as '=' followed by the value, and a ticket without one as '', so
an empty text and a missing value stay apart in one NOT NULL key column.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL is built from fixed names in this module and integers, never input
from collections.abc import Sequence
from dataclasses import dataclass

from app.scoring import rollup
from app.scoring.buckets import NO_TIME, Grain, Segment
from app.scoring.models import COUNTED
from app.scoring.schemas import Dimension
from app.scoring.sql import DIMENSIONS

EVERYTHING = "*"  # the `dim` of the sums over every ticket
# The summed columns: every count of ticket_scores, and the tickets themselves (a group of a
# breakdown is shown when it has tickets in scope, whatever their counts).
COUNTS = ["tickets", *COUNTED]


def encode(value: object | None) -> str:
    return "" if value is None else f"={value}"


def decode(stored: str) -> str | None:
    return stored[1:] if stored else None


@dataclass(frozen=True)
class _Table:
    name: str
    source: str  # the per-ticket table it sums
    # key columns besides grain, bucket, dim and value, then columns kept as they are (the same
    # for every row of a key), each with its expression over the source row `s` per dialect
    keys: tuple[str, ...]
    copied: tuple[str, ...]
    exprs: dict[str, tuple[str, ...]]
    sums: tuple[tuple[str, str], ...]  # (column, expression over `s`)


SCORES = _Table(
    "score_buckets",
    "ticket_scores",
    keys=(),
    copied=(),
    exprs={"postgresql": (), "sqlite": ()},
    sums=(("tickets", "1"), *((c, f"s.{c}") for c in COUNTS[1:])),
)
# A reason is free text of up to 2,000 characters, too long for a PostgreSQL index entry: the
# key holds its digest there (SQLite has no such limit, and no md5).
NOT_SENT = _Table(
    "not_sent_buckets",
    "ticket_not_sent",
    keys=("status", "reason_key"),
    copied=("reason",),
    exprs={
        "postgresql": ("s.status", "coalesce('=' || md5(s.reason), '')", "s.reason"),
        "sqlite": ("s.status", "coalesce('=' || s.reason, '')", "s.reason"),
    },
    sums=(("requests", "s.requests"),),
)


def _dims(dialect: str) -> str:
    """The source row's value for each `dim`, as stored."""
    conn = "CAST(s.connector_id AS text)" if dialect == "postgresql" else "s.connector_id"
    cases = [f"WHEN '{EVERYTHING}' THEN ''"]
    for dim, column in DIMENSIONS.items():
        col = conn if dim is Dimension.connector else f"s.{column}"
        cases.append(f"WHEN '{dim.value}' THEN coalesce('=' || {col}, '')")
    return f"CASE d.dim {' '.join(cases)} END"


def _bucket(dialect: str) -> str:
    """The start of the row's UTC bucket at grain `g`, in epoch seconds."""
    if dialect == "postgresql":
        month = "extract(epoch FROM date_trunc('month', s.resolved_at, 'UTC'))"
        other = "floor(extract(epoch FROM s.resolved_at) / g.len) * g.len"
    else:
        # SQLite keeps UTC text; its date functions round to the millisecond, so 23:59:59.9999
        # would count in the next bucket: they get the whole seconds only. Its % truncates
        # toward zero: the bucket start is t minus the floored remainder (before 1970 too).
        whole = "substr(s.resolved_at, 1, 19)"
        month = f"strftime('%s', {whole}, 'start of month')"
        t = f"CAST(strftime('%s', {whole}) AS INTEGER)"
        other = f"({t} - (({t} % g.len) + g.len) % g.len)"
    return (
        f"CAST(CASE WHEN s.resolved_at IS NULL THEN {NO_TIME} "
        f"WHEN g.grain = {Grain.month.value} THEN {month} ELSE {other} END AS BIGINT)"
    )


DIMS = [EVERYTHING, *(d.value for d in DIMENSIONS)]
# One grain and one dimension: a part of the buckets, for a bulk fill.
Part = tuple[Grain, str]


def _with(part: Part | None) -> str:
    grains = ", ".join(
        f"({g.value}, {3600 if g is Grain.hour else 86400 if g is Grain.day else 0})"
        for g in ([part[0]] if part else Grain)
    )
    dims = ", ".join(f"('{d}')" for d in ([part[1]] if part else DIMS))
    return f"WITH g(grain, len) AS (VALUES {grains}), d(dim) AS (VALUES {dims}) "


def apply(
    table: _Table, dialect: str, sign: int, batch: rollup.Picked | None, part: Part | None = None
) -> str:
    """Add (sign 1) or subtract (sign -1) the source rows of the tickets `batch` picks (every
    row without one) to their buckets (those of one grain and dimension with `part`)."""
    keys = ["grain", "bucket", "dim", "value", *table.keys]
    grouped = [*keys, *table.copied]
    exprs = ["g.grain", _bucket(dialect), "d.dim", _dims(dialect), *table.exprs[dialect]]
    sums = [f"{sign} * sum({expr})" for _, expr in table.sums]
    cols = [c for c, _ in table.sums]
    where = batch("s.ticket_id") if batch else "1 = 1"
    updates = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in cols)
    return (
        f"{_with(part)}INSERT INTO {table.name} ({', '.join(grouped + cols)}) "
        f"SELECT {', '.join(exprs + sums)} FROM {table.source} s CROSS JOIN g CROSS JOIN d "
        f"WHERE {where} GROUP BY {', '.join(str(i) for i in range(1, len(grouped) + 1))} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def subtract(dialect: str, batch: rollup.Picked) -> list[str]:
    return [apply(t, dialect, -1, batch) for t in (SCORES, NOT_SENT)]


def add(dialect: str, batch: rollup.Picked) -> list[str]:
    return [apply(t, dialect, 1, batch) for t in (SCORES, NOT_SENT)]


def fill(dialect: str) -> list[tuple[str, list[str]]]:
    """(table, statements) that empty each bucket table and fill it from its per-ticket table,
    one grain and dimension at a time: one statement for all sorts every ticket 24 times over
    at once (45 GB of temporary files at ten million tickets)."""
    parts = [(g, d) for g in Grain for d in DIMS]
    return [
        (t.name, [f"DELETE FROM {t.name}", *(apply(t, dialect, 1, None, p) for p in parts)])
        for t in (SCORES, NOT_SENT)
    ]


def rebuild_all(dialect: str) -> list[str]:
    """ticket_scores, ticket_not_sent and both bucket tables from scratch (a bulk load)."""
    return [*rollup.rebuild_all(), *(s for _, statements in fill(dialect) for s in statements)]


# --- reads --------------------------------------------------------------------------------


def _ranges(segments: Sequence[Segment]) -> list[str]:
    return [
        f"(b.grain = {s.grain.value} AND b.bucket >= {s.lo} AND b.bucket < {s.hi})"
        for s in segments
    ]


def values(segments: Sequence[Segment]) -> str:
    """The values of `dim = :dim` with tickets in the segments' buckets."""
    return (
        "SELECT DISTINCT b.value FROM score_buckets b WHERE b.dim = :dim AND b.tickets > 0 "
        f"AND ({' OR '.join(_ranges(segments))})"
    )


def read(
    table: _Table,
    segments: Sequence[Segment],
    *,
    value: bool,
    by_value: bool,
    some_values: bool = False,
    skip: frozenset[str] = frozenset(),
) -> str:
    """Sums over the buckets the segments name, per segment tag (and per value with
    `by_value`), for `dim = :dim` (and `value = :value` with `value`, `value IN :values` with
    `some_values`), without the columns in `skip` (each sum costs PostgreSQL a call per row
    read). The segments are inlined, integers of our own: one OR'ed condition each, which
    PostgreSQL reads as one index range each (a join with a list of segments made it scan the
    whole dimension)."""
    ranges = _ranges(segments)
    tags = {s.tag for s in segments}
    if len(tags) == 1:
        tag = str(tags.pop())
    else:
        arms = (f"WHEN {r} THEN {s.tag}" for r, s in zip(ranges, segments, strict=True))
        tag = f"CASE {' '.join(arms)} END"
    extra = [*table.keys, *table.copied]
    labels = [f"{tag} AS tag", *(["b.value AS value"] if by_value else [])]
    labels += [f"b.{k} AS {k}" for k in extra]
    sums = [f"sum(b.{c}) AS {c}" for c, _ in table.sums if c not in skip]
    where = "b.dim = :dim" + (" AND b.value = :value" if value else "")
    where += " AND b.value IN :values" if some_values else ""
    return (
        f"SELECT {', '.join(labels + sums)} FROM {table.name} b "
        f"WHERE {where} AND ({' OR '.join(ranges)}) "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(labels) + 1))}"
    )


if __name__ == "__main__":  # the rebuild after a bulk load (docs/scoring.md)
    import sys

    for statement in rebuild_all(sys.argv[1] if len(sys.argv) > 1 else "postgresql"):
        print(statement + ";\n")
