"""Sign-in fixtures: the OpenID Connect provider stand-in and an app configured for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.auth.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.conftest import make_settings

ADMINS = "XPulse.Admin"
VIEWERS = "XPulse.Viewer"


def oidc_settings(provider: Provider, **overrides: object) -> dict[str, object]:
    return {
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "provider_name": "Test IdP",
        "role_claim": "roles",
        "admin_values": ADMINS,
        "viewer_values": VIEWERS,
        **overrides,
    }


@pytest.fixture
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture
def settings(pg_url: str, provider: Provider) -> Settings:
    return make_settings(pg_url, oidc=oidc_settings(provider))


async def sign_in_with_provider(client: httpx.AsyncClient) -> httpx.Response:
    """The browser's round trip: XPulse → the provider's authorize endpoint → the callback."""
    start = await client.get("/dashboard/oidc/login")
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as browser_at_provider:
        at_provider = await browser_at_provider.get(start.headers["location"])
    assert at_provider.status_code == 302
    return await client.get(at_provider.headers["location"])
