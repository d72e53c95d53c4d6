"""Feedback test helpers: rows (connector, ticket, request), a loopback SMTP server, links."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors.models import Connector
from app.feedback import service
from app.feedback.models import FeedbackRequest, Response
from app.jobs.models import Job
from app.tickets.models import Ticket

# A desktop browser's user agent: the Chromium tests present themselves as a person would.
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BROWSER_HEADERS = {
    "user-agent": DESKTOP_UA,
    "accept-language": "en-GB,en;q=0.9",
    "sec-fetch-site": "same-origin",
    "origin": "http://testserver",
}


async def stored(session: AsyncSession, request: Any) -> FeedbackRequest:
    """The stored row of a request create_request answered with."""
    found = await session.get(FeedbackRequest, request.id, populate_existing=True)
    assert found is not None
    return found


async def make_connector(session: AsyncSession, **overrides: Any) -> Connector:
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": f"generic-{uuid.uuid4().hex[:8]}",
        "kind": "generic",
        "base_url": "https://helpdesk.example.com",
        "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "channel": "email",
        "options": {},
        "created_at": now,
        "updated_at": now,
    }
    connector = Connector(**{**values, **overrides})
    session.add(connector)
    await session.flush()
    return connector


async def make_ticket(session: AsyncSession, connector: Connector, **overrides: Any) -> Ticket:
    now = utcnow()
    n = uuid.uuid4().hex[:6]
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "connector_id": connector.id,
        "source": "generic",
        "external_id": f"T-{n}",
        "number": f"HD-{n}",
        "title": "Password reset",
        "requester_id": f"u-{n}",
        "requester_email": f"kim-{n}@example.com",
        "requester_name": "Kim Lee",
        "requester_locale": None,
        "resolved_at": now,
        "resolution_cycle": "c1",
        "created_at": now,
        "updated_at": now,
    }
    ticket = Ticket(**{**values, **overrides})
    session.add(ticket)
    await session.flush()
    return ticket


async def make_request(
    session: AsyncSession,
    settings: Settings,
    *,
    channel: str = "email",
    sampling_percent: int = 100,
    now: datetime | None = None,
    sent: bool = True,
    **ticket_fields: Any,
) -> tuple[FeedbackRequest, dict[str, str]]:
    """A request for a fresh ticket; `sent` marks it delivered (as the e-mail job would), an
    hour ago by default: sooner one-click answers are too soon to be a person's."""
    now = now or utcnow() - timedelta(hours=1)
    connector = await make_connector(session, channel=channel)
    ticket = await make_ticket(session, connector, **ticket_fields)
    outcome = await service.create_request(
        session,
        ticket=ticket,
        channel=channel,
        sampling_percent=sampling_percent,
        cycle="c1",
        settings=settings,
        now=now,
    )
    if sent and outcome.request.status == "pending":
        await service.mark_delivered(session, request_id=outcome.request.id, now=now)
    # Commit (a savepoint under the rolled-back test session) so that a request that fails
    # and rolls back keeps the rows the test made.
    await session.commit()
    outcome.request = await stored(session, outcome.request)
    return outcome.request, outcome.links


def path_of(url: str) -> str:
    """The path and query of a one-click link (tests talk to the ASGI app directly)."""
    return re.sub(r"^https?://[^/]+", "", url)


async def response_of(session: AsyncSession, request_id: uuid.UUID) -> Response | None:
    stmt = select(Response).where(Response.request_id == request_id)
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def jobs_named(session: AsyncSession, name: str) -> list[Job]:
    return list((await session.scalars(select(Job).where(Job.name == name))).all())


def ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


# --- a real SMTP server on loopback ------------------------------------------------------


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds to hold each DATA command (widens race windows in tests)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def settings(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "timeout_seconds": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


def html_links(message: EmailMessage) -> list[str]:
    """Every href of the HTML part, in order (what a scanner fetches)."""
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)]


def score_links(message: EmailMessage) -> dict[str, str]:
    return {re.search(r"[?&]s=(\d+)", u).group(1): u for u in html_links(message) if "?s=" in u}  # type: ignore[union-attr]
