"""OpenID Connect sign-in against the provider stand-in on loopback (a real HTTP server): the
code flow with PKCE, role mapping, and every way an answer is refused (state, nonce, signature,
audience, issuer, expiry, no role), with failed callbacks throttled like failed keys."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth import oidc
from app.auth.models import DashboardSession
from app.config import OidcSettings
from tests.auth.conftest import ADMINS, VIEWERS, sign_in_with_provider
from tests.auth.oidc_provider import CLIENT_ID, Provider

ALICE = {"sub": "alice-1", "name": "Alice Admin", "email": "alice@example.com", "roles": [ADMINS]}
VERA = {"sub": "vera-2", "name": "Vera Viewer", "email": "vera@example.com", "roles": [VIEWERS]}


async def sessions_in(session: AsyncSession) -> list[DashboardSession]:
    return list((await session.scalars(select(DashboardSession))).all())


async def test_the_sign_in_page_offers_the_provider(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard")
    assert 'href="/dashboard/oidc/login"' in page.text and "Sign in with Test IdP" in page.text
    assert 'action="/dashboard/login"' in page.text  # key login stays on by default


@pytest.mark.parametrize(("user", "role"), [(ALICE, "admin"), (VERA, "viewer")])
async def test_a_person_signs_in_with_the_role_their_claim_maps_to(
    client: httpx.AsyncClient, session: AsyncSession, provider: Provider, user, role
) -> None:
    provider.next_user = user
    start = await client.get("/dashboard/oidc/login")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert query["redirect_uri"] == "http://testserver/dashboard/oidc/callback"
    assert query["scope"] == "openid profile email" and query["nonce"] and query["state"]
    flow_cookie = start.headers["set-cookie"].lower()
    assert "samesite=lax" in flow_cookie and "path=/dashboard/oidc" in flow_cookie
    assert "httponly" in flow_cookie and query["state"].lower() not in flow_cookie

    async with httpx.AsyncClient() as at_provider:
        back = await at_provider.get(start.headers["location"])
    done = await client.get(back.headers["location"])
    assert done.status_code == 200, done.text
    assert 'http-equiv="refresh" content="0;url=/dashboard"' in done.text
    assert provider.token_errors == []  # the verifier matched the challenge
    (token_request,) = provider.token_requests
    assert token_request["code_verifier"] and "client_secret" not in token_request  # Basic

    page = await client.get("/dashboard")
    assert f"{user['name']} · {role}" in page.text
    assert ('id="export"' in page.text) is (role == "admin")
    (row,) = await sessions_in(session)
    assert (row.method, row.role, row.subject, row.key_prefix) == ("oidc", role, user["sub"], None)
    (event,) = (await session.scalars(select(AuditEvent))).all()
    assert (event.action, event.actor) == ("session.sign_in", f"user:{user['email']}")


async def test_no_role_is_a_friendly_403_and_no_session(
    client: httpx.AsyncClient, session: AsyncSession, provider: Provider
) -> None:
    provider.next_user = {"sub": "x-3", "name": "Xavier", "roles": ["Something.Else"]}
    done = await sign_in_with_provider(client)
    assert done.status_code == 403 and "no XPulse role" in done.text
    assert "xpulse_dashboard" not in done.cookies
    assert await sessions_in(session) == []


async def test_a_string_claim_and_groups_map_too(
    app, client: httpx.AsyncClient, provider: Provider
) -> None:
    oidc_settings = app.state.settings.oidc.model_copy(
        update={"role_claim": "groups", "viewer_values": "everyone, staff"}
    )
    app.state.settings = app.state.settings.model_copy(update={"oidc": oidc_settings})
    provider.next_user = {"sub": "g-1", "groups": "staff"}
    assert (await sign_in_with_provider(client)).status_code == 200
    assert "g-1 · viewer" in (await client.get("/dashboard")).text


TAMPERED = {
    "nonce": {"nonce": "not-the-nonce"},
    "aud": {"aud": "another-client"},
    "iss": {"iss": "http://evil.example"},
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "sub": {"sub": None},
}


@pytest.mark.parametrize("case", [*TAMPERED, "signature"])
async def test_a_bad_id_token_is_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    provider: Provider,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider.next_user = ALICE
    if case == "signature":
        provider.sign_with_other_key = True  # same kid, another key: a forged token
    else:
        provider.tamper = TAMPERED[case]
    done = await sign_in_with_provider(client)
    assert done.status_code == 400 and "could not be completed" in done.text
    assert "xpulse_dashboard" not in done.cookies
    assert await sessions_in(session) == []
    (refusal,) = [r for r in caplog.records if getattr(r, "event", "") == "oidc_failed"]
    assert refusal.reason.startswith("ID token refused")  # type: ignore[attr-defined]
    assert case.lower() in refusal.reason.lower()  # type: ignore[attr-defined]


async def test_a_wrong_state_is_refused_before_the_code_is_used(
    client: httpx.AsyncClient, session: AsyncSession, provider: Provider
) -> None:
    provider.next_user = ALICE
    start = await client.get("/dashboard/oidc/login")
    async with httpx.AsyncClient() as at_provider:
        back = await at_provider.get(start.headers["location"])
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    forged = await client.get(
        "/dashboard/oidc/callback", params={"code": code, "state": "attacker-state"}
    )
    assert forged.status_code == 400
    assert provider.token_requests == []  # the code was never exchanged
    assert await sessions_in(session) == []


async def test_a_callback_without_the_flow_cookie_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, provider: Provider
) -> None:
    provider.next_user = ALICE
    start = await client.get("/dashboard/oidc/login")
    async with httpx.AsyncClient() as at_provider:
        back = await at_provider.get(start.headers["location"])
    client.cookies.clear()  # another browser: a link that a victim was sent
    done = await client.get(back.headers["location"])
    assert done.status_code == 400 and await sessions_in(session) == []


async def test_a_cancelled_sign_in_says_so(client: httpx.AsyncClient) -> None:
    await client.get("/dashboard/oidc/login")
    done = await client.get(
        "/dashboard/oidc/callback", params={"error": "access_denied", "state": "x"}
    )
    assert done.status_code == 403 and "did not sign you in (access_denied)" in done.text


async def test_failed_callbacks_are_throttled_with_failed_keys(
    client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    for _ in range(5):  # the default XPULSE_AUTH__MAX_FAILURES_PER_MINUTE
        await client.get("/dashboard/oidc/login")
        bad = await client.get("/dashboard/oidc/callback", params={"code": "c", "state": "no"})
        assert bad.status_code == 400
    locked = await client.get("/dashboard/oidc/login")
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60
    key = read_headers["Authorization"].removeprefix("Bearer ")
    assert (await client.post("/dashboard/login", data={"key": key})).status_code == 429
    assert (await client.get("/api/v1/api-keys", headers=read_headers)).status_code == 429


async def test_a_provider_that_cannot_be_reached_is_a_page_not_a_crash(
    app, client: httpx.AsyncClient
) -> None:
    oidc_settings = app.state.settings.oidc.model_copy(update={"issuer": "http://127.0.0.1:9"})
    app.state.settings = app.state.settings.model_copy(update={"oidc": oidc_settings})
    page = await client.get("/dashboard/oidc/login")
    assert page.status_code == 502 and "cannot be reached" in page.text


def test_role_mapping() -> None:
    settings = OidcSettings(admin_values="A, B", viewer_values="V", role_claim="roles")
    assert oidc.role_for({"roles": ["V", "B"]}, settings) == "admin"
    assert oidc.role_for({"roles": "V"}, settings) == "viewer"
    assert oidc.role_for({"roles": ["a"]}, settings) is None  # values are case-sensitive
    assert oidc.role_for({}, settings) is None
    anyone = OidcSettings(viewer_values="*")
    assert oidc.role_for({"sub": "x"}, anyone) == "viewer"
