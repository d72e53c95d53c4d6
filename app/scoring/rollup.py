"""The SQL that keeps `ticket_scores` and `ticket_not_sent` exact: triggers on PostgreSQL and
SQLite that only queue the touched tickets in `scoring_dirty`, the set-based recompute of a batch
of queued tickets (app/scoring/upkeep.py runs it), and the rebuild of every row (bulk loads).

Migration 0011 holds a frozen copy of the trigger SQL (0004 the recompute triggers before it),
as a migration must; `python -m app.scoring.rollup` prints it. Changing the watched columns
means a new migration with new triggers.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL is built from fixed names in this module, never from input
from collections.abc import Callable

from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS, SCALES
from app.scoring.models import SCALE_PREFIX

# Picks a batch of tickets: given a ticket id column, an SQL condition (app/scoring/upkeep.py
# binds the ids as one parameter).
Picked = Callable[[str], str]


def _when(cond: str, value: str = "1") -> str:
    return f"coalesce(sum(CASE WHEN {cond} THEN {value} ELSE 0 END), 0)"


# (column, expression over the ticket `t`)
TICKET_COLUMNS = [
    ("connector_id", "t.connector_id"),
    ("service", "t.service"),
    ("assignment_group", "t.assignment_group"),
    ("category", "t.category"),
    ("priority", "t.priority"),
    ("channel", "t.channel"),
    ("assignee", "t.assignee"),
    ("resolved_at", "t.resolved_at"),
    ("sla_known", "CASE WHEN t.sla_met IS NULL THEN 0 ELSE 1 END"),
    ("sla_met", "CASE WHEN t.sla_met THEN 1 ELSE 0 END"),
]
# (column, aggregate over feedback_requests `q`)
REQUEST_COLUMNS = [
    ("requests_sent", "count(q.sent_at)"),
    ("requests_not_sent", _when("q.status IN ('suppressed', 'failed')")),
]


def response_columns() -> list[tuple[str, str]]:
    """(column, aggregate over responses `r`), counted responses only."""
    cols = [("responses", "count(*)")]
    for key, prefix in SCALE_PREFIX.items():
        s = SCALES[key]
        on = f"r.scale = '{key}'"
        cols += [
            (f"{prefix}_n", _when(on)),
            (f"{prefix}_sum", _when(on, "r.score")),
            (f"{prefix}_happy", _when(f"{on} AND r.score >= {s.happy_from}")),
            (f"{prefix}_unhappy", _when(f"{on} AND r.score < {s.neutral_from}")),
        ]
    cols += [("lost_n", "count(r.lost_minutes)"), ("lost_sum", "coalesce(sum(r.lost_minutes), 0)")]
    cols += [(f"lost_{m}", _when(f"r.lost_minutes = {m}")) for m in LOST_TIME_MINUTES.values()]
    return cols


def factor_columns() -> list[tuple[str, str]]:
    """(column, aggregate over response_factors `f`) of counted responses."""
    cols = [
        (f"{p}_responses", f"count(DISTINCT CASE WHEN f.polarity = '{p}' THEN f.response_id END)")
        for p in ("positive", "negative")
    ]
    cols += [(f"f_{k}", _when(f"f.factor = '{k}'")) for k in POSITIVE_FACTORS + NEGATIVE_FACTORS]
    return cols


def columns() -> list[str]:
    parts = TICKET_COLUMNS + REQUEST_COLUMNS + response_columns() + factor_columns()
    return [c for c, _ in parts]


def _derived(batch: Picked | None) -> tuple[str, str, str]:
    """The request, response and factor aggregates grouped by ticket, for the tickets `batch`
    picks (every ticket without one)."""
    q_cols = ", ".join(f"{expr} AS {c}" for c, expr in REQUEST_COLUMNS)
    r_cols = ", ".join(f"{expr} AS {c}" for c, expr in response_columns())
    f_cols = ", ".join(f"{expr} AS {c}" for c, expr in factor_columns())
    q_where = f" WHERE {batch('q.ticket_id')}" if batch else ""
    r_where = f" AND {batch('r.ticket_id')}" if batch else ""
    return (
        f"(SELECT q.ticket_id, {q_cols} FROM feedback_requests q{q_where} GROUP BY q.ticket_id) q",
        f"(SELECT r.ticket_id, {r_cols} FROM responses r WHERE NOT r.automated{r_where} "
        "GROUP BY r.ticket_id) r",
        f"(SELECT r.ticket_id, {f_cols} FROM response_factors f "
        f"JOIN responses r ON r.id = f.response_id WHERE NOT r.automated{r_where} "
        "GROUP BY r.ticket_id) f",
    )


def _picked() -> str:
    """The row's values, every count 0 where a derived table has no row."""
    values = [expr for _, expr in TICKET_COLUMNS]
    for alias, cols in (("q", REQUEST_COLUMNS), ("r", response_columns()), ("f", factor_columns())):
        values += [f"coalesce({alias}.{c}, 0)" for c, _ in cols]
    return ", ".join(values)


def _upsert_tail() -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns())
    return f"ON CONFLICT (ticket_id) DO UPDATE SET {sets}"


def rebuild(batch: Picked | None = None) -> str:
    """INSERT … ON CONFLICT of the rows of the tickets `batch` picks (every ticket without
    one), from scratch. A ticket that no longer exists yields no row: drop_gone() deletes it."""
    q, r, f = _derived(batch)
    where = batch("t.id") if batch else "1 = 1"
    return (
        f"INSERT INTO ticket_scores (ticket_id, {', '.join(columns())}) "
        f"SELECT t.id, {_picked()} FROM tickets t "
        f"LEFT JOIN {q} ON q.ticket_id = t.id "
        f"LEFT JOIN {r} ON r.ticket_id = t.id "
        f"LEFT JOIN {f} ON f.ticket_id = t.id "
        # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT (parsing ambiguity).
        f"WHERE {where} {_upsert_tail()}"
    )


def drop_gone(batch: Picked | None = None) -> str:
    """Delete the rows of deleted tickets. No foreign key cascades them away: the drain first
    subtracts a row from the bucket sums (app/scoring/bucket_sql.py), then deletes it here."""
    where = f"{batch('ticket_id')} AND " if batch else ""
    return (
        f"DELETE FROM ticket_scores WHERE {where}"
        "NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_scores.ticket_id)"
    )


NOT_SENT_COLUMNS = [c for c, _ in TICKET_COLUMNS if not c.startswith("sla_")]


def _not_sent_insert(where: str) -> str:
    copied = ", ".join(f"t.{c}" for c in NOT_SENT_COLUMNS)
    return (
        f"INSERT INTO ticket_not_sent (ticket_id, status, reason, requests, "
        f"{', '.join(NOT_SENT_COLUMNS)}) "
        f"SELECT t.id, q.status, q.status_reason, count(*), {copied} "
        "FROM tickets t JOIN feedback_requests q ON q.ticket_id = t.id "
        f"WHERE q.status IN ('suppressed', 'failed'){where} "
        f"GROUP BY t.id, q.status, q.status_reason, {copied}"
    )


def rebuild_not_sent(batch: Picked) -> list[str]:
    """The never-sent requests by reason of the tickets `batch` picks, from scratch."""
    return [
        f"DELETE FROM ticket_not_sent WHERE {batch('ticket_id')}",
        _not_sent_insert(f" AND {batch('t.id')}"),
    ]


def rebuild_all() -> list[str]:
    """Both tables from scratch, e.g. after a bulk load with the triggers off. The queue goes
    first: the rebuild that follows reads every change it held."""
    return [
        "DELETE FROM scoring_dirty",
        drop_gone(),
        rebuild(),
        "DELETE FROM ticket_not_sent",
        _not_sent_insert(""),
    ]


# --- the triggers: they only queue the touched tickets (app/scoring/upkeep.py drains) -------

# (table, columns whose change matters, the column that leads to the ticket, the SELECT of the
# ticket of a NEW or OLD row)
WATCHED = [
    (
        "tickets",
        "connector_id, service, assignment_group, category, priority, channel, assignee, "
        "resolved_at, sla_met",
        "id",
        "SELECT {row}.id",
    ),
    (
        "feedback_requests",
        "ticket_id, sent_at, status, status_reason",
        "ticket_id",
        "SELECT {row}.ticket_id",
    ),
    (
        "responses",
        "ticket_id, score, scale, lost_minutes, automated",
        "ticket_id",
        "SELECT {row}.ticket_id",
    ),
    (
        "response_factors",
        "response_id, factor, polarity",
        "response_id",
        # No row when the response went first (its ticket is queued by its own delete).
        "SELECT ticket_id FROM responses WHERE id = {row}.response_id",
    ),
]


def _mark(source: str, row: str) -> str:
    return f"INSERT INTO scoring_dirty (ticket_id) {source.format(row=row)}"


def postgresql_ddl() -> list[str]:
    out = []
    for table, watched, key, source in WATCHED:
        out.append(
            f"CREATE FUNCTION scoring_dirty_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.{key} IS DISTINCT FROM NEW.{key}) "
            f"THEN {_mark(source, 'OLD')}; END IF; "
            f"IF TG_OP <> 'DELETE' THEN {_mark(source, 'NEW')}; END IF; "
            "RETURN NULL; END $$"
        )
        out.append(
            f"CREATE TRIGGER scoring_dirty AFTER INSERT OR DELETE OR UPDATE OF {watched} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION scoring_dirty_{table}()"
        )
    return out


def postgresql_drop() -> list[str]:
    out = []
    for table, *_ in WATCHED:
        out.append(f"DROP TRIGGER IF EXISTS scoring_dirty ON {table}")
        out.append(f"DROP FUNCTION IF EXISTS scoring_dirty_{table}()")
    return out


def sqlite_ddl() -> list[str]:
    out = []
    for table, watched, key, source in WATCHED:
        new, old = _mark(source, "NEW"), _mark(source, "OLD")
        moved = f" WHERE OLD.{key} IS NOT NEW.{key}"
        if " WHERE " in source:
            moved = f" AND OLD.{key} IS NOT NEW.{key}"
        events = [
            ("insert", "INSERT", [new]),
            ("delete", "DELETE", [old]),
            ("update", f"UPDATE OF {watched}", [old + moved, new]),
        ]
        for name, event, statements in events:
            body = " ".join(f"{st};" for st in statements)
            out.append(
                f"CREATE TRIGGER scoring_dirty_{table}_{name} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {body} END"
            )
    return out


def sqlite_drop() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS scoring_dirty_{table}_{name}"
        for table, *_ in WATCHED
        for name in ("insert", "delete", "update")
    ]


if __name__ == "__main__":
    for statement in [*postgresql_ddl(), *sqlite_ddl(), *rebuild_all()]:
        print(statement + ";\n")
