"""Connector secrets at rest: no table holds a webhook secret or ITSM credential in any
encoding; keys rotate with `xpulse secrets rotate`; production refuses to start without a key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import secrets_box
from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.config import Settings
from app.connectors import service
from app.connectors.signatures import hub_signature
from app.db import make_sessionmaker
from app.http import make_http_client
from app.main import create_app
from app.secrets_box import SecretBox, SecretDecryptError
from tests.conftest import make_settings
from tests.support.leaks import encodings, where_found

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_KEY = "old-" + "a1" * 20
NEW_KEY = "new-" + "b2" * 20


@pytest.fixture(autouse=True)
def _keep_the_process_box(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests here configure other keys; the next test module gets the box it had."""
    monkeypatch.setattr(secrets_box, "_box", secrets_box._box)


def xpulse(
    *args: str, database_url: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, with the given settings in its environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("XPULSE_")}
    full.update(env, XPULSE_DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
        check=False,
    )
    assert not check or result.returncode == 0, result.stderr
    return result


def jira_body() -> bytes:
    body = (FIXTURES / "jira" / "cloud_resolved_to_closed.json").read_bytes()
    stamp = int(utcnow().timestamp() * 1000)  # a live delivery is stamped as sent now
    return re.sub(rb'"timestamp": \d+', b'"timestamp": %d' % stamp, body, count=1)


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-hub-signature": hub_signature(secret, body),
        "x-atlassian-webhook-identifier": uuid.uuid4().hex,
    }


async def test_no_table_holds_a_connector_secret_in_any_encoding(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    webhook_secret = f'wh/se+cr=et&"{tag}" ü-0123456789'
    password = f'pa ss/wo+rd="{tag}"&ß-9876543210'
    token = f"tok-{tag}-" + "t" * 24
    client_secret = f"cs-{tag}/+=-" + "c" * 24
    username = f"svc-xpulse-{tag}"
    jira = {
        "name": f"jira-{tag}",
        "kind": "jira",
        "base_url": "https://acme.atlassian.net",
        "webhook_secret": webhook_secret,
        "auth": {"type": "basic", "username": username, "password": password},
    }
    created = await client.post("/api/v1/connectors", json=jira, headers=admin_headers)
    assert created.status_code == 201, created.text
    for kind, auth in (
        ("generic", {"type": "bearer", "token": token}),
        (
            "servicenow",
            {
                "type": "oauth_client_credentials",
                "client_id": "cid",
                "client_secret": client_secret,
            },
        ),
    ):
        response = await client.post(
            "/api/v1/connectors",
            json={
                "name": f"{kind}-{tag}",
                "kind": kind,
                "base_url": "https://itsm.example.com",
                "webhook_secret": webhook_secret,
                "auth": auth,
            },
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
    # A delivery signed with the secret is verified (the stored form decrypts), one signed
    # with another is not; both leave rows (inbox, ticket, request, jobs) to search too.
    body = jira_body()
    accepted = await client.post(
        f"/webhooks/jira-{tag}", content=body, headers=signed(body, webhook_secret)
    )
    assert accepted.status_code in (200, 202), accepted.text
    refused = await client.post(
        f"/webhooks/jira-{tag}", content=body, headers=signed(body, "x" * 20)
    )
    assert refused.status_code == 401
    # Changing the credentials stores the new ones encrypted as well.
    changed = await client.patch(
        f"/api/v1/connectors/{created.json()['id']}",
        json={"auth": {"type": "basic", "username": username, "password": password + "2"}},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    await session.flush()

    leaks = await where_found(
        session,
        set().union(
            *(
                encodings(s)
                for s in (webhook_secret, password, password + "2", token, client_secret)
            )
        ),
    )
    assert leaks == []
    # The search itself finds what is stored in plain form: the username beside the password.
    assert f"connectors.auth ({username})" in await where_found(session, {username})
    # And the code that needs them still gets the plain values.
    connector = await service.get_connector(session, uuid.UUID(created.json()["id"]))
    config = service.to_config(connector)
    assert (config.webhook_secret, config.auth["password"]) == (webhook_secret, password + "2")


async def test_a_too_long_webhook_secret_is_a_problem_not_a_500(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/connectors",
        json={
            "name": "long-secret",
            "kind": "jira",
            "base_url": "https://acme.atlassian.net",
            "webhook_secret": "s" * 201,
        },
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "webhook_secret"


def keyed_app(settings: Settings, engine: AsyncEngine) -> FastAPI:
    """The real app on a committing engine (the CLI in another process must see its rows)."""
    app = create_app(settings, start_ticker_=False)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.http = make_http_client(settings)
    return app


async def stored(engine: AsyncEngine, name: str) -> tuple[str, str]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT webhook_secret, auth->>'password' FROM connectors WHERE name = :n"),
                {"n": name},
            )
        ).one()
    return row[0], row[1]


async def stored_chat_url(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT actions->'chat'->0->>'url' FROM alert_rules"))


async def test_rotation_re_encrypts_under_the_new_key_and_webhooks_still_verify(
    pg_url: str, committed: AsyncEngine
) -> None:
    secret, password = "rotate-me-webhook-secret-42", "rotate-me-itsm-password"
    hook = "https://hooks.slack.com/services/T0/B0/rotate-me-chat-webhook"
    async with make_sessionmaker(committed)() as s:
        _, admin = await auth_service.create_key(s, name="rot", scope=Scope.admin, now=utcnow())
        await s.commit()
    headers = {"Authorization": f"Bearer {admin}"}
    body = jira_body()

    old_app = keyed_app(make_settings(pg_url, encryption_keys=OLD_KEY), committed)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=old_app), base_url="http://testserver"
    ) as client:
        response = await client.post(
            "/api/v1/connectors",
            json={
                "name": "rotating",
                "kind": "jira",
                "base_url": "https://acme.atlassian.net",
                "webhook_secret": secret,
                "auth": {"type": "basic", "username": "svc", "password": password},
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        first = await client.post("/webhooks/rotating", content=body, headers=signed(body, secret))
        assert first.status_code in (200, 202), first.text
        rule = await client.post(
            "/api/v1/alert-rules",
            json={
                "name": "rotating chat",
                "condition": "unhappy",
                "actions": {"chat": [{"url": hook, "format": "slack"}]},
            },
            headers=headers,
        )
        assert rule.status_code == 201, rule.text
    await old_app.state.http.aclose()

    old, new = SecretBox([OLD_KEY]), SecretBox([NEW_KEY])
    before = [*await stored(committed, "rotating"), await stored_chat_url(committed)]
    assert [old.decrypt(v) for v in before] == [secret, password, hook]
    with pytest.raises(SecretDecryptError):
        new.decrypt(before[0])

    # The operator puts the new key first, keeps the old one to read with, and rotates.
    rotate = xpulse(
        "secrets",
        "rotate",
        database_url=pg_url,
        env={"XPULSE_ENCRYPTION_KEYS": f"{NEW_KEY},{OLD_KEY}"},
    )
    assert (
        "1 connector(s) and 1 alert rule(s) with chat webhooks re-encrypted under the first key"
        in rotate.stdout
    )

    after = [*await stored(committed, "rotating"), await stored_chat_url(committed)]
    assert [new.decrypt(v) for v in after] == [secret, password, hook]
    for value in after:
        with pytest.raises(SecretDecryptError):
            old.decrypt(value)

    # The old key removed: deliveries still verify, and the ITSM password still opens.
    new_app = keyed_app(make_settings(pg_url, encryption_keys=NEW_KEY), committed)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=new_app), base_url="http://testserver"
    ) as client:
        again = jira_body()
        verified = await client.post(
            "/webhooks/rotating", content=again, headers=signed(again, secret)
        )
        assert verified.status_code in (200, 202), verified.text
        forged = await client.post(
            "/webhooks/rotating", content=again, headers=signed(again, "f" * 20)
        )
        assert forged.status_code == 401
    await new_app.state.http.aclose()
    async with make_sessionmaker(committed)() as s:
        connector = await service.get_enabled_by_name(s, "rotating")
        assert service.to_config(connector).auth["password"] == password

    # Rotating with a key list that no longer opens the rows says so in one line.
    failed = xpulse(
        "secrets",
        "rotate",
        database_url=pg_url,
        check=False,
        env={"XPULSE_ENCRYPTION_KEYS": "unrelated-" + "c3" * 20},
    )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "XPULSE_ENCRYPTION_KEYS" in failed.stderr


def test_a_tampered_secret_does_not_open() -> None:
    box = SecretBox([OLD_KEY])
    sealed = box.encrypt("hello-secret")
    assert sealed.startswith("fernet:") and "hello-secret" not in sealed
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SecretDecryptError):
        box.decrypt(flipped)


def test_development_without_keys_derives_one_from_the_secret_key() -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:")
    assert settings.encryption_key_list == []
    box = SecretBox.from_settings(settings)
    assert box.derived_from_secret_key
    sealed = box.encrypt("dev-secret-value")
    assert SecretBox.from_settings(settings).decrypt(sealed) == "dev-secret-value"
    # It is not the key an operator would get by putting the secret key in the list.
    with pytest.raises(SecretDecryptError):
        SecretBox([settings.secret_key.get_secret_value()]).decrypt(sealed)


PRODUCTION = {
    "env": "production",
    "secret_key": "k" * 40,
    "database_url": "postgresql+asyncpg://xpulse:real-password@db/xpulse",
}


@pytest.mark.parametrize(
    "keys",
    ["", " , ", "short-key", "replace-with-output-of-openssl-rand-hex-32", f"{NEW_KEY},change-me"],
)
def test_production_refuses_to_start_without_a_real_encryption_key(keys: str) -> None:
    with pytest.raises(ValueError, match="XPULSE_ENCRYPTION_KEYS"):
        Settings(_env_file=None, **PRODUCTION, encryption_keys=keys)


def test_production_starts_with_real_keys() -> None:
    settings = Settings(_env_file=None, **PRODUCTION, encryption_keys=f" {NEW_KEY} , {OLD_KEY} ")
    assert settings.encryption_key_list == [NEW_KEY, OLD_KEY]
