"""scoring: triggers only queue touched tickets in scoring_dirty; drains recompute them

Revision ID: 0011
Revises: 0010

The triggers of 0004 recomputed a ticket's whole ticket_scores row (and its ticket_not_sent
rows) on every write to tickets, feedback_requests, responses and response_factors: about 3 ms of
database time on every webhook ingest and every answer. Now they only append the ticket's id to
`scoring_dirty`; the background drain and every reader's catch-up recompute the queued tickets
(app/scoring/upkeep.py). The rows are exact already, so upgrading rebuilds nothing. The trigger
SQL is a frozen copy of app/scoring/rollup.py (`python -m app.scoring.rollup`); the downgrade
restores 0004's triggers from that migration's own frozen copy and rebuilds both tables.
"""

# ruff: noqa: E501 - frozen SQL, one statement per line

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# fmt: off
POSTGRESQL_DDL = [
    "CREATE FUNCTION scoring_dirty_tickets() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id) THEN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.id; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.id; END IF; RETURN NULL; END $$",
    'CREATE TRIGGER scoring_dirty AFTER INSERT OR UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW EXECUTE FUNCTION scoring_dirty_tickets()',
    "CREATE FUNCTION scoring_dirty_feedback_requests() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.ticket_id IS DISTINCT FROM NEW.ticket_id) THEN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END IF; RETURN NULL; END $$",
    'CREATE TRIGGER scoring_dirty AFTER INSERT OR DELETE OR UPDATE OF ticket_id, sent_at, status, status_reason ON feedback_requests FOR EACH ROW EXECUTE FUNCTION scoring_dirty_feedback_requests()',
    "CREATE FUNCTION scoring_dirty_responses() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.ticket_id IS DISTINCT FROM NEW.ticket_id) THEN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END IF; RETURN NULL; END $$",
    'CREATE TRIGGER scoring_dirty AFTER INSERT OR DELETE OR UPDATE OF ticket_id, score, scale, lost_minutes, automated ON responses FOR EACH ROW EXECUTE FUNCTION scoring_dirty_responses()',
    "CREATE FUNCTION scoring_dirty_response_factors() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.response_id IS DISTINCT FROM NEW.response_id) THEN INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = OLD.response_id; END IF; IF TG_OP <> 'DELETE' THEN INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = NEW.response_id; END IF; RETURN NULL; END $$",
    'CREATE TRIGGER scoring_dirty AFTER INSERT OR DELETE OR UPDATE OF response_id, factor, polarity ON response_factors FOR EACH ROW EXECUTE FUNCTION scoring_dirty_response_factors()',
]

POSTGRESQL_DROP = [
    'DROP TRIGGER IF EXISTS scoring_dirty ON tickets',
    'DROP FUNCTION IF EXISTS scoring_dirty_tickets()',
    'DROP TRIGGER IF EXISTS scoring_dirty ON feedback_requests',
    'DROP FUNCTION IF EXISTS scoring_dirty_feedback_requests()',
    'DROP TRIGGER IF EXISTS scoring_dirty ON responses',
    'DROP FUNCTION IF EXISTS scoring_dirty_responses()',
    'DROP TRIGGER IF EXISTS scoring_dirty ON response_factors',
    'DROP FUNCTION IF EXISTS scoring_dirty_response_factors()',
]

SQLITE_DDL = [
    'CREATE TRIGGER scoring_dirty_tickets_insert AFTER INSERT ON tickets FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.id; END',
    'CREATE TRIGGER scoring_dirty_tickets_update AFTER UPDATE OF connector_id, service, assignment_group, category, priority, channel, assignee, resolved_at, sla_met ON tickets FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.id; END',
    'CREATE TRIGGER scoring_dirty_feedback_requests_insert AFTER INSERT ON feedback_requests FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_feedback_requests_delete AFTER DELETE ON feedback_requests FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_feedback_requests_update AFTER UPDATE OF ticket_id, sent_at, status, status_reason ON feedback_requests FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id WHERE OLD.ticket_id IS NOT NEW.ticket_id; INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_responses_insert AFTER INSERT ON responses FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_responses_delete AFTER DELETE ON responses FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_responses_update AFTER UPDATE OF ticket_id, score, scale, lost_minutes, automated ON responses FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT OLD.ticket_id WHERE OLD.ticket_id IS NOT NEW.ticket_id; INSERT INTO scoring_dirty (ticket_id) SELECT NEW.ticket_id; END',
    'CREATE TRIGGER scoring_dirty_response_factors_insert AFTER INSERT ON response_factors FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = NEW.response_id; END',
    'CREATE TRIGGER scoring_dirty_response_factors_delete AFTER DELETE ON response_factors FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = OLD.response_id; END',
    'CREATE TRIGGER scoring_dirty_response_factors_update AFTER UPDATE OF response_id, factor, polarity ON response_factors FOR EACH ROW BEGIN INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = OLD.response_id AND OLD.response_id IS NOT NEW.response_id; INSERT INTO scoring_dirty (ticket_id) SELECT ticket_id FROM responses WHERE id = NEW.response_id; END',
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS scoring_dirty_tickets_insert',
    'DROP TRIGGER IF EXISTS scoring_dirty_tickets_update',
    'DROP TRIGGER IF EXISTS scoring_dirty_feedback_requests_insert',
    'DROP TRIGGER IF EXISTS scoring_dirty_feedback_requests_delete',
    'DROP TRIGGER IF EXISTS scoring_dirty_feedback_requests_update',
    'DROP TRIGGER IF EXISTS scoring_dirty_responses_insert',
    'DROP TRIGGER IF EXISTS scoring_dirty_responses_delete',
    'DROP TRIGGER IF EXISTS scoring_dirty_responses_update',
    'DROP TRIGGER IF EXISTS scoring_dirty_response_factors_insert',
    'DROP TRIGGER IF EXISTS scoring_dirty_response_factors_delete',
    'DROP TRIGGER IF EXISTS scoring_dirty_response_factors_update',
]
# fmt: on


def _revision_0004() -> ModuleType:
    """0004's frozen recompute triggers and rebuild (a migration file never changes)."""
    path = Path(__file__).with_name("2026-11-23-1130_scoring_changes.py")
    spec = importlib.util.spec_from_file_location("xpulse_migration_0004", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.create_table(
        "scoring_dirty",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_dirty")),
    )
    old = _revision_0004()
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in old.POSTGRESQL_DROP if postgres else old.SQLITE_DROP:
        op.execute(statement)
    for statement in POSTGRESQL_DDL if postgres else SQLITE_DDL:
        op.execute(statement)


def downgrade() -> None:
    old = _revision_0004()
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
    for statement in old.POSTGRESQL_DDL if postgres else old.SQLITE_DDL:
        op.execute(statement)
    for statement in old.REBUILD:  # changes still queued are in the rebuilt rows
        op.execute(statement)
    op.drop_table("scoring_dirty")
