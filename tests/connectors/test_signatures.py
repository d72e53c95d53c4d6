"""Each signature scheme: valid accepted; wrong secret, tampered body, missing header and (generic)
stale timestamp rejected with 401 and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.connectors.base import SignatureError
from app.connectors.models import InboundEvent
from app.connectors.signatures import (
    check_bearer,
    check_hub_signature,
    check_standard_webhooks,
    standard_webhooks_signature,
)
from app.feedback.models import FeedbackRequest
from app.jobs.models import Job
from app.tickets.models import Ticket
from tests.connectors.conftest import (
    SECRET,
    bearer,
    jira_fixture,
    jira_headers,
    make_connector,
    own_fixture,
    std_headers,
)

VECTOR = {  # docs/itsm-contracts.md §3, from the Standard Webhooks spec
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "ts": 1614265330,
    "body": b'{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR["id"],
        "webhook-timestamp": str(VECTOR["ts"]),
        "webhook-signature": VECTOR["signature"],
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v}


AT_VECTOR = datetime.fromtimestamp(VECTOR["ts"], UTC)


def test_standard_webhooks_spec_vector() -> None:
    assert (
        standard_webhooks_signature(VECTOR["secret"], VECTOR["id"], VECTOR["ts"], VECTOR["body"])
        == VECTOR["signature"]
    )
    check_standard_webhooks(vector_headers(), VECTOR["body"], VECTOR["secret"], AT_VECTOR)
    rotated = vector_headers(webhook_signature="")
    rotated["webhook-signature"] = "v1,bm9wZQ== " + VECTOR["signature"]  # key rotation: any one
    check_standard_webhooks(rotated, VECTOR["body"], VECTOR["secret"], AT_VECTOR)


@pytest.mark.parametrize(
    ("headers", "body", "secret", "now", "message"),
    [
        (vector_headers(), b'{"test": 2432232315}', VECTOR["secret"], AT_VECTOR, "matches"),
        (vector_headers(), VECTOR["body"], "whsec_" + "A" * 32, AT_VECTOR, "matches"),
        (
            vector_headers(),
            VECTOR["body"],
            VECTOR["secret"],
            AT_VECTOR + timedelta(minutes=6),
            "5-minute",
        ),
        (
            vector_headers(),
            VECTOR["body"],
            VECTOR["secret"],
            AT_VECTOR - timedelta(minutes=6),
            "5-minute",
        ),
        ({"webhook-id": VECTOR["id"]}, VECTOR["body"], VECTOR["secret"], AT_VECTOR, "Missing"),
        (vector_headers(), VECTOR["body"], "", AT_VECTOR, "no webhook secret"),
    ],
    ids=["tampered", "wrong-secret", "stale", "future", "missing", "empty-secret"],
)
def test_standard_webhooks_rejects(headers, body, secret, now, message) -> None:
    with pytest.raises(SignatureError, match=message):
        check_standard_webhooks(headers, body, secret, now)


def test_hub_signature_and_bearer() -> None:
    body = b'{"webhookEvent": "jira:issue_updated"}'
    assert check_hub_signature(jira_headers(body), body, SECRET)
    assert not check_hub_signature(jira_headers(body), body + b" ", SECRET)
    assert not check_hub_signature(jira_headers(body, secret="other-secret-123456"), body, SECRET)
    sha1 = {"x-hub-signature": "sha1=" + jira_headers(body)["x-hub-signature"][7:]}
    assert not check_hub_signature(sha1, body, SECRET)  # unknown algorithm prefixes fail
    assert check_bearer(bearer(), SECRET)
    assert not check_bearer(bearer("x" * 40), SECRET)
    assert not check_bearer({"authorization": f"Basic {SECRET}"}, SECRET)
    with pytest.raises(SignatureError):
        check_bearer({"authorization": "Bearer "}, "")  # an empty secret accepts nothing


# --- over HTTP: 401 and nothing stored ------------------------------------------------------

JIRA_BODY = jira_fixture("cloud_resolved_hidden_email.json")
AUTOMATION_BODY = own_fixture("jira", "automation_issue_done.json")
SN_BODY = own_fixture("servicenow", "incident_resolved_display_false.json")
GENERIC_BODY = own_fixture("generic", "resolved.json")
OTHER = "a-different-secret-0123456789"

Case = tuple[str, bytes, Callable[[bytes], dict[str, str]], bytes | None, int]
CASES: dict[str, Case] = {
    # name: (kind, body signed, headers(body), body sent instead (tampering), status)
    "jira-valid": ("jira", JIRA_BODY, jira_headers, None, 202),
    "jira-wrong-secret": ("jira", JIRA_BODY, lambda b: jira_headers(b, secret=OTHER), None, 401),
    "jira-tampered": ("jira", JIRA_BODY, jira_headers, JIRA_BODY.replace(b"ITS-8", b"ITS-9"), 401),
    "jira-missing": ("jira", JIRA_BODY, lambda b: {"content-type": "application/json"}, None, 401),
    "jira-automation-token": ("jira", AUTOMATION_BODY, lambda b: bearer(), None, 202),
    "jira-automation-wrong": ("jira", AUTOMATION_BODY, lambda b: bearer(OTHER), None, 401),
    "servicenow-bearer": ("servicenow", SN_BODY, lambda b: bearer(), None, 202),
    "servicenow-wrong": ("servicenow", SN_BODY, lambda b: bearer(OTHER), None, 401),
    "servicenow-missing": ("servicenow", SN_BODY, lambda b: {}, None, 401),
    "servicenow-stdwh": ("servicenow", SN_BODY, std_headers, None, 202),
    "servicenow-stdwh-tampered": ("servicenow", SN_BODY, std_headers, SN_BODY + b" ", 401),
    "generic-valid": ("generic", GENERIC_BODY, std_headers, None, 202),
    "generic-wrong-secret": (
        "generic",
        GENERIC_BODY,
        lambda b: std_headers(b, secret="whsec_" + "B" * 32),
        None,
        401,
    ),
    "generic-tampered": (
        "generic",
        GENERIC_BODY,
        std_headers,
        GENERIC_BODY.replace(b"HD-1001", b"HD-1002"),
        401,
    ),
    "generic-missing": ("generic", GENERIC_BODY, lambda b: {"webhook-id": "msg_1"}, None, 401),
    "generic-stale": (
        "generic",
        GENERIC_BODY,
        lambda b: std_headers(b, now=utcnow() - timedelta(minutes=6)),
        None,
        401,
    ),
    "generic-bearer-is-not-enough": ("generic", GENERIC_BODY, lambda b: bearer(), None, 401),
}


async def count(session: AsyncSession, model: type) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("case", sorted(CASES))
async def test_webhook_authenticity(
    case: str, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    kind, body, headers, sent, status = CASES[case]
    connector = await make_connector(session, kind=kind)
    response = await client.post(
        f"/webhooks/{connector.name}", content=sent or body, headers=headers(body)
    )
    assert response.status_code == status, response.text
    stored = [await count(session, m) for m in (InboundEvent, Ticket, FeedbackRequest)]
    if status == 401:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/invalid-signature")
        assert stored == [0, 0, 0]
        assert await count(session, Job) == 0
    else:
        assert stored == [1, 1, 1]
        assert set(response.json()) == {"ticket_id", "feedback_request_id", "links"}


async def test_an_empty_secret_refuses_everything(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="servicenow", secret="")
    response = await client.post(f"/webhooks/{connector.name}", content=SN_BODY, headers=bearer(""))
    assert response.status_code == 401
    assert await count(session, InboundEvent) == 0
