"""privacy: audit log and retention bookkeeping

Revision ID: 0009
Revises: 0008

`audit_events` is the audit log (who did what to what, and when; `GET /api/v1/audit`).
`retention_state` holds one row per retention kind (comments, identities, webhook bodies): when
the retention job last ran and how many rows it cleared, for /metrics on any replica.
An erased person's opt-out keeps its place in `opt_outs` under a keyed hash as `requester_key`,
so it needs no column of its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("detail", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_at_id", "audit_events", ["at", "id"])
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])
    op.create_table(
        "retention_state",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("last_run_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_last", sa.BigInteger(), nullable=False),
        sa.Column("cleared_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_retention_state")),
    )


def downgrade() -> None:
    op.drop_table("retention_state")
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
    op.drop_index("ix_audit_events_at_id", table_name="audit_events")
    op.drop_table("audit_events")
