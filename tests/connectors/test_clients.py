"""Outbound REST calls with respx: method, URL, auth, body, and how failures map to retries."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
import respx

from app.connectors import outbound
from app.connectors.base import ConnectorConfig, PermanentError, TransientError
from app.connectors.outbound import retry_after_seconds
from app.connectors.registry import KINDS
from app.connectors.signatures import check_standard_webhooks
from app.tickets.events import PostComment, TicketRef, WriteBack
from tests.connectors.conftest import SECRET, config

SN = "https://acme.service-now.com"


def write_back(**overrides: object) -> WriteBack:
    values = {
        "ticket": TicketRef(
            connector_id=uuid.uuid4(),
            ticket_id=uuid.uuid4(),
            external_id="abc123",
            number="INC0000060",
            table="incident",
        ),
        "request_id": uuid.uuid4(),
        "response_id": uuid.uuid4(),
        "response_updated_at": datetime(2026, 11, 23, tzinfo=UTC),
        "score": 3,
        "scale": "faces-5",
        "normalised": 50.0,
        "label": "😐",
        "lost_time": "15_30m",
        "lost_minutes": 25,
        "factors": ["slow"],
        "comment": "Took a while",
    }
    values.update(overrides)
    return WriteBack(**values)


def comment() -> PostComment:
    return PostComment(
        ticket=write_back().ticket, request_id=uuid.uuid4(), text="Rate us", links={"1": "u"}
    )


@respx.mock
async def test_servicenow_reads_the_ticket_then_patches_what_it_lacks() -> None:
    record = respx.get(f"{SN}/api/now/table/incident/abc123").respond(
        200, json={"result": {"u_experience_score": ""}}
    )
    journal = respx.get(f"{SN}/api/now/table/sys_journal_field").respond(200, json={"result": []})
    route = respx.patch(f"{SN}/api/now/table/incident/abc123").respond(200, json={"result": {}})
    result = write_back()
    async with httpx.AsyncClient() as http:
        await KINDS["servicenow"].write_back(http, config("servicenow"), result)
    assert record.calls.last.request.url.params["sysparm_fields"] == "u_experience_score"
    query = journal.calls.last.request.url.params["sysparm_query"]
    assert query == f"element_id=abc123^element=work_notes^valueLIKE{result.version_ref}"
    request = route.calls.last.request
    assert request.url.params["sysparm_fields"] == "sys_id,number"
    assert request.headers["authorization"] == "Basic eHB1bHNlOnB3"  # xpulse:pw
    assert json.loads(request.content) == {
        "u_experience_score": "3",
        "work_notes": "XPulse feedback: 😐 3/5\n"
        "Factors: Service was slow\n"
        "Lost time: 15–30 minutes\n"
        'Comment: "Took a while"\n'
        f"XPulse ref {result.version_ref}",
    }


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "7"}, TransientError, 7.0),
        (503, {}, TransientError, None),
        (408, {}, TransientError, None),
        (400, {}, PermanentError, None),
        (403, {}, PermanentError, None),
    ],
)
@respx.mock
async def test_status_codes_decide_retries(status, headers, error, retry_after) -> None:
    respx.route(host="acme.service-now.com").respond(status, headers=headers)
    async with httpx.AsyncClient() as http:
        with pytest.raises(error) as caught:
            await KINDS["servicenow"].write_back(http, config("servicenow"), write_back())
    assert f"HTTP {status}" in str(caught.value)
    if error is TransientError:
        assert caught.value.retry_after == retry_after


@respx.mock
async def test_timeouts_are_transient() -> None:
    respx.route(host="acme.service-now.com").mock(side_effect=httpx.ConnectTimeout("slow"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(TransientError, match="timeout"):
            await KINDS["servicenow"].write_back(http, config("servicenow"), write_back())


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("garbage", now) is None


@pytest.fixture(autouse=True)
def no_cached_tokens():
    outbound._tokens.clear()
    yield
    outbound._tokens.clear()


def oauth(connector: ConnectorConfig, secret: str = "s") -> ConnectorConfig:
    auth = {"type": "oauth_client_credentials", "client_id": "c", "client_secret": secret}
    return replace(connector, auth=auth)


def token_route(base: str, *, expires_in: int | None = 1800) -> respx.Route:
    """Token endpoint handing out tok-1, tok-2, … in turn."""
    issued = iter(f"tok-{n}" for n in range(1, 100))

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"access_token": next(issued)}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return httpx.Response(200, json=body)

    return respx.post(f"{base}/oauth_token.do").mock(side_effect=answer)


@respx.mock
async def test_oauth_client_credentials_token_then_bearer() -> None:
    token = token_route(SN, expires_in=None)
    patch = respx.patch(f"{SN}/api/now/table/incident/abc123").respond(200, json={})
    connector = oauth(config("servicenow"))
    async with httpx.AsyncClient() as http:
        await KINDS["servicenow"].post_comment(http, connector, comment())
        await KINDS["servicenow"].post_comment(http, connector, comment())
    assert b"grant_type=client_credentials" in token.calls.last.request.content
    assert patch.calls.last.request.headers["authorization"] == "Bearer tok-2"
    assert token.call_count == 2  # no `expires_in`: nothing to know its lifetime by, no reuse


@respx.mock
async def test_oauth_token_is_reused_until_shortly_before_it_expires(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(outbound, "_now", lambda: clock[0])
    token = token_route(SN)
    patch = respx.patch(f"{SN}/api/now/table/incident/abc123").respond(200, json={})
    connector = oauth(config("servicenow"))
    sent = []
    async with httpx.AsyncClient() as http:
        for advance in (0, 1000, 739, 2):  # expires at 1800 s, reused until 60 s before
            clock[0] += advance
            await KINDS["servicenow"].post_comment(http, connector, comment())
            sent.append(patch.calls.last.request.headers["authorization"])
        # New credentials on the same connector: the old token is never sent with them.
        await KINDS["servicenow"].post_comment(http, oauth(connector, "rotated"), comment())
        sent.append(patch.calls.last.request.headers["authorization"])
    assert sent == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-3"]
    assert token.call_count == 3


@respx.mock
async def test_concurrent_calls_share_one_token_fetch() -> None:
    token = token_route(SN)
    respx.patch(f"{SN}/api/now/table/incident/abc123").respond(200, json={})
    connector = oauth(config("servicenow"))
    async with httpx.AsyncClient() as http:
        kind = KINDS["servicenow"]
        await asyncio.gather(*(kind.post_comment(http, connector, comment()) for _ in range(5)))
    assert token.call_count == 1


def refusing(revoked: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        refused = request.headers.get("authorization") == revoked
        return httpx.Response(401 if refused else 200, json={})

    return answer


@respx.mock
async def test_a_refused_cached_token_is_replaced_once() -> None:
    token_route(SN)
    patch = respx.patch(f"{SN}/api/now/table/incident/abc123").mock(
        side_effect=refusing("Bearer tok-1")
    )
    connector = oauth(config("servicenow"))
    async with httpx.AsyncClient() as http:
        await KINDS["servicenow"].post_comment(http, connector, comment())
    sent = [c.request.headers["authorization"] for c in patch.calls]
    assert sent == ["Bearer tok-1", "Bearer tok-2"]


@respx.mock
async def test_the_generic_callback_replaces_a_refused_token_too() -> None:
    base = "https://helpdesk.example.com"
    token_route(base)
    callback = respx.post("https://hooks.example.com/xpulse").mock(
        side_effect=refusing("Bearer tok-1")
    )
    connector = oauth(config("generic", callback_url="https://hooks.example.com/xpulse"))
    async with httpx.AsyncClient() as http:
        await KINDS["generic"].write_back(http, connector, write_back())
    sent = [c.request.headers["authorization"] for c in callback.calls]
    assert sent == ["Bearer tok-1", "Bearer tok-2"]


@respx.mock
async def test_a_refused_password_is_not_retried() -> None:
    patch = respx.patch(f"{SN}/api/now/table/incident/abc123").respond(401, json={})
    async with httpx.AsyncClient() as http:
        with pytest.raises(PermanentError, match="HTTP 401"):
            await KINDS["servicenow"].post_comment(http, config("servicenow"), comment())
    assert patch.call_count == 1


@respx.mock
async def test_jira_platform_comment_without_property() -> None:
    base = "https://acme.atlassian.net"
    listing = respx.get(f"{base}/rest/api/2/issue/abc123/comment").respond(
        200, json={"startAt": 0, "maxResults": 100, "total": 0, "comments": []}
    )
    posted = respx.post(f"{base}/rest/api/2/issue/abc123/comment").respond(201, json={})
    connector = config("jira", property_key=None, comment="platform")
    async with httpx.AsyncClient() as http:
        await KINDS["jira"].write_back(http, connector, write_back())
    assert len(respx.calls) == 2
    assert listing.calls.last.request.url.params["orderBy"] == "-created"
    assert json.loads(posted.calls.last.request.content)["body"].startswith("XPulse feedback:")


@respx.mock
async def test_generic_callback_is_signed() -> None:
    route = respx.post("https://hooks.example.com/xpulse").respond(204)
    connector = config("generic", callback_url="https://hooks.example.com/xpulse")
    async with httpx.AsyncClient() as http:
        await KINDS["generic"].write_back(http, connector, write_back())
    request = route.calls.last.request
    headers = {k.lower(): v for k, v in request.headers.items()}
    check_standard_webhooks(headers, request.content, SECRET, datetime.now(UTC))
    sent = json.loads(request.content)
    assert sent["type"] == "feedback.score"
    assert sent["data"]["ticket"] == {"id": "abc123", "number": "INC0000060"}
    assert sent["data"]["score"] == 3


@pytest.mark.parametrize(
    ("kind", "route"),
    [
        ("servicenow", f"{SN}/api/now/table/sys_user/u1"),
        ("jira", "https://acme.atlassian.net/rest/api/2/user"),
    ],
)
@respx.mock
async def test_only_a_404_status_means_no_such_user(kind: str, route: str) -> None:
    """The status code decides, not the text: a 400 whose body quotes "HTTP 404" is an error."""
    ref = write_back().ticket
    respx.get(route).mock(
        side_effect=[
            httpx.Response(404, json={"error": "No Record found"}),
            httpx.Response(400, text="upstream proxy said: HTTP 404 Not Found"),
        ]
    )
    async with httpx.AsyncClient() as http:
        assert await KINDS[kind].lookup_contact(http, config(kind), ref, "u1") is None
        with pytest.raises(PermanentError) as caught:
            await KINDS[kind].lookup_contact(http, config(kind), ref, "u1")
    assert caught.value.status_code == 400
