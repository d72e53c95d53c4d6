"""End-to-end plumbing: a generic connector, a signed resolved-ticket webhook to the live server,
and a worker that sends the mail to the loopback SMTP server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.config import Settings
from app.connectors.models import Connector
from app.connectors.signatures import standard_webhooks_signature
from app.db import make_sessionmaker
from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.http import make_http_client
from app.jobs.worker import Worker
from tests.conftest import make_settings
from tests.feedback.conftest import SmtpServer
from tests.support.browser import chromium

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def live_overrides(smtp: SmtpServer, **feedback: Any) -> dict[str, Any]:
    return {"smtp": smtp.settings(), "feedback": feedback}


@dataclass
class Scenario:
    url: str
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    webhook: dict[str, Any]
    email: str

    async def request(self) -> FeedbackRequest:
        async with self.sessions() as s:
            return (await s.scalars(select(FeedbackRequest))).one()

    async def response(self) -> Response | None:
        async with self.sessions() as s:
            return await s.scalar(select(Response))

    async def factors(self, response_id: uuid.UUID) -> list[str]:
        async with self.sessions() as s:
            rows = await s.scalars(
                select(ResponseFactor.factor).where(ResponseFactor.response_id == response_id)
            )
            return sorted(rows.all())

    async def later(self, seconds: float = 3600, request_id: uuid.UUID | None = None) -> None:
        """Time passes: move sending, fetches and answers back instead of sleeping."""
        await travel(self.sessions, seconds, request_id)

    async def drain(self) -> int:
        async with make_http_client(self.settings) as http:
            return await Worker(self.sessions, http, self.settings).drain()


async def travel(
    sessions: async_sessionmaker[AsyncSession], seconds: float, request_id: uuid.UUID | None
) -> None:
    """Move one request's (or every request's) recorded instants `seconds` into the past."""
    shift = "(:s * interval '1 second')"
    mine = "" if request_id is None else " WHERE request_id = :r"
    statements = (
        f"UPDATE feedback_requests SET sent_at = sent_at - {shift}"
        + ("" if request_id is None else " WHERE id = :r"),
        f"UPDATE feedback_opens SET opened_at = opened_at - {shift}{mine}",
        f"UPDATE responses SET answered_at = answered_at - {shift}{mine}",
    )
    async with sessions() as s:
        for sql in statements:
            await s.execute(text(sql), {"s": seconds, "r": request_id})
        await s.commit()


# Playwright marks the pages it drives (navigator.webdriver); a person's browser never is, and
# careful scanners hide it too, so the tests hide it unless they replay a naive scanner.
HIDE_WEBDRIVER = "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false});"


@asynccontextmanager
async def browser(*, webdriver: bool = False, **options: Any) -> AsyncIterator[Any]:
    """A fresh Chromium context (tests/support/browser.py) as a person's browser."""
    async with chromium(**options) as context:
        if not webdriver:
            await context.add_init_script(HIDE_WEBDRIVER)
        yield context


def resolved_event(email: str, locale: str | None) -> bytes:
    n = uuid.uuid4().hex[:6]
    event = {
        "type": "ticket.resolved",
        "timestamp": utcnow().isoformat(),
        "data": {
            "id": f"T-{n}",
            "number": f"HD-{n}",
            "title": "Printer on floor 3 <jammed>",
            "requester": {"id": f"u-{n}", "email": email, "name": "Kim Lee", "locale": locale},
            "resolved_at": utcnow().isoformat(),
        },
    }
    return json.dumps(event).encode()


async def resolve_ticket(
    engine: AsyncEngine,
    pg_url: str,
    base_url: str,
    smtp: SmtpServer,
    *,
    locale: str | None = "de",
    **feedback: Any,
) -> Scenario:
    """Create a generic connector, POST a signed resolution to the live server, send the mail."""
    sessions = make_sessionmaker(engine)
    name = f"helpdesk-{uuid.uuid4().hex[:6]}"
    async with sessions() as s:
        now = utcnow()
        s.add(
            Connector(
                name=name,
                kind="generic",
                base_url="https://helpdesk.example.com",
                webhook_secret=SECRET,
                channel="email",
                options={},
                created_at=now,
                updated_at=now,
            )
        )
        await s.commit()
    email = f"kim-{uuid.uuid4().hex[:6]}@example.com"
    body = resolved_event(email, locale)
    msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(utcnow().timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(SECRET, msg_id, stamp, body),
    }
    async with httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.post(f"/webhooks/{name}", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        again = await client.post(f"/webhooks/{name}", content=body, headers=headers)
        assert again.status_code in (200, 202), again.text  # a retried delivery
    settings = make_settings(pg_url, public_url=base_url, **live_overrides(smtp, **feedback))
    scenario = Scenario(base_url, settings, sessions, answer.json(), email)
    await scenario.drain()
    return scenario


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
