"""jobs: lanes for the jobs that call one outside system (owned by the jobs core)

Revision ID: 0006
Revises: 0005

`jobs.lane` groups the jobs that call one connector's ITSM and `jobs.failing_since` starts a
job's retry budget; `job_lanes` holds each lane's shared state: ok or failing (since when, the
last error), when its next probe may go, whether a probe runs, and when its next paced call
may start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_lanes",
        sa.Column("lane", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_until", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("probe_until", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_slot", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_job_lanes")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("failing_since", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_jobs_lane_status", ["lane", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_lane_status")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("lane")
    op.drop_table("job_lanes")
