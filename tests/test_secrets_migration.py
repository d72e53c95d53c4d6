"""Migrations 0008 (connector secrets) and 0017 (alert rules' chat webhook URLs) encrypt the
secrets already stored, on PostgreSQL and SQLite, and their downgrades give them back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from app import secrets_box
from app.actions.models import AlertRule
from app.clock import utcnow
from app.config import get_settings
from app.connectors import service
from app.connectors.models import Connector
from app.db import JSONDoc, UTCDateTime, create_engine, make_sessionmaker
from app.migrate import alembic_config
from app.secrets_box import SecretBox
from tests.migrations.test_migrations import _to_thread

KEY = "migration-key-" + "d4" * 16
SECRET, PASSWORD = "stored-in-plain-webhook-secret", "stored-in-plain-itsm-password"

connectors = sa.table(
    "connectors",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("base_url", sa.String()),
    sa.column("enabled", sa.Boolean()),
    sa.column("webhook_secret", sa.String()),
    sa.column("auth", JSONDoc),
    sa.column("channel", sa.String()),
    sa.column("options", JSONDoc),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


@pytest.fixture(params=["postgres", "sqlite"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("blank_pg_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"


@pytest.fixture
def encryption_key(monkeypatch: pytest.MonkeyPatch):
    """The migration reads its key from the settings, as `xpulse migrate` does."""
    monkeypatch.setenv("XPULSE_ENCRYPTION_KEYS", KEY)
    monkeypatch.setattr(secrets_box, "_box", secrets_box._box)
    get_settings.cache_clear()
    yield KEY
    get_settings.cache_clear()


async def raw(engine) -> tuple[str, dict]:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(connectors.c.webhook_secret, connectors.c.auth))).one()
    return row[0], row[1]


async def test_0008_encrypts_existing_secrets_and_its_downgrade_restores_them(
    blank_url: str, encryption_key: str
) -> None:
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "0007")
    engine = create_engine(blank_url)
    try:
        now = utcnow()
        async with engine.begin() as conn:
            await conn.execute(
                connectors.insert().values(
                    id=uuid.uuid4(),
                    name="legacy",
                    kind="jira",
                    base_url="https://acme.atlassian.net",
                    enabled=True,
                    webhook_secret=SECRET,
                    auth={"type": "basic", "username": "svc", "password": PASSWORD},
                    channel="email",
                    options={},
                    created_at=now,
                    updated_at=now,
                )
            )

        await _to_thread(command.upgrade, cfg, "head")
        stored, auth = await raw(engine)
        box = SecretBox([encryption_key])
        assert SECRET not in stored and PASSWORD not in str(auth)
        assert box.decrypt(stored) == SECRET and box.decrypt(auth["password"]) == PASSWORD
        assert auth["username"] == "svc"  # what is not secret stays readable

        await _to_thread(command.upgrade, cfg, "head")  # a rerun is harmless (already at head)
        secrets_box.configure(get_settings())
        async with make_sessionmaker(engine)() as session:
            connector = (await session.scalars(sa.select(Connector))).one()
            config = service.to_config(connector)
        assert (config.webhook_secret, config.auth["password"]) == (SECRET, PASSWORD)

        await _to_thread(command.downgrade, cfg, "0007")
        assert await raw(engine) == (
            SECRET,
            {"type": "basic", "username": "svc", "password": PASSWORD},
        )
    finally:
        await engine.dispose()


alert_rules = sa.table(
    "alert_rules",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("enabled", sa.Boolean()),
    sa.column("condition", sa.String()),
    sa.column("actions", JSONDoc),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
HOOK = "https://hooks.slack.com/services/T000/B000/stored-in-plain-chat-webhook"


async def test_0017_encrypts_existing_chat_urls_and_its_downgrade_restores_them(
    blank_url: str, encryption_key: str
) -> None:
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "0016")
    engine = create_engine(blank_url)
    actions = {
        "email": ["oncall@example.com"],
        "chat": [{"url": HOOK, "format": "slack"}, {"url": HOOK + "-2", "format": "teams"}],
        "ticket_note": True,
    }
    try:
        now = utcnow()
        async with engine.begin() as conn:
            for name, doc in (("with chat", actions), ("mail only", {"email": ["a@b.example"]})):
                await conn.execute(
                    alert_rules.insert().values(
                        id=uuid.uuid4(),
                        name=name,
                        enabled=True,
                        condition="unhappy",
                        actions=doc,
                        created_at=now,
                        updated_at=now,
                    )
                )

        async def stored() -> dict[str, dict]:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.select(alert_rules.c.name, alert_rules.c.actions))
            return {name: doc for name, doc in rows.all()}

        await _to_thread(command.upgrade, cfg, "0017")
        after = await stored()
        assert HOOK not in str(after["with chat"])
        box = SecretBox([encryption_key])
        assert [box.decrypt(t["url"]) for t in after["with chat"]["chat"]] == [HOOK, HOOK + "-2"]
        assert [t["format"] for t in after["with chat"]["chat"]] == ["slack", "teams"]
        assert after["with chat"]["email"] == ["oncall@example.com"]  # not secret: readable
        assert after["mail only"] == {"email": ["a@b.example"]}

        secrets_box.configure(get_settings())
        async with make_sessionmaker(engine)() as session:
            rule = (
                await session.scalars(sa.select(AlertRule).where(AlertRule.name == "with chat"))
            ).one()
            assert rule.actions == actions  # the model reads them in plain

        await _to_thread(command.downgrade, cfg, "0016")
        assert (await stored())["with chat"] == actions
    finally:
        await engine.dispose()
