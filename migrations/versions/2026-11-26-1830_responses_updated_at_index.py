"""responses: an index on (updated_at, id) for the alert pass

Revision ID: 0013
Revises: 0012

The alert pass (app/actions/alerts.py) reads the answers changed after its watermark in
(updated_at, id) order every few seconds; without an index that is a scan of every response.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_responses_updated_at_id", "responses", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_responses_updated_at_id", table_name="responses")
