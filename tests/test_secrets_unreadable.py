"""A connector whose secrets were encrypted with a key no longer in XPULSE_ENCRYPTION_KEYS: the
API and the webhook answer a 503 problem naming the connector (never a 500), the log says which
connector, and `xpulse secrets rotate` names it in one line."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import secrets_box
from app.clock import utcnow
from app.connectors import service
from app.connectors.schemas import ConnectorCreate
from app.db import make_sessionmaker
from app.secrets_box import SecretBox
from tests.test_secrets import NEW_KEY, OLD_KEY, jira_body, signed, xpulse

SECRET = "webhook-secret-of-the-old-key"


@pytest.fixture(autouse=True)
def _keep_the_process_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_box, "_box", secrets_box._box)


def connector(name: str) -> dict:
    return {
        "name": name,
        "kind": "jira",
        "base_url": "https://acme.atlassian.net",
        "webhook_secret": SECRET,
        "auth": {"type": "basic", "username": "svc", "password": "itsm-password-old-key"},
    }


async def test_an_unreadable_secret_is_a_problem_naming_the_connector(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets_box._box = SecretBox([OLD_KEY])
    created = await client.post(
        "/api/v1/connectors", json=connector("jira-prod"), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    session.expunge_all()  # the next request reads the row from the database again
    secrets_box._box = SecretBox([NEW_KEY])  # the old key was dropped before a rotation

    listed = await client.get("/api/v1/connectors", headers=admin_headers)
    one = await client.get(f"/api/v1/connectors/{created.json()['id']}", headers=admin_headers)
    body = jira_body()
    hook = await client.post("/webhooks/jira-prod", content=body, headers=signed(body, SECRET))
    for response in (listed, one, hook):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["type"].endswith("/secret-unreadable")
        assert problem["connector"] == "jira-prod"
        assert "'jira-prod'" in problem["detail"] and "XPULSE_ENCRYPTION_KEYS" in problem["detail"]
        assert SECRET not in response.text
    logged = [r for r in caplog.records if getattr(r, "event", "") == "secret_unreadable"]
    assert logged and all(r.connector == "jira-prod" for r in logged)  # type: ignore[attr-defined]
    assert all(r.levelno == logging.ERROR for r in logged)

    # With the old key back (after the new one) everything reads again.
    secrets_box._box = SecretBox([NEW_KEY, OLD_KEY])
    session.expunge_all()
    assert (await client.get("/api/v1/connectors", headers=admin_headers)).status_code == 200


async def test_rotate_names_the_connector_it_cannot_open(
    pg_url: str, committed: AsyncEngine
) -> None:
    secrets_box._box = SecretBox([OLD_KEY])
    async with make_sessionmaker(committed)() as s:
        data = ConnectorCreate.model_validate(connector("snow-eu"))
        await service.create_connector(s, data=data, now=utcnow())
        await s.commit()
    failed = xpulse(
        "secrets",
        "rotate",
        database_url=pg_url,
        check=False,
        env={"XPULSE_ENCRYPTION_KEYS": NEW_KEY},
    )
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "connector 'snow-eu'" in failed.stderr
    assert json.dumps(SECRET)[1:-1] not in failed.stderr + failed.stdout
