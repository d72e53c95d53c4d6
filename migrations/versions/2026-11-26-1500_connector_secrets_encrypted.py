"""connectors: webhook secrets and ITSM credentials encrypted at rest

Revision ID: 0008
Revises: 0007

Encrypts each connector's `webhook_secret` and the secret fields of `auth` (password, token,
client_secret) with the first key of XPULSE_ENCRYPTION_KEYS (development without keys: the key
derived from XPULSE_SECRET_KEY), as app/secrets_box.py reads them. Values already encrypted are
left alone, so a rerun is harmless. The downgrade writes them back in plain text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app import secrets_box
from app.config import get_settings

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The table as this revision knows it (not the model, which will move on).
connectors = sa.table(
    "connectors",
    sa.column("id", sa.Uuid()),
    sa.column("webhook_secret", sa.String(500)),
    sa.column("auth", app.db.JSONDoc),
)


def _box() -> secrets_box.SecretBox:
    return secrets_box.SecretBox.from_settings(get_settings())


def _rewrite(secret, auth) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(connectors.c.id, connectors.c.webhook_secret, connectors.c.auth))
    for row_id, webhook_secret, auth_doc in rows.all():
        conn.execute(
            connectors.update()
            .where(connectors.c.id == row_id)
            .values(webhook_secret=secret(webhook_secret), auth=auth(auth_doc or {}))
        )


def upgrade() -> None:
    box = _box()

    def seal(value: str) -> str:
        return value if secrets_box.is_sealed(value) else box.encrypt(value)

    def seal_auth(doc: dict) -> dict:
        return {
            k: seal(v) if k in secrets_box.SECRET_AUTH_FIELDS and isinstance(v, str) else v
            for k, v in doc.items()
        }

    _rewrite(seal, seal_auth)


def downgrade() -> None:
    box = _box()

    def unseal(value: str) -> str:
        return box.decrypt(value) if secrets_box.is_sealed(value) else value

    _rewrite(unseal, lambda doc: secrets_box.open_auth(doc, box))
