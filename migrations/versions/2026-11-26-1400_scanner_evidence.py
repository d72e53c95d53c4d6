"""feedback: opt-outs keep their evidence and state; every judged click is logged

Revision ID: 0007
Revises: 0006

`opt_outs.status` is `applied`, `automated` (a suspected scanner's opt-out, kept as evidence and
not applied) or `undone`; `evidence` and `request_id` say which press decided it.
`feedback_clicks` holds one row per judged click (answers and opt-outs) with its verdict and
reasons, by day and connector, for the admin's scanner statistics.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="applied", nullable=False)
        )
        batch_op.add_column(sa.Column("evidence", JSON_DOC, nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "feedback_clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["feedback_requests.id"],
            name=op.f("fk_feedback_clicks_request_id_feedback_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_clicks")),
    )
    op.create_index(
        "ix_feedback_clicks_day_connector_id", "feedback_clicks", ["day", "connector_id"]
    )
    op.create_index("ix_feedback_clicks_request_id", "feedback_clicks", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_clicks_request_id", table_name="feedback_clicks")
    op.drop_index("ix_feedback_clicks_day_connector_id", table_name="feedback_clicks")
    op.drop_table("feedback_clicks")
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("request_id")
        batch_op.drop_column("evidence")
        batch_op.drop_column("status")
