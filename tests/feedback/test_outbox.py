"""The development outbox: on only in development without an SMTP server; lists and shows the
mails it kept; never in production."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.feedback import email, outbox
from app.main import create_app
from tests.conftest import make_settings


def mail(subject: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "XPulse <xpulse@localhost>"
    message["To"] = "you@example.com"
    message.set_content(f"Rate: {link}")
    message.add_alternative(
        f'<html><head></head><body><a href="{link}">9</a></body></html>', subtype="html"
    )
    return message


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    smtp = {"outbox_dir": str(tmp_path / "outbox"), **overrides.pop("smtp", {})}  # type: ignore[dict-item]
    return make_settings("sqlite+aiosqlite:///:memory:", smtp=smtp, **overrides)


@pytest.mark.parametrize(
    ("overrides", "on"),
    [
        ({}, True),
        ({"smtp": {"host": "mail.example.com"}}, False),
        ({"env": "production", "secret_key": "p" * 40, "encryption_keys": "e" * 40}, False),
    ],
)
def test_the_outbox_is_on_only_in_development_without_smtp(
    tmp_path: Path, overrides: dict, on: bool
) -> None:
    assert outbox.enabled(settings_for(tmp_path, **overrides)) is on


async def test_the_outbox_lists_and_shows_mails_with_working_links(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    saved = outbox.save(mail("[INC1] How did we do?", "http://127.0.0.1:8000/f/tok?s=9"), settings)
    app = create_app(settings, start_ticker_=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        listing = await c.get("/dev/outbox")
        assert listing.status_code == 200
        assert "[INC1] How did we do?" in listing.text and saved.name in listing.text
        shown = await c.get(f"/dev/outbox/{saved.name}")
        assert shown.status_code == 200 and "you@example.com" in shown.text
        body = await c.get(f"/dev/outbox/{saved.name}/html")
        assert 'href="http://127.0.0.1:8000/f/tok?s=9"' in body.text
        assert '<base target="_top">' in body.text  # a click opens the page, not in the frame
        assert "script-src" not in body.headers["content-security-policy"]  # nothing runs
        for bad in ("nope.eml", "..%2F..%2Fpyproject.toml", saved.name + "x"):
            assert (await c.get(f"/dev/outbox/{bad}")).status_code == 404, bad


@pytest.mark.parametrize(
    "overrides",
    [
        {"smtp": {"host": "mail.example.com"}},
        {"env": "production", "secret_key": "p" * 40, "encryption_keys": "e" * 40},
    ],
)
async def test_the_outbox_is_not_served_when_off(tmp_path: Path, overrides: dict) -> None:
    settings = settings_for(tmp_path, **overrides)
    saved = outbox.save(mail("secret", "http://x/f/t"), settings)
    app = create_app(settings, start_ticker_=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        assert (await c.get("/dev/outbox")).status_code == 404
        assert (await c.get(f"/dev/outbox/{saved.name}/html")).status_code == 404


async def test_without_a_server_production_mail_waits_and_retries() -> None:
    with pytest.raises(email.SendFailed) as failed:
        await email.send(mail("x", "http://x"), make_settings("sqlite://").smtp)
    assert failed.value.permanent is False and "XPULSE_SMTP__HOST" in str(failed.value)
