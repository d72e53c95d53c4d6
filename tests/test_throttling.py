"""Failed API keys and dashboard logins are throttled per client address (docs/operations.md),
in-process through ASGI and through a real uvicorn server behind a trusted and an untrusted
proxy (the forwarded address is believed from the trusted one only)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.auth.throttle import FailureThrottle
from app.clock import utcnow
from app.logs import JsonFormatter
from app.main import create_app
from tests.conftest import LiveServer, make_settings

LIMIT = 5  # the default of XPULSE_AUTH__MAX_FAILURES_PER_MINUTE
WRONG = "xp_000000000000_not-the-right-secret-at-all"
KEYS = "/api/v1/api-keys"


class SecurityEvents(logging.Handler):
    """The `xpulse.security` records, as the JSON lines the service would write."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def events() -> Iterator[SecurityEvents]:
    handler = SecurityEvents()
    logger = logging.getLogger("xpulse.security")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- the counting itself ----------------------------------------------------------------


def test_a_lockout_lasts_until_the_oldest_counted_failure_is_a_minute_old() -> None:
    throttle = FailureThrottle()
    for second in range(5):
        assert throttle.retry_after("198.51.100.1", 5, at=100.0 + second) is None
        throttle.fail("198.51.100.1", at=100.0 + second)
    assert throttle.retry_after("198.51.100.1", 5, at=104.5) == 56
    assert throttle.retry_after("198.51.100.2", 5, at=104.5) is None  # per address
    assert throttle.retry_after("198.51.100.1", 5, at=159.5) == 1
    assert throttle.retry_after("198.51.100.1", 5, at=160.0) is None  # the first one aged out
    assert throttle.retry_after("198.51.100.1", 0, at=104.5) is None  # 0 = off


# --- in-process -------------------------------------------------------------------------


async def test_wrong_api_keys_lock_the_address_out_even_for_the_right_key(
    client: httpx.AsyncClient, admin_headers: dict[str, str], events: SecurityEvents
) -> None:
    assert (await client.get(KEYS, headers=admin_headers)).status_code == 200
    for _ in range(LIMIT):
        assert (await client.get(KEYS, headers=bearer(WRONG))).status_code == 401
    refused = await client.get(KEYS, headers=admin_headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    failed = [e for e in events.lines if e["event"] == "auth_failed"]
    assert len(failed) == LIMIT
    assert all(e["path"] == KEYS and e["client_address"] == "127.0.0.1" for e in failed)
    assert any(e["event"] == "auth_throttled" for e in events.lines)
    logged = json.dumps(events.lines)
    assert "not-the-right-secret" not in logged
    assert admin_headers["Authorization"].split()[1] not in logged


async def test_requests_without_a_key_are_not_counted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for _ in range(LIMIT * 2):
        assert (await client.get(KEYS)).status_code == 401
    assert (await client.get(KEYS, headers=admin_headers)).status_code == 200


async def test_wrong_dashboard_logins_lock_the_address_out(
    client: httpx.AsyncClient, read_headers: dict[str, str], events: SecurityEvents
) -> None:
    right = read_headers["Authorization"].split()[1]
    for _ in range(LIMIT):
        wrong = await client.post("/dashboard/login", data={"key": WRONG})
        assert wrong.status_code == 401
    refused = await client.post("/dashboard/login", data={"key": right})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "Too many failed sign-ins" in refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "set-cookie" not in refused.headers
    failed = [e for e in events.lines if e["event"] == "auth_failed"]
    assert [e["path"] for e in failed] == ["/dashboard/login"] * LIMIT
    assert WRONG not in json.dumps(events.lines) and right not in json.dumps(events.lines)
    # The API shares the count: the same address is locked out there too.
    assert (await client.get(KEYS, headers=read_headers)).status_code == 429


# --- a real server behind a proxy -------------------------------------------------------


@pytest.fixture
async def live_key(committed: AsyncEngine) -> str:
    async with AsyncSession(committed) as session:
        _, plain = await auth_service.create_key(
            session, name="throttle", scope=Scope.admin, now=utcnow()
        )
        await session.commit()
    return plain


def serve(pg_url: str, forwarded_allow_ips: str) -> LiveServer:
    """The real app on loopback, believing X-Forwarded-For from `forwarded_allow_ips` only
    (what `xpulse serve` passes uvicorn)."""
    return LiveServer(
        lambda url: create_app(make_settings(pg_url, public_url=url), start_ticker_=False),
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def attempt(http: httpx.Client, how: str, key: str, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    if how == "api":
        return http.get(KEYS, headers={**headers, **bearer(key)}).status_code
    response = http.post("/dashboard/login", data={"key": key}, headers=headers)
    return response.status_code


RIGHT = {"api": 200, "dashboard": 303}
WRONG_STATUS = {"api": 401, "dashboard": 401}


@pytest.mark.parametrize("how", ["api", "dashboard"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled_not_the_proxy(
    pg_url: str, live_key: str, events: SecurityEvents, how: str
) -> None:
    with serve(pg_url, "127.0.0.1") as srv, httpx.Client(base_url=srv.url) as http:
        for _ in range(LIMIT):
            assert attempt(http, how, WRONG, "203.0.113.7") == WRONG_STATUS[how]
        assert attempt(http, how, live_key, "203.0.113.7") == 429
        # Other clients behind the same proxy, and the proxy itself, are not locked out.
        assert attempt(http, how, live_key, "203.0.113.8") == RIGHT[how]
        assert attempt(http, how, live_key, None) == RIGHT[how]
    failed = [e for e in events.lines if e["event"] == "auth_failed"]
    assert {e["client_address"] for e in failed} == {"203.0.113.7"}


@pytest.mark.parametrize("how", ["api", "dashboard"])
def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(
    pg_url: str, live_key: str, events: SecurityEvents, how: str
) -> None:
    # Only 192.0.2.1 is a trusted proxy; this client (127.0.0.1) forges a new address each time.
    with serve(pg_url, "192.0.2.1") as srv, httpx.Client(base_url=srv.url) as http:
        for n in range(LIMIT):
            assert attempt(http, how, WRONG, f"203.0.113.{n + 10}") == WRONG_STATUS[how]
        assert attempt(http, how, live_key, "203.0.113.99") == 429
        assert attempt(http, how, live_key, None) == 429
    failed = [e for e in events.lines if e["event"] == "auth_failed"]
    assert len(failed) == LIMIT
    assert {e["client_address"] for e in failed} == {"127.0.0.1"}
