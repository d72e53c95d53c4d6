"""alert rules: chat webhook URLs encrypted at rest

Revision ID: 0017
Revises: 0016

A Slack or Teams incoming-webhook URL is a credential: whoever holds it can post to the channel.
Each chat URL in `alert_rules.actions` is encrypted with the first key of XPULSE_ENCRYPTION_KEYS
(development without keys: the key derived from XPULSE_SECRET_KEY), as app/secrets_box.py reads
it. URLs already encrypted are left alone, so a rerun is harmless. The downgrade writes them back
in plain text.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app import secrets_box
from app.config import get_settings

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table as this revision knows it (not the model, which will move on).
alert_rules = sa.table(
    "alert_rules",
    sa.column("id", sa.Uuid()),
    sa.column("actions", app.db.JSONDoc),
)


def _rewrite(url: Callable[[str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(alert_rules.c.id, alert_rules.c.actions))
    for row_id, actions in rows.all():
        if not (actions or {}).get("chat"):
            continue
        chat = [{**t, "url": url(t["url"])} for t in actions["chat"]]
        conn.execute(
            alert_rules.update()
            .where(alert_rules.c.id == row_id)
            .values(actions={**actions, "chat": chat})
        )


def upgrade() -> None:
    box = secrets_box.SecretBox.from_settings(get_settings())
    _rewrite(lambda value: value if secrets_box.is_sealed(value) else box.encrypt(value))


def downgrade() -> None:
    box = secrets_box.SecretBox.from_settings(get_settings())
    _rewrite(lambda value: box.decrypt(value) if secrets_box.is_sealed(value) else value)
