"""Connector test helpers: configs, rows, signed headers and the project's own fixtures."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.connectors.base import ConnectorConfig
from app.connectors.models import Connector
from app.connectors.options import ConnectorOptions
from app.connectors.signatures import hub_signature, standard_webhooks_signature

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The Standard Webhooks spec's test secret: valid as a whsec_ key and as a bearer token.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BASE_URLS = {
    "servicenow": "https://acme.service-now.com",
    "jira": "https://acme.atlassian.net",
    "generic": "https://helpdesk.example.com",
}


def own_fixture(kind: str, name: str) -> bytes:
    return (FIXTURES / kind / name).read_bytes()


def jira_fixture(name: str) -> bytes:
    """An own Jira webhook body stamped as sent now, as a live delivery is: Jira bodies carry
    their send time, and one older than the connector's replay window is not applied."""
    body = own_fixture("jira", name)
    stamp = int(utcnow().timestamp() * 1000)
    return re.sub(rb'"timestamp": \d+', b'"timestamp": %d' % stamp, body, count=1)


def config(
    kind: str, *, secret: str = SECRET, base_url: str | None = None, **options: Any
) -> ConnectorConfig:
    return ConnectorConfig(
        id=uuid.uuid4(),
        name=f"{kind}-test",
        kind=kind,
        base_url=base_url or BASE_URLS[kind],
        webhook_secret=secret,
        auth={"type": "basic", "username": "xpulse", "password": "pw"},
        channel="email",
        options=ConnectorOptions(**options),
    )


async def make_connector(
    session: AsyncSession,
    *,
    kind: str,
    name: str | None = None,
    base_url: str | None = None,
    secret: str = SECRET,
    auth: dict[str, Any] | None = None,
    channel: str = "email",
    **options: Any,
) -> Connector:
    now = utcnow()
    connector = Connector(
        id=uuid.uuid4(),
        name=name or f"{kind}-{uuid.uuid4().hex[:8]}",
        kind=kind,
        base_url=base_url or BASE_URLS[kind],
        webhook_secret=secret,
        auth=auth or {},
        channel=channel,
        options=ConnectorOptions(**options).model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(connector)
    # Committed (a savepoint under the rolled-back test session): a delivery that fails rolls
    # its request's transaction back, as in production, and must not take the connector along.
    await session.commit()
    return connector


def jira_headers(body: bytes, *, secret: str = SECRET, delivery: str | None = None) -> dict:
    headers = {"content-type": "application/json", "x-hub-signature": hub_signature(secret, body)}
    if delivery:
        headers["x-atlassian-webhook-identifier"] = delivery
    return headers


def bearer(secret: str = SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": f"Bearer {secret}"}


def std_headers(
    body: bytes, *, now: datetime | None = None, secret: str = SECRET, msg_id: str | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = int((now or utcnow()).timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(secret, msg_id, stamp, body),
    }


def record_body(**fields: Any) -> bytes:
    """A raw (display_value=false) incident record, overridable field by field."""
    base = json.loads(own_fixture("servicenow", "incident_resolved_display_false.json"))
    base.update(fields)
    return json.dumps(base).encode()
