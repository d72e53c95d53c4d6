"""Embedded mode: the one-click flow and the e-mail claim also work on SQLite."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from app.clock import utcnow
from app.db import create_engine, make_sessionmaker
from app.feedback import service
from app.feedback.delivery import deliver
from app.feedback.models import Response
from app.feedback.schemas import SendEmail
from app.http import make_http_client
from app.main import create_app
from tests.conftest import make_settings
from tests.feedback.conftest import BROWSER_HEADERS, SmtpServer, make_connector, make_ticket


async def test_one_click_and_send_once_on_sqlite(sqlite_url: str, smtp_server: SmtpServer) -> None:
    settings = make_settings(sqlite_url, smtp=smtp_server.settings())
    sent = utcnow() - timedelta(hours=1)  # a person answers later than a scanner at delivery
    engine = create_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as s:
            connector = await make_connector(s)
            ticket = await make_ticket(s, connector)
            outcome = await service.create_request(
                s,
                ticket=ticket,
                channel="email",
                sampling_percent=100,
                cycle="c1",
                settings=settings,
                now=sent,
            )
            await s.commit()
        payload = SendEmail(request_id=outcome.request.id)
        for _ in range(2):
            async with sessions() as s:
                await deliver(s, payload, settings=settings, now=sent, last_attempt=False)
                await s.commit()
        assert len(smtp_server.inbox.messages) == 1

        app = create_app(settings, start_ticker_=False)
        app.state.engine, app.state.sessionmaker = engine, sessions
        app.state.http = make_http_client(settings)
        link = outcome.links["10"]
        token = re.search(r"/f/([^?]+)", link).group(1)  # type: ignore[union-attr]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get(f"/f/{token}?s=10", headers=BROWSER_HEADERS)).status_code == 200
            answer = await c.post(
                f"/f/{token}",
                data={"score": "10", "factors": ["fast"], "lost_time": "none"},
                headers={**BROWSER_HEADERS, "accept": "application/json"},
            )
            assert answer.status_code == 200 and answer.json()["counted"], answer.text
        await app.state.http.aclose()
        async with sessions() as s:
            response = await s.scalar(
                select(Response).where(Response.request_id == outcome.request.id)
            )
            assert response is not None and response.score == 10 and not response.automated
    finally:
        await engine.dispose()
