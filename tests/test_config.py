"""Settings: env prefix, nested groups, and the production guard on the secret key."""

import pytest
from pydantic import ValidationError

from app.config import DEV_SECRET, Settings


def test_nested_settings_come_from_double_underscore_variables(monkeypatch) -> None:
    monkeypatch.setenv("XPULSE_SMTP__HOST", "mail.example.com")
    monkeypatch.setenv("XPULSE_JOBS__LEASE_SECONDS", "300")
    monkeypatch.setenv("XPULSE_DATABASE_URL", "postgresql+asyncpg://u@db/x")
    settings = Settings(_env_file=None)
    assert settings.smtp.host == "mail.example.com"
    assert settings.jobs.lease_seconds == 300
    assert not settings.is_sqlite


def test_default_database_is_embedded_sqlite_under_var() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./var/xpulse.db"
    assert settings.is_sqlite


@pytest.mark.parametrize(
    "secret",
    [DEV_SECRET, "", "replace-with-output-of-openssl-rand-hex-32", "x" * 31, "Change-Me" * 8],
)
def test_production_refuses_a_placeholder_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="XPULSE_SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key=secret)
    assert (
        Settings(
            _env_file=None, env="production", secret_key="a" * 32, encryption_keys="e" * 32
        ).env
        == "production"
    )
    # Development keeps working with the built-in placeholder.
    assert Settings(_env_file=None, secret_key=secret).env == "development"


def test_production_refuses_the_example_passwords() -> None:
    good = {
        "_env_file": None,
        "env": "production",
        "secret_key": "k" * 40,
        "encryption_keys": "e" * 40,
    }
    with pytest.raises(ValidationError, match="XPULSE_SMTP__PASSWORD"):
        Settings(**good, smtp={"password": "change-me"})
    with pytest.raises(ValidationError, match="XPULSE_DATABASE_URL"):
        Settings(**good, database_url="postgresql+asyncpg://xpulse:change-me@db:5432/xpulse")
    assert Settings(
        **good, smtp={"password": "s3cret"}, database_url="postgresql+asyncpg://x:y@db/x"
    )
