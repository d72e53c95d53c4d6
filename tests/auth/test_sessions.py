"""Dashboard sessions on the server: the cookie holds a random id and no part of the key; sign-out,
revocation, idle and absolute expiry send the browser back to sign-in; /api/v1/sessions lists
and revokes; viewers are refused the admin-only export; every change is audited."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.auth.models import DashboardSession, Scope
from app.clock import utcnow

SIGN_IN_FORM = 'action="/dashboard/login"'


def plain(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def key_sign_in(client: httpx.AsyncClient, key: str) -> str:
    response = await client.post("/dashboard/login", data={"key": key})
    assert response.status_code == 303, response.text
    return response.cookies["xpulse_dashboard"]


async def only_session(session: AsyncSession) -> DashboardSession:
    (row,) = (await session.scalars(select(DashboardSession))).all()
    return row


async def test_the_cookie_holds_a_random_id_and_no_part_of_the_key(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    key = plain(read_headers)
    response = await client.post("/dashboard/login", data={"key": key})
    header = response.headers["set-cookie"]
    value = response.cookies["xpulse_dashboard"]
    _, prefix, secret = key.split("_", 2)
    for part in (key, prefix, secret, secret[:12], secret[-12:]):
        assert part not in header
    assert len(value) >= 40
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/dashboard" in lowered
    assert "secure" not in lowered  # the public URL is http here
    row = await only_session(session)
    # Only the value's hash is stored: a database dump cannot be replayed as a cookie.
    assert row.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert value not in str(row.__dict__)
    assert (row.method, row.role, row.key_prefix) == ("api-key", "viewer", prefix)
    assert 'id="summary"' in (await client.get("/dashboard")).text


async def test_the_cookie_is_secure_when_the_public_url_is_https(
    app, client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"public_url": "https://x.example"})
    response = await client.post("/dashboard/login", data={"key": plain(read_headers)})
    assert "secure" in response.headers["set-cookie"].lower()


async def test_sign_out_revokes_the_session_on_the_server(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    value = await key_sign_in(client, plain(read_headers))
    out = await client.post("/dashboard/logout")
    assert out.status_code == 303
    assert (await only_session(session)).revoked_at is not None
    # The old value replayed (a copied cookie) no longer signs anyone in.
    client.cookies.set("xpulse_dashboard", value, path="/dashboard")
    assert SIGN_IN_FORM in (await client.get("/dashboard")).text


async def test_sessions_are_listed_and_revoked_by_an_admin(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    await key_sign_in(client, plain(read_headers))
    listed = await client.get("/api/v1/sessions", headers=admin_headers)
    assert listed.status_code == 200
    (item,) = listed.json()
    assert item["method"] == "api-key" and item["role"] == "viewer"
    assert item["display_name"] == "test-read" and item["subject"].startswith("key:")
    assert "token_hash" not in item and plain(read_headers) not in listed.text
    assert item["ends_at"] <= item["expires_at"]

    refused = await client.delete(f"/api/v1/sessions/{item['id']}", headers=read_headers)
    assert refused.status_code == 403
    revoked = await client.delete(f"/api/v1/sessions/{item['id']}", headers=admin_headers)
    assert revoked.status_code == 204
    assert SIGN_IN_FORM in (await client.get("/dashboard")).text
    assert (await client.get("/api/v1/sessions", headers=admin_headers)).json() == []
    again = await client.delete(f"/api/v1/sessions/{item['id']}", headers=admin_headers)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
    unknown = await client.delete(f"/api/v1/sessions/{uuid.uuid4()}", headers=admin_headers)
    assert unknown.status_code == 404
    assert (await client.get("/api/v1/sessions")).status_code == 401

    actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert actions == ["session.sign_in", "session.revoke"]


async def test_an_idle_session_ends(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    await key_sign_in(client, plain(read_headers))
    assert 'id="summary"' in (await client.get("/dashboard")).text
    # The default idle limit is 60 minutes: the session was last used 61 minutes ago.
    await session.execute(
        update(DashboardSession).values(last_seen_at=utcnow() - timedelta(minutes=61))
    )
    assert SIGN_IN_FORM in (await client.get("/dashboard")).text


async def test_a_used_session_still_ends_at_its_absolute_limit(
    client: httpx.AsyncClient, session: AsyncSession, read_headers: dict[str, str]
) -> None:
    await key_sign_in(client, plain(read_headers))
    row = await only_session(session)
    assert row.expires_at - row.created_at == timedelta(hours=12)
    await session.execute(
        update(DashboardSession).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert SIGN_IN_FORM in (await client.get("/dashboard")).text


async def test_a_viewer_is_refused_the_per_ticket_export_and_an_admin_gets_it(
    client: httpx.AsyncClient, read_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    export = "/dashboard/export/responses.csv"
    assert (await client.get(export)).status_code == 303  # not signed in: to sign-in
    await key_sign_in(client, plain(read_headers))
    page = await client.get("/dashboard")
    assert 'id="export"' not in page.text and "test-read · viewer" in page.text
    refused = await client.get(export)
    assert refused.status_code == 403 and "admins only" in refused.text
    await client.post("/dashboard/logout")

    await key_sign_in(client, plain(admin_headers))
    page = await client.get("/dashboard")
    assert 'id="export"' in page.text and "test-admin · admin" in page.text
    window = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
    csv = await client.get(export, params=window)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    # The same rows as the API's admin-only export.
    api = await client.get("/api/v1/exports/responses.csv", params=window, headers=admin_headers)
    assert api.status_code == 200 and csv.text == api.text and "," in csv.text.splitlines()[0]


async def test_key_and_session_changes_are_audited(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "robot", "scope": "read"}, headers=admin_headers
    )
    assert created.status_code == 201
    body = created.json()
    await key_sign_in(client, body["key"])
    await client.post("/dashboard/logout")
    deleted = await client.delete(f"/api/v1/api-keys/{body['id']}", headers=admin_headers)
    assert deleted.status_code == 204
    events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    admin_prefix = plain(admin_headers).split("_")[1]
    assert [(e.action, e.actor) for e in events] == [
        ("api_key.create", f"key:{admin_prefix}"),
        ("session.sign_in", f"key:{body['prefix']}"),
        ("session.sign_out", f"key:{body['prefix']}"),
        ("api_key.revoke", f"key:{admin_prefix}"),
    ]
    assert events[0].detail == {"name": "robot", "prefix": body["prefix"], "scope": "read"}
    assert body["key"] not in str([e.detail for e in events])


async def test_without_key_login_only_single_sign_on_is_offered(
    app, client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    oidc = app.state.settings.oidc.model_copy(update={"key_login": False})
    app.state.settings = app.state.settings.model_copy(update={"oidc": oidc})
    page = await client.get("/dashboard")
    assert "Sign in with Test IdP" in page.text and SIGN_IN_FORM not in page.text
    refused = await client.post("/dashboard/login", data={"key": plain(read_headers)})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers


async def test_a_session_made_with_a_key_ends_when_the_key_is_revoked(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key, value = await auth_service.create_key(session, name="t", scope=Scope.read, now=utcnow())
    await key_sign_in(client, value)
    await auth_service.revoke_key(session, key.id, now=utcnow())
    assert SIGN_IN_FORM in (await client.get("/dashboard")).text
