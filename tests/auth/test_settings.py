"""The sign-in settings refuse what would leave nobody able to sign in, or sign-in unsafe in
production."""

from __future__ import annotations

import pytest

from app.config import Settings

PRODUCTION = {
    "env": "production",
    "secret_key": "k" * 40,
    "encryption_keys": "e" * 40,
    "database_url": "postgresql+asyncpg://xpulse:real-password@db/xpulse",
}
OIDC = {"issuer": "https://login.example.com", "client_id": "xpulse", "client_secret": "s" * 40}


def test_key_login_off_needs_single_sign_on() -> None:
    with pytest.raises(ValueError, match="nobody can sign in"):
        Settings(_env_file=None, oidc={"key_login": False})
    assert not Settings(_env_file=None, oidc={**OIDC, "key_login": False}).oidc.key_login


@pytest.mark.parametrize(
    ("oidc", "message"),
    [
        ({**OIDC, "issuer": "http://login.example.com"}, "https"),
        ({**OIDC, "client_secret": "change-me"}, "placeholder"),
    ],
)
def test_production_refuses_an_unsafe_provider(oidc: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, **PRODUCTION, oidc=oidc)


def test_production_takes_a_real_provider_and_lists_its_values() -> None:
    settings = Settings(
        _env_file=None, **PRODUCTION, oidc={**OIDC, "admin_values": " A , B,", "viewer_values": ""}
    )
    assert settings.oidc.enabled and settings.oidc.admin_list == ["A", "B"]
    assert settings.oidc.viewer_list == []
