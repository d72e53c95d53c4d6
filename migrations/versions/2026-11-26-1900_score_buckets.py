"""scoring: score_buckets and not_sent_buckets, sums per UTC hour, day and month

Revision ID: 0014
Revises: 0013

A deleted ticket no longer takes its ticket_scores and ticket_not_sent rows with it (no foreign
key): its delete is queued like any change, and the drain subtracts its rows from the sums
before it deletes them. So the tickets trigger now also fires on DELETE.

Figures over a long range summed a row per ticket in range (issue 15: 0.3–1.8 s at a million
tickets). These tables hold the same sums per UTC hour, day and month, over every ticket and
per value of each dimension; readers combine them with the per-ticket rows for the minutes a
local period does not cover (app/scoring/buckets.py), and drains keep them exact by difference
(app/scoring/bucket_sql.py). Upgrading fills them from ticket_scores and ticket_not_sent, which
are exact already. The fill SQL is a frozen copy of app/scoring/bucket_sql.py's
`apply(table, dialect, 1, None)` for both tables, run one grain and dimension at a time.
"""

# ruff: noqa: E501 - frozen SQL, one statement per line

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMED = [
    "tickets",
    "sla_known",
    "sla_met",
    "requests_sent",
    "requests_not_sent",
    "responses",
    "s10_n",
    "s10_sum",
    "s10_happy",
    "s10_unhappy",
    "s5_n",
    "s5_sum",
    "s5_happy",
    "s5_unhappy",
    "lost_n",
    "lost_sum",
    "lost_0",
    "lost_10",
    "lost_25",
    "lost_45",
    "lost_90",
    "lost_180",
    "lost_360",
    "lost_720",
    "positive_responses",
    "negative_responses",
    "f_fast",
    "f_friendly",
    "f_first_contact",
    "f_informed",
    "f_learned",
    "f_expert",
    "f_slow",
    "f_repeat_explain",
    "f_not_informed",
    "f_closed_unasked",
    "f_not_solved",
    "f_hard_to_reach",
    "f_unfriendly",
]

# fmt: off
TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER scoring_dirty ON tickets",
        'CREATE TRIGGER scoring_dirty AFTER INSERT OR DELETE OR UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW EXECUTE FUNCTION scoring_dirty_tickets()',
    ],
    "sqlite": [
        "DROP TRIGGER scoring_dirty_tickets_update",
        'CREATE TRIGGER scoring_dirty_tickets_delete AFTER DELETE ON tickets FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.id; END',
        'CREATE TRIGGER scoring_dirty_tickets_update AFTER UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.id WHERE OLD.id IS NOT NEW.id; INSERT INTO scoring_dirty (ticket_id) SELECT NEW.id; END',
    ],
}
TRIGGERS_BEFORE = {
    "postgresql": [
        "DROP TRIGGER scoring_dirty ON tickets",
        'CREATE TRIGGER scoring_dirty AFTER INSERT OR UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW EXECUTE FUNCTION scoring_dirty_tickets()',
    ],
    "sqlite": [
        "DROP TRIGGER scoring_dirty_tickets_delete",
        "DROP TRIGGER scoring_dirty_tickets_update",
        'CREATE TRIGGER scoring_dirty_tickets_update AFTER UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.id; END',
    ],
}
FILL = {
    "postgresql": ["WITH g(grain, len) AS (VALUES (1, 3600), (2, 86400), (3, 0)), d(dim) AS (VALUES ('*'), ('connector'), ('service'), ('assignment_group'), ('category'), ('priority'), ('channel'), ('agent')) INSERT INTO score_buckets (grain, bucket, dim, value, tickets, sla_known, sla_met, requests_sent, requests_not_sent, responses, s10_n, s10_sum, s10_happy, s10_unhappy, s5_n, s5_sum, s5_happy, s5_unhappy, lost_n, lost_sum, lost_0, lost_10, lost_25, lost_45, lost_90, lost_180, lost_360, lost_720, positive_responses, negative_responses, f_fast, f_friendly, f_first_contact, f_informed, f_learned, f_expert, f_slow, f_repeat_explain, f_not_informed, f_closed_unasked, f_not_solved, f_hard_to_reach, f_unfriendly) SELECT g.grain, CAST(CASE WHEN s.resolved_at IS NULL THEN -4611686018427387904 WHEN g.grain = 3 THEN extract(epoch FROM date_trunc('month', s.resolved_at, 'UTC')) ELSE floor(extract(epoch FROM s.resolved_at) / g.len) * g.len END AS BIGINT), d.dim, CASE d.dim WHEN '*' THEN '' WHEN 'connector' THEN coalesce('=' || CAST(s.connector_id AS text), '') WHEN 'service' THEN coalesce('=' || s.service, '') WHEN 'assignment_group' THEN coalesce('=' || s.assignment_group, '') WHEN 'category' THEN coalesce('=' || s.category, '') WHEN 'priority' THEN coalesce('=' || s.priority, '') WHEN 'channel' THEN coalesce('=' || s.channel, '') WHEN 'agent' THEN coalesce('=' || s.assignee, '') END, 1 * sum(1), 1 * sum(s.sla_known), 1 * sum(s.sla_met), 1 * sum(s.requests_sent), 1 * sum(s.requests_not_sent), 1 * sum(s.responses), 1 * sum(s.s10_n), 1 * sum(s.s10_sum), 1 * sum(s.s10_happy), 1 * sum(s.s10_unhappy), 1 * sum(s.s5_n), 1 * sum(s.s5_sum), 1 * sum(s.s5_happy), 1 * sum(s.s5_unhappy), 1 * sum(s.lost_n), 1 * sum(s.lost_sum), 1 * sum(s.lost_0), 1 * sum(s.lost_10), 1 * sum(s.lost_25), 1 * sum(s.lost_45), 1 * sum(s.lost_90), 1 * sum(s.lost_180), 1 * sum(s.lost_360), 1 * sum(s.lost_720), 1 * sum(s.positive_responses), 1 * sum(s.negative_responses), 1 * sum(s.f_fast), 1 * sum(s.f_friendly), 1 * sum(s.f_first_contact), 1 * sum(s.f_informed), 1 * sum(s.f_learned), 1 * sum(s.f_expert), 1 * sum(s.f_slow), 1 * sum(s.f_repeat_explain), 1 * sum(s.f_not_informed), 1 * sum(s.f_closed_unasked), 1 * sum(s.f_not_solved), 1 * sum(s.f_hard_to_reach), 1 * sum(s.f_unfriendly) FROM ticket_scores s CROSS JOIN g CROSS JOIN d WHERE 1 = 1 GROUP BY 1, 2, 3, 4 ON CONFLICT (grain, bucket, dim, value) DO UPDATE SET tickets = score_buckets.tickets + excluded.tickets, sla_known = score_buckets.sla_known + excluded.sla_known, sla_met = score_buckets.sla_met + excluded.sla_met, requests_sent = score_buckets.requests_sent + excluded.requests_sent, requests_not_sent = score_buckets.requests_not_sent + excluded.requests_not_sent, responses = score_buckets.responses + excluded.responses, s10_n = score_buckets.s10_n + excluded.s10_n, s10_sum = score_buckets.s10_sum + excluded.s10_sum, s10_happy = score_buckets.s10_happy + excluded.s10_happy, s10_unhappy = score_buckets.s10_unhappy + excluded.s10_unhappy, s5_n = score_buckets.s5_n + excluded.s5_n, s5_sum = score_buckets.s5_sum + excluded.s5_sum, s5_happy = score_buckets.s5_happy + excluded.s5_happy, s5_unhappy = score_buckets.s5_unhappy + excluded.s5_unhappy, lost_n = score_buckets.lost_n + excluded.lost_n, lost_sum = score_buckets.lost_sum + excluded.lost_sum, lost_0 = score_buckets.lost_0 + excluded.lost_0, lost_10 = score_buckets.lost_10 + excluded.lost_10, lost_25 = score_buckets.lost_25 + excluded.lost_25, lost_45 = score_buckets.lost_45 + excluded.lost_45, lost_90 = score_buckets.lost_90 + excluded.lost_90, lost_180 = score_buckets.lost_180 + excluded.lost_180, lost_360 = score_buckets.lost_360 + excluded.lost_360, lost_720 = score_buckets.lost_720 + excluded.lost_720, positive_responses = score_buckets.positive_responses + excluded.positive_responses, negative_responses = score_buckets.negative_responses + excluded.negative_responses, f_fast = score_buckets.f_fast + excluded.f_fast, f_friendly = score_buckets.f_friendly + excluded.f_friendly, f_first_contact = score_buckets.f_first_contact + excluded.f_first_contact, f_informed = score_buckets.f_informed + excluded.f_informed, f_learned = score_buckets.f_learned + excluded.f_learned, f_expert = score_buckets.f_expert + excluded.f_expert, f_slow = score_buckets.f_slow + excluded.f_slow, f_repeat_explain = score_buckets.f_repeat_explain + excluded.f_repeat_explain, f_not_informed = score_buckets.f_not_informed + excluded.f_not_informed, f_closed_unasked = score_buckets.f_closed_unasked + excluded.f_closed_unasked, f_not_solved = score_buckets.f_not_solved + excluded.f_not_solved, f_hard_to_reach = score_buckets.f_hard_to_reach + excluded.f_hard_to_reach, f_unfriendly = score_buckets.f_unfriendly + excluded.f_unfriendly", "WITH g(grain, len) AS (VALUES (1, 3600), (2, 86400), (3, 0)), d(dim) AS (VALUES ('*'), ('connector'), ('service'), ('assignment_group'), ('category'), ('priority'), ('channel'), ('agent')) INSERT INTO not_sent_buckets (grain, bucket, dim, value, status, reason_key, reason, requests) SELECT g.grain, CAST(CASE WHEN s.resolved_at IS NULL THEN -4611686018427387904 WHEN g.grain = 3 THEN extract(epoch FROM date_trunc('month', s.resolved_at, 'UTC')) ELSE floor(extract(epoch FROM s.resolved_at) / g.len) * g.len END AS BIGINT), d.dim, CASE d.dim WHEN '*' THEN '' WHEN 'connector' THEN coalesce('=' || CAST(s.connector_id AS text), '') WHEN 'service' THEN coalesce('=' || s.service, '') WHEN 'assignment_group' THEN coalesce('=' || s.assignment_group, '') WHEN 'category' THEN coalesce('=' || s.category, '') WHEN 'priority' THEN coalesce('=' || s.priority, '') WHEN 'channel' THEN coalesce('=' || s.channel, '') WHEN 'agent' THEN coalesce('=' || s.assignee, '') END, s.status, coalesce('=' || md5(s.reason), ''), s.reason, 1 * sum(s.requests) FROM ticket_not_sent s CROSS JOIN g CROSS JOIN d WHERE 1 = 1 GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (grain, bucket, dim, value, status, reason_key) DO UPDATE SET requests = not_sent_buckets.requests + excluded.requests"],
    "sqlite": ["WITH g(grain, len) AS (VALUES (1, 3600), (2, 86400), (3, 0)), d(dim) AS (VALUES ('*'), ('connector'), ('service'), ('assignment_group'), ('category'), ('priority'), ('channel'), ('agent')) INSERT INTO score_buckets (grain, bucket, dim, value, tickets, sla_known, sla_met, requests_sent, requests_not_sent, responses, s10_n, s10_sum, s10_happy, s10_unhappy, s5_n, s5_sum, s5_happy, s5_unhappy, lost_n, lost_sum, lost_0, lost_10, lost_25, lost_45, lost_90, lost_180, lost_360, lost_720, positive_responses, negative_responses, f_fast, f_friendly, f_first_contact, f_informed, f_learned, f_expert, f_slow, f_repeat_explain, f_not_informed, f_closed_unasked, f_not_solved, f_hard_to_reach, f_unfriendly) SELECT g.grain, CAST(CASE WHEN s.resolved_at IS NULL THEN -4611686018427387904 WHEN g.grain = 3 THEN strftime('%s', substr(s.resolved_at, 1, 19), 'start of month') ELSE (CAST(strftime('%s', substr(s.resolved_at, 1, 19)) AS INTEGER) - ((CAST(strftime('%s', substr(s.resolved_at, 1, 19)) AS INTEGER) % g.len) + g.len) % g.len) END AS BIGINT), d.dim, CASE d.dim WHEN '*' THEN '' WHEN 'connector' THEN coalesce('=' || s.connector_id, '') WHEN 'service' THEN coalesce('=' || s.service, '') WHEN 'assignment_group' THEN coalesce('=' || s.assignment_group, '') WHEN 'category' THEN coalesce('=' || s.category, '') WHEN 'priority' THEN coalesce('=' || s.priority, '') WHEN 'channel' THEN coalesce('=' || s.channel, '') WHEN 'agent' THEN coalesce('=' || s.assignee, '') END, 1 * sum(1), 1 * sum(s.sla_known), 1 * sum(s.sla_met), 1 * sum(s.requests_sent), 1 * sum(s.requests_not_sent), 1 * sum(s.responses), 1 * sum(s.s10_n), 1 * sum(s.s10_sum), 1 * sum(s.s10_happy), 1 * sum(s.s10_unhappy), 1 * sum(s.s5_n), 1 * sum(s.s5_sum), 1 * sum(s.s5_happy), 1 * sum(s.s5_unhappy), 1 * sum(s.lost_n), 1 * sum(s.lost_sum), 1 * sum(s.lost_0), 1 * sum(s.lost_10), 1 * sum(s.lost_25), 1 * sum(s.lost_45), 1 * sum(s.lost_90), 1 * sum(s.lost_180), 1 * sum(s.lost_360), 1 * sum(s.lost_720), 1 * sum(s.positive_responses), 1 * sum(s.negative_responses), 1 * sum(s.f_fast), 1 * sum(s.f_friendly), 1 * sum(s.f_first_contact), 1 * sum(s.f_informed), 1 * sum(s.f_learned), 1 * sum(s.f_expert), 1 * sum(s.f_slow), 1 * sum(s.f_repeat_explain), 1 * sum(s.f_not_informed), 1 * sum(s.f_closed_unasked), 1 * sum(s.f_not_solved), 1 * sum(s.f_hard_to_reach), 1 * sum(s.f_unfriendly) FROM ticket_scores s CROSS JOIN g CROSS JOIN d WHERE 1 = 1 GROUP BY 1, 2, 3, 4 ON CONFLICT (grain, bucket, dim, value) DO UPDATE SET tickets = score_buckets.tickets + excluded.tickets, sla_known = score_buckets.sla_known + excluded.sla_known, sla_met = score_buckets.sla_met + excluded.sla_met, requests_sent = score_buckets.requests_sent + excluded.requests_sent, requests_not_sent = score_buckets.requests_not_sent + excluded.requests_not_sent, responses = score_buckets.responses + excluded.responses, s10_n = score_buckets.s10_n + excluded.s10_n, s10_sum = score_buckets.s10_sum + excluded.s10_sum, s10_happy = score_buckets.s10_happy + excluded.s10_happy, s10_unhappy = score_buckets.s10_unhappy + excluded.s10_unhappy, s5_n = score_buckets.s5_n + excluded.s5_n, s5_sum = score_buckets.s5_sum + excluded.s5_sum, s5_happy = score_buckets.s5_happy + excluded.s5_happy, s5_unhappy = score_buckets.s5_unhappy + excluded.s5_unhappy, lost_n = score_buckets.lost_n + excluded.lost_n, lost_sum = score_buckets.lost_sum + excluded.lost_sum, lost_0 = score_buckets.lost_0 + excluded.lost_0, lost_10 = score_buckets.lost_10 + excluded.lost_10, lost_25 = score_buckets.lost_25 + excluded.lost_25, lost_45 = score_buckets.lost_45 + excluded.lost_45, lost_90 = score_buckets.lost_90 + excluded.lost_90, lost_180 = score_buckets.lost_180 + excluded.lost_180, lost_360 = score_buckets.lost_360 + excluded.lost_360, lost_720 = score_buckets.lost_720 + excluded.lost_720, positive_responses = score_buckets.positive_responses + excluded.positive_responses, negative_responses = score_buckets.negative_responses + excluded.negative_responses, f_fast = score_buckets.f_fast + excluded.f_fast, f_friendly = score_buckets.f_friendly + excluded.f_friendly, f_first_contact = score_buckets.f_first_contact + excluded.f_first_contact, f_informed = score_buckets.f_informed + excluded.f_informed, f_learned = score_buckets.f_learned + excluded.f_learned, f_expert = score_buckets.f_expert + excluded.f_expert, f_slow = score_buckets.f_slow + excluded.f_slow, f_repeat_explain = score_buckets.f_repeat_explain + excluded.f_repeat_explain, f_not_informed = score_buckets.f_not_informed + excluded.f_not_informed, f_closed_unasked = score_buckets.f_closed_unasked + excluded.f_closed_unasked, f_not_solved = score_buckets.f_not_solved + excluded.f_not_solved, f_hard_to_reach = score_buckets.f_hard_to_reach + excluded.f_hard_to_reach, f_unfriendly = score_buckets.f_unfriendly + excluded.f_unfriendly", "WITH g(grain, len) AS (VALUES (1, 3600), (2, 86400), (3, 0)), d(dim) AS (VALUES ('*'), ('connector'), ('service'), ('assignment_group'), ('category'), ('priority'), ('channel'), ('agent')) INSERT INTO not_sent_buckets (grain, bucket, dim, value, status, reason_key, reason, requests) SELECT g.grain, CAST(CASE WHEN s.resolved_at IS NULL THEN -4611686018427387904 WHEN g.grain = 3 THEN strftime('%s', substr(s.resolved_at, 1, 19), 'start of month') ELSE (CAST(strftime('%s', substr(s.resolved_at, 1, 19)) AS INTEGER) - ((CAST(strftime('%s', substr(s.resolved_at, 1, 19)) AS INTEGER) % g.len) + g.len) % g.len) END AS BIGINT), d.dim, CASE d.dim WHEN '*' THEN '' WHEN 'connector' THEN coalesce('=' || s.connector_id, '') WHEN 'service' THEN coalesce('=' || s.service, '') WHEN 'assignment_group' THEN coalesce('=' || s.assignment_group, '') WHEN 'category' THEN coalesce('=' || s.category, '') WHEN 'priority' THEN coalesce('=' || s.priority, '') WHEN 'channel' THEN coalesce('=' || s.channel, '') WHEN 'agent' THEN coalesce('=' || s.assignee, '') END, s.status, coalesce('=' || s.reason, ''), s.reason, 1 * sum(s.requests) FROM ticket_not_sent s CROSS JOIN g CROSS JOIN d WHERE 1 = 1 GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT (grain, bucket, dim, value, status, reason_key) DO UPDATE SET requests = not_sent_buckets.requests + excluded.requests"],
}
# fmt: on


# Each FILL statement sums every grain and dimension at once, which sorts every ticket 24 times
# over in one go (45 GB of temporary files at ten million tickets): it runs once per grain and
# dimension instead, its two lists of values narrowed to one each.
GRAINS = ["(1, 3600)", "(2, 86400)", "(3, 0)"]
DIMS = [
    "('*')",
    "('connector')",
    "('service')",
    "('assignment_group')",
    "('category')",
    "('priority')",
    "('channel')",
    "('agent')",
]
ALL = f"WITH g(grain, len) AS (VALUES {', '.join(GRAINS)}), d(dim) AS (VALUES {', '.join(DIMS)}) "


def _parts(statement: str) -> list[str]:
    assert statement.startswith(ALL)
    return [
        statement.replace(ALL, f"WITH g(grain, len) AS (VALUES {g}), d(dim) AS (VALUES {d}) ", 1)
        for g in GRAINS
        for d in DIMS
    ]


def _key() -> list[sa.Column]:
    return [
        sa.Column("grain", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
    ]


TICKET_KEYS = {
    "ticket_scores": "fk_ticket_scores_ticket_id_tickets",
    "ticket_not_sent": "fk_ticket_not_sent_ticket_id_tickets",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, key in TICKET_KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(key, type_="foreignkey")
    for statement in TRIGGERS[dialect]:
        op.execute(statement)
    op.create_table(
        "score_buckets",
        *_key(),
        *(
            sa.Column(
                c,
                sa.BigInteger() if c == "lost_sum" else sa.Integer(),
                server_default="0",
                nullable=False,
            )
            for c in SUMMED
        ),
        sa.Column("dim", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dim", "value", "grain", "bucket", name=op.f("pk_score_buckets")),
        postgresql_with={"fillfactor": "70"},  # in-place (HOT) updates of the sums
    )
    op.create_index(
        "ix_score_buckets_dim_grain_bucket", "score_buckets", ["dim", "grain", "bucket"]
    )
    op.create_table(
        "not_sent_buckets",
        *_key(),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("dim", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_key", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "dim",
            "value",
            "grain",
            "bucket",
            "status",
            "reason_key",
            name=op.f("pk_not_sent_buckets"),
        ),
    )
    op.create_index(
        "ix_not_sent_buckets_dim_grain_bucket", "not_sent_buckets", ["dim", "grain", "bucket"]
    )
    for statement in FILL[dialect]:
        for part in _parts(statement):
            op.execute(part)


def downgrade() -> None:
    op.drop_table("not_sent_buckets")
    op.drop_table("score_buckets")
    # Rows of tickets deleted while the queue waited go now, as the cascade took them before.
    op.execute("DELETE FROM ticket_scores WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_scores.ticket_id)")
    op.execute("DELETE FROM ticket_not_sent WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_not_sent.ticket_id)")
    for statement in TRIGGERS_BEFORE[op.get_bind().dialect.name]:
        op.execute(statement)
    for table, key in TICKET_KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(key, "tickets", ["ticket_id"], ["id"], ondelete="CASCADE")
