"""The development outbox: with no SMTP server configured, feedback e-mails are written to
`XPULSE_SMTP__OUTBOX_DIR` instead of sent, and `/dev/outbox` shows them (list, rendered message,
clickable links), so the whole loop works right after `make run`. Production never uses it."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.config import Settings
from app.errors import NotFound

router = APIRouter(prefix="/dev/outbox", include_in_schema=False)
NAME = re.compile(r"^[0-9TZ-]+-[0-9a-f]{32}\.eml$")  # only files the outbox wrote itself
# The mail's own HTML uses inline styles; nothing else may load or run.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; base-uri 'none'"


def enabled(settings: Settings) -> bool:
    """Only in development, and only while no SMTP server is configured."""
    return settings.env == "development" and not settings.smtp.host


def folder(settings: Settings) -> Path:
    return Path(settings.smtp.outbox_dir)


def save(message: EmailMessage, settings: Settings, *, now: datetime | None = None) -> Path:
    """Write the message as an .eml file; its name sorts by time."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder(settings) / f"{stamp}-{uuid.uuid4().hex}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(message.as_bytes(policy=policy.SMTP))
    return path


def _messages(settings: Settings) -> list[tuple[str, EmailMessage]]:
    base = folder(settings)
    if not base.is_dir():
        return []
    names = sorted((p.name for p in base.iterdir() if NAME.match(p.name)), reverse=True)
    parser = BytesParser(policy=policy.default)
    return [(n, parser.parsebytes((base / n).read_bytes())) for n in names]  # type: ignore[misc]


def _load(settings: Settings, name: str) -> EmailMessage:
    path = folder(settings) / name
    if not enabled(settings) or not NAME.match(name) or not path.is_file():
        raise NotFound("No such message in the development outbox")
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())  # type: ignore[return-value]


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:15px system-ui,sans-serif;margin:1.5rem;max-width:60rem}"
        "td,th{text-align:left;padding:.3rem .8rem .3rem 0}iframe{width:100%;height:70vh;"
        "border:1px solid #ccc}</style>"
        f"<h1>{html.escape(title)}</h1>{body}</html>"
    )
    return HTMLResponse(document, headers={"Content-Security-Policy": PAGE_CSP})


@router.get("")
async def list_messages(request: Request) -> HTMLResponse:
    """Every message of the outbox, newest first."""
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        raise NotFound("The development outbox is off (an SMTP server is configured)")
    rows = "".join(
        f"<tr><td>{html.escape(str(m['Date'] or ''))}</td><td>{html.escape(str(m['To']))}</td>"
        f'<td><a href="/dev/outbox/{name}">{html.escape(str(m["Subject"]))}</a></td></tr>'
        for name, m in _messages(settings)
    )
    body = (
        "<p>Development only: XPulse writes feedback e-mails here because no SMTP server is "
        "configured (<code>XPULSE_SMTP__HOST</code>).</p>"
        + (
            f"<table><tr><th>Date</th><th>To</th><th>Subject</th></tr>{rows}</table>"
            if rows
            else "<p>No messages yet.</p>"
        )
    )
    return _page("Outbox", body)


@router.get("/{name}")
async def show_message(request: Request, name: str) -> HTMLResponse:
    """One message: its headers and its HTML part in a frame (the links work)."""
    message = _load(request.app.state.settings, name)
    headers = "".join(
        f"<tr><th>{h}</th><td>{html.escape(str(message[h] or ''))}</td></tr>"
        for h in ("From", "To", "Subject", "Date")
    )
    body = (
        f'<p><a href="/dev/outbox">All messages</a></p><table>{headers}</table>'
        f'<iframe title="message" src="/dev/outbox/{name}/html"></iframe>'
    )
    return _page(str(message["Subject"]), body)


@router.get("/{name}/html")
async def message_html(request: Request, name: str) -> HTMLResponse:
    """The message's HTML part as the requester's mail client would show it."""
    message = _load(request.app.state.settings, name)
    part = message.get_body(preferencelist=("html", "plain"))
    content = part.get_content() if part is not None else ""
    if part is not None and part.get_content_type() == "text/plain":
        content = f"<pre>{html.escape(content)}</pre>"
    # target=_top: a clicked link opens the feedback page in the window, not inside the frame.
    content = content.replace("<head>", '<head><base target="_top">', 1)
    return HTMLResponse(content, headers={"Content-Security-Policy": MAIL_CSP})
