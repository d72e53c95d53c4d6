"""feedback: schema changes after the initial schema (owned by the feedback domain)

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resend_count", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "feedback_opens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("opened_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("client_hash", sa.String(length=16), nullable=True),
        sa.Column("scanner_ua", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["feedback_requests.id"],
            name=op.f("fk_feedback_opens_request_id_feedback_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_opens")),
    )
    with op.batch_alter_table("feedback_opens", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feedback_opens_request_id_opened_at", ["request_id", "opened_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_opens", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_opens_request_id_opened_at")
    op.drop_table("feedback_opens")
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.drop_column("resend_count")
