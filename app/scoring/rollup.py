"""The SQL that keeps `ticket_scores` exact: one recompute per touched ticket (called by
triggers on both PostgreSQL and SQLite) and a bulk rebuild (after bulk loads).

Migration 0004 holds a frozen copy of this SQL, as a migration must; `python -m
app.scoring.rollup` prints it. Changing the columns means a new migration with new triggers.
"""

from __future__ import annotations

# ruff: noqa: S608 - the SQL is built from fixed names in this module, never from input
from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS, SCALES
from app.scoring.models import SCALE_PREFIX


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


def _derived(tid: str | None) -> tuple[str, str, str]:
    """The request, response and factor aggregates, for one ticket or grouped by ticket."""
    q_cols = ", ".join(f"{expr} AS {c}" for c, expr in REQUEST_COLUMNS)
    r_cols = ", ".join(f"{expr} AS {c}" for c, expr in response_columns())
    f_cols = ", ".join(f"{expr} AS {c}" for c, expr in factor_columns())
    if tid is not None:
        return (
            f"(SELECT {q_cols} FROM feedback_requests q WHERE q.ticket_id = {tid}) q",
            f"(SELECT {r_cols} FROM responses r WHERE r.ticket_id = {tid} AND NOT r.automated) r",
            f"(SELECT {f_cols} FROM response_factors f JOIN responses r ON r.id = f.response_id "
            f"WHERE r.ticket_id = {tid} AND NOT r.automated) f",
        )
    return (
        f"(SELECT q.ticket_id, {q_cols} FROM feedback_requests q GROUP BY q.ticket_id) q",
        f"(SELECT r.ticket_id, {r_cols} FROM responses r WHERE NOT r.automated "
        "GROUP BY r.ticket_id) r",
        f"(SELECT r.ticket_id, {f_cols} FROM response_factors f "
        "JOIN responses r ON r.id = f.response_id WHERE NOT r.automated "
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


def recompute(tid: str) -> str:
    """INSERT … ON CONFLICT of one ticket's row, from scratch; `tid` is an SQL expression.
    A deleted ticket yields no row (its row went with it, ON DELETE CASCADE)."""
    q, r, f = _derived(tid)
    # Built only from fixed names and a caller's SQL expression, never from user input.
    return (
        f"INSERT INTO ticket_scores (ticket_id, {', '.join(columns())}) "
        f"SELECT t.id, {_picked()} FROM tickets t, {q}, {r}, {f} "
        f"WHERE t.id = {tid} {_upsert_tail()}"
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


def recompute_not_sent(tid: str) -> list[str]:
    """One ticket's never-sent requests by reason, from scratch."""
    return [
        f"DELETE FROM ticket_not_sent WHERE ticket_id = {tid}",
        _not_sent_insert(f" AND t.id = {tid}"),
    ]


def rebuild() -> str:
    """Every ticket's row in one statement (after a bulk load with the triggers off)."""
    q, r, f = _derived(None)
    return (
        f"INSERT INTO ticket_scores (ticket_id, {', '.join(columns())}) "
        f"SELECT t.id, {_picked()} FROM tickets t "
        f"LEFT JOIN {q} ON q.ticket_id = t.id "
        f"LEFT JOIN {r} ON r.ticket_id = t.id "
        f"LEFT JOIN {f} ON f.ticket_id = t.id "
        # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT (parsing ambiguity).
        f"WHERE 1 = 1 {_upsert_tail()}"
    )


# (table, columns whose change matters, SQL expression of the ticket for NEW/OLD row)
WATCHED = [
    (
        "tickets",
        "connector_id, service, assignment_group, category, priority, channel, assignee, "
        "resolved_at, sla_met",
        "{row}.id",
    ),
    ("feedback_requests", "ticket_id, sent_at, status, status_reason", "{row}.ticket_id"),
    ("responses", "ticket_id, score, scale, lost_minutes, automated", "{row}.ticket_id"),
    (
        "response_factors",
        "response_id, factor, polarity",
        "(SELECT ticket_id FROM responses WHERE id = {row}.response_id)",
    ),
]


# Only these tables' changes can change which requests were never sent, or the ticket copy.
NOT_SENT_TABLES = ("tickets", "feedback_requests")


def postgresql_ddl() -> list[str]:
    out = [
        "CREATE FUNCTION scoring_refresh_ticket(tid uuid, not_sent boolean) RETURNS void "
        "LANGUAGE plpgsql AS $$ BEGIN "
        + recompute("tid")
        + "; IF not_sent THEN "
        + "; ".join(recompute_not_sent("tid"))
        + "; END IF; END $$"
    ]
    for table, watched, ticket in WATCHED:
        new, old = ticket.format(row="NEW"), ticket.format(row="OLD")
        both = "true" if table in NOT_SENT_TABLES else "false"
        old, new = f"{old}, {both}", f"{new}, {both}"
        out.append(
            f"CREATE FUNCTION scoring_on_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND {ticket.format(row='OLD')} "
            f"IS DISTINCT FROM {ticket.format(row='NEW')}) "
            f"THEN PERFORM scoring_refresh_ticket({old}); END IF; "
            f"IF TG_OP <> 'DELETE' THEN PERFORM scoring_refresh_ticket({new}); END IF; "
            "RETURN NULL; END $$"
        )
        # A deleted ticket takes its row with it (ON DELETE CASCADE): no delete trigger.
        on = "INSERT OR UPDATE" if table == "tickets" else "INSERT OR DELETE OR UPDATE"
        out.append(
            f"CREATE TRIGGER scoring_rollup AFTER {on} OF {watched} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION scoring_on_{table}()"
        )
    return out


def postgresql_drop() -> list[str]:
    out = []
    for table, _, _ in WATCHED:
        out.append(f"DROP TRIGGER IF EXISTS scoring_rollup ON {table}")
        out.append(f"DROP FUNCTION IF EXISTS scoring_on_{table}()")
    out.append("DROP FUNCTION IF EXISTS scoring_refresh_ticket(uuid, boolean)")
    return out


def sqlite_ddl() -> list[str]:
    out = []
    for table, watched, ticket in WATCHED:
        new, old = ticket.format(row="NEW"), ticket.format(row="OLD")
        if table == "tickets":  # its id never changes; a deleted ticket's row cascades
            events = [("insert", "INSERT", [new]), ("update", f"UPDATE OF {watched}", [new])]
        else:
            events = [
                ("insert", "INSERT", [new]),
                ("delete", "DELETE", [old]),
                ("update", f"UPDATE OF {watched}", [old, new]),
            ]
        for name, event, tickets in events:
            # A NULL ticket (the response went first) matches no row: nothing to do.
            statements = []
            for t in tickets:
                statements.append(recompute(t))
                if table in NOT_SENT_TABLES:
                    statements += recompute_not_sent(t)
            body = " ".join(f"{st};" for st in statements)
            out.append(
                f"CREATE TRIGGER scoring_rollup_{table}_{name} AFTER {event} ON {table} "
                f"FOR EACH ROW BEGIN {body} END"
            )
    return out


def sqlite_drop() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS scoring_rollup_{table}_{name}"
        for table, _, _ in WATCHED
        for name in ("insert", "delete", "update")
        if not (table == "tickets" and name == "delete")
    ]


def rebuild_all() -> list[str]:
    """Both tables from scratch, e.g. after a bulk load with the triggers off."""
    return [rebuild(), "DELETE FROM ticket_not_sent", _not_sent_insert("")]


if __name__ == "__main__":
    for statement in [*postgresql_ddl(), *sqlite_ddl(), *rebuild_all()]:
        print(statement + ";\n")
