"""Actions test helpers: the app on committed sessions, a chat-webhook stand-in, answers given
through the real feedback page, and the tick and workers run by hand."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.actions.jobs import evaluate
from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.config import Settings
from app.connectors.models import Connector
from app.db import make_sessionmaker
from app.feedback import service as feedback_service
from app.http import make_http_client
from app.jobs.worker import Worker
from app.main import create_app
from app.tickets.models import Ticket
from tests.conftest import make_settings
from tests.connectors.standins import NotFound, Reply, Seen, StandIn
from tests.feedback.conftest import BROWSER_HEADERS, SmtpServer, path_of, smtp_server  # noqa: F401

JSON = {**BROWSER_HEADERS, "accept": "application/json"}


class ChatStandIn(StandIn):
    """A chat service's incoming webhook: every POST is kept in `seen` and answered 200."""

    def route(self, seen: Seen) -> Reply:
        if seen.method != "POST":
            raise NotFound(f"no route {seen.method} {seen.path}")
        return Reply(200, "ok")

    def posts(self, path: str) -> list[Any]:
        return [s.json() for s in self.requests("POST", path)]


@pytest.fixture
def chat() -> Iterator[ChatStandIn]:
    with ChatStandIn() as stand_in:
        yield stand_in  # type: ignore[misc]


@pytest.fixture
def actions_settings(pg_url: str, smtp_server: SmtpServer) -> Settings:  # noqa: F811
    return make_settings(
        pg_url,
        smtp=smtp_server.settings(),
        actions={"settle_seconds": 0},
        jobs={"enabled": False, "backoff_base_seconds": 1, "backoff_max_seconds": 5},
    )


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    admin: dict[str, str]

    def worker(self, name: str | None = None) -> Worker:
        return Worker(self.sessionmaker, self.app.state.http, self.settings, name=name)

    async def tick(self) -> None:
        """One evaluation tick, then every due job run."""
        await evaluate(self.sessionmaker, self.settings)
        await self.worker().drain()


@pytest.fixture
async def env(committed: AsyncEngine, actions_settings: Settings) -> AsyncIterator[Env]:
    """The real app on committed sessions: what the tick and the workers read is committed."""
    application = create_app(actions_settings, start_ticker_=False)
    application.state.engine = committed
    application.state.sessionmaker = sm = make_sessionmaker(committed)
    application.state.http = make_http_client(actions_settings)
    async with sm() as session:
        _, plain = await auth_service.create_key(
            session, name="admin", scope=Scope.admin, now=utcnow()
        )
        await session.commit()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Env(application, client, sm, actions_settings, {"Authorization": f"Bearer {plain}"})
    await application.state.http.aclose()


async def add_connector(env: Env, **fields: Any) -> Connector:
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": f"{fields['kind']}-{uuid.uuid4().hex[:6]}",
        "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "auth": {"type": "basic", "username": "xpulse", "password": "pw"},
        "channel": "email",
        "options": {},
        "created_at": now,
        "updated_at": now,
    }
    connector = Connector(**{**values, **fields})
    async with env.sessionmaker() as session:
        session.add(connector)
        await session.commit()
    return connector


async def answer(
    env: Env,
    connector: Connector,
    *,
    score: int,
    external_id: str,
    number: str,
    service: str | None = None,
    group: str | None = None,
    **fields: Any,
) -> Ticket:
    """A resolved ticket whose requester answers on the real feedback page an hour after the
    mail was sent (`fields`: factors, lost_time, comment)."""
    sent = utcnow() - timedelta(hours=1)
    async with env.sessionmaker() as session:
        ticket = Ticket(
            connector_id=connector.id,
            source=connector.kind,
            external_id=external_id,
            number=number,
            title="VPN drops every hour",
            table="incident" if connector.kind == "servicenow" else "Incident",
            url=f"{connector.base_url}/browse/{number}",
            requester_email=f"{number}@example.com",
            service=service,
            assignment_group=group,
            resolved_at=sent,
            resolution_cycle="c1",
        )
        session.add(ticket)
        await session.flush()
        outcome = await feedback_service.create_request(
            session,
            ticket=ticket,
            channel="email",
            sampling_percent=100,
            cycle="c1",
            settings=env.settings,
            now=sent,
        )
        await feedback_service.mark_delivered(session, request_id=outcome.request.id, now=sent)
        await session.commit()
    link = outcome.links[str(score)]
    token = re.search(r"/f/([^?]+)", link).group(1)  # type: ignore[union-attr]
    assert (await env.client.get(path_of(link), headers=BROWSER_HEADERS)).status_code == 200
    saved = await env.client.post(f"/f/{token}", json={"score": score, **fields}, headers=JSON)
    assert saved.status_code == 200 and saved.json()["counted"] is True, saved.text
    return ticket
