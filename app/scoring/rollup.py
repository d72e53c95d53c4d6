"""The SQL that keeps `ticket_scores` exact: one recompute per touched ticket (called by
triggers on both PostgreSQL and SQLite) and a bulk rebuild (after bulk loads).

Migration 0004 holds a frozen copy of this SQL, as a migration must; `python -m
app.scoring.rollup` prints it. Changing the columns means a new migration with new triggers.
"""

from __future__ import annotations

from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS, SCALES
from app.scoring.models import SCALE_PREFIX


def _when(cond: str, value: str = "1") -> str:
    return f"coalesce(sum(CASE WHEN {cond} THEN {value} ELSE 0 END), 0)"


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
    return ["requests_sent"] + [c for c, _ in response_columns() + factor_columns()]


def _upsert_tail() -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns())
    return f"ON CONFLICT (ticket_id) DO UPDATE SET {sets}"


def recompute(tid: str) -> str:
    """INSERT … ON CONFLICT of one ticket's row, from scratch; `tid` is an SQL expression.
    A deleted ticket yields no row (its row went with it, ON DELETE CASCADE)."""
    r_cols = ", ".join(f"{expr} AS {c}" for c, expr in response_columns())
    f_cols = ", ".join(f"{expr} AS {c}" for c, expr in factor_columns())
    picked = ", ".join(
        [
            "(SELECT count(*) FROM feedback_requests q WHERE q.ticket_id = t.id "
            "AND q.sent_at IS NOT NULL)"
        ]
        + [f"r.{c}" for c, _ in response_columns()]
        + [f"f.{c}" for c, _ in factor_columns()]
    )
    # Built only from fixed names and a caller's SQL expression, never from user input.
    return (
        f"INSERT INTO ticket_scores (ticket_id, {', '.join(columns())}) "  # noqa: S608
        f"SELECT t.id, {picked} FROM tickets t, "
        f"(SELECT {r_cols} FROM responses r WHERE r.ticket_id = {tid} AND NOT r.automated) r, "
        f"(SELECT {f_cols} FROM response_factors f JOIN responses r ON r.id = f.response_id "
        f"WHERE r.ticket_id = {tid} AND NOT r.automated) f "
        f"WHERE t.id = {tid} {_upsert_tail()}"
    )


def rebuild() -> str:
    """Every ticket with feedback, in one statement (after a bulk load with triggers off)."""
    r_cols = ", ".join(f"{expr} AS {c}" for c, expr in response_columns())
    f_cols = ", ".join(f"{expr} AS {c}" for c, expr in factor_columns())
    picked = ", ".join(
        ["coalesce(q.sent, 0)"]
        + [f"coalesce(r.{c}, 0)" for c, _ in response_columns()]
        + [f"coalesce(f.{c}, 0)" for c, _ in factor_columns()]
    )
    return (
        f"INSERT INTO ticket_scores (ticket_id, {', '.join(columns())}) "  # noqa: S608
        f"SELECT t.id, {picked} FROM tickets t "
        "LEFT JOIN (SELECT ticket_id, count(*) AS sent FROM feedback_requests "
        "WHERE sent_at IS NOT NULL GROUP BY ticket_id) q ON q.ticket_id = t.id "
        f"LEFT JOIN (SELECT r.ticket_id, {r_cols} FROM responses r WHERE NOT r.automated "
        "GROUP BY r.ticket_id) r ON r.ticket_id = t.id "
        f"LEFT JOIN (SELECT r.ticket_id, {f_cols} FROM response_factors f "
        "JOIN responses r ON r.id = f.response_id WHERE NOT r.automated "
        "GROUP BY r.ticket_id) f ON f.ticket_id = t.id "
        "WHERE q.ticket_id IS NOT NULL OR r.ticket_id IS NOT NULL "
        f"{_upsert_tail()}"
    )


# (table, columns whose change matters, SQL expression of the ticket for NEW/OLD row)
WATCHED = [
    ("feedback_requests", "ticket_id, sent_at", "{row}.ticket_id"),
    ("responses", "ticket_id, score, scale, lost_minutes, automated", "{row}.ticket_id"),
    (
        "response_factors",
        "response_id, factor, polarity",
        "(SELECT ticket_id FROM responses WHERE id = {row}.response_id)",
    ),
]


def postgresql_ddl() -> list[str]:
    out = [
        "CREATE FUNCTION scoring_refresh_ticket(tid uuid) RETURNS void LANGUAGE sql AS $$ "
        + recompute("tid")
        + " $$"
    ]
    for table, watched, ticket in WATCHED:
        new, old = ticket.format(row="NEW"), ticket.format(row="OLD")
        out.append(
            f"CREATE FUNCTION scoring_on_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP <> 'INSERT' THEN PERFORM scoring_refresh_ticket({old}); END IF; "
            f"IF TG_OP <> 'DELETE' THEN PERFORM scoring_refresh_ticket({new}); END IF; "
            "RETURN NULL; END $$"
        )
        out.append(
            f"CREATE TRIGGER scoring_rollup AFTER INSERT OR DELETE OR UPDATE OF {watched} "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION scoring_on_{table}()"
        )
    return out


def postgresql_drop() -> list[str]:
    out = []
    for table, _, _ in WATCHED:
        out.append(f"DROP TRIGGER IF EXISTS scoring_rollup ON {table}")
        out.append(f"DROP FUNCTION IF EXISTS scoring_on_{table}()")
    out.append("DROP FUNCTION IF EXISTS scoring_refresh_ticket(uuid)")
    return out


def sqlite_ddl() -> list[str]:
    out = []
    for table, watched, ticket in WATCHED:
        new, old = ticket.format(row="NEW"), ticket.format(row="OLD")
        events = [
            ("insert", "INSERT", [new]),
            ("delete", "DELETE", [old]),
            ("update", f"UPDATE OF {watched}", [old, new]),
        ]
        for name, event, tickets in events:
            body = " ".join(
                # A NULL ticket (the response went first) matches no row: nothing to do.
                recompute(t) + ";"
                for t in tickets
            )
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
    ]


if __name__ == "__main__":
    for statement in [*postgresql_ddl(), *sqlite_ddl(), rebuild()]:
        print(statement + ";\n")
