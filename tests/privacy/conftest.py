"""Privacy test helpers: one person's full trail through XPulse, made by the real routes (a
signed webhook, their answer with a comment, their opt-out), and a dump of the database."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.connectors.models import Connector
from app.feedback import service as feedback_service
from app.jobs.models import Job, JobStatus
from tests.connectors.conftest import make_connector, std_headers
from tests.feedback.conftest import BROWSER_HEADERS

PRESSED = {**BROWSER_HEADERS, "sec-fetch-user": "?1", "sec-fetch-mode": "navigate"}


@dataclass
class Person:
    email: str  # as the ITSM sends it: mixed case
    name: str
    requester_id: str
    comment: str


ADA = Person(
    "Ada.Lovelace@Example.COM", "Ada Lovelace", "u-ada-1815", "The analytical engine ate my report"
)
BOB = Person("bob.babbage@example.com", "Bob Babbage", "u-bob-1791", "Quick and friendly service")


def resolved_body(
    person: Person, number: int, *, title: str = "Printer on floor 3", watcher: str | None = None
) -> bytes:
    now = utcnow()
    data: dict[str, Any] = {
        "id": f"T-{number}",
        "number": f"HD-{number}",
        "title": title,
        "url": f"https://helpdesk.example.com/t/{number}",
        "requester": {"id": person.requester_id, "email": person.email, "name": person.name},
        "assignee": "Alex",
        "group": "Service Desk",
        "service": "Printing",
        "opened_at": (now - timedelta(hours=3)).isoformat(),
        "resolved_at": (now - timedelta(hours=2)).isoformat(),
        "sla_met": True,
    }
    if watcher:
        data["watchers"] = [watcher]
    return json.dumps(
        {"type": "ticket.resolved", "timestamp": now.isoformat(), "data": data}
    ).encode()


async def deliver(client: httpx.AsyncClient, connector: Connector, body: bytes) -> dict:
    answer = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def token_of(links: dict[str, str]) -> str:
    return re.search(r"/f/([^?]+)", next(iter(links.values()))).group(1)  # type: ignore[union-attr]


async def answer(
    client: httpx.AsyncClient, session: AsyncSession, accepted: dict, person: Person, score: int
) -> str:
    """The person's answer with factors, lost time and a comment, pressed on the page."""
    request_id = uuid.UUID(accepted["feedback_request_id"])
    await feedback_service.mark_delivered(
        session, request_id=request_id, now=utcnow() - timedelta(hours=1)
    )
    await session.commit()
    token = token_of(accepted["links"])
    await client.get(f"/f/{token}", headers=BROWSER_HEADERS)
    factors = ["slow", "not_solved"] if score < 7 else ["fast"]
    form = {"score": str(score), "factors": factors, "lost_time": "1_2h", "comment": person.comment}
    posted = await client.post(f"/f/{token}", data=form, headers=PRESSED)
    assert posted.status_code == 303, posted.text
    return token


async def opt_out(client: httpx.AsyncClient, token: str) -> None:
    form = await client.get(f"/f/{token}/opt-out", headers=BROWSER_HEADERS)
    view = re.search(r'name="view" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    done = await client.post(
        f"/f/{token}/opt-out", data={"view": view, "signals": ""}, headers=PRESSED
    )
    assert "You will not receive feedback requests" in done.text


async def trail(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, *, opted_out: bool = True
) -> Connector:
    """Ada's and Bob's tickets, answers and (Ada's) opt-out, plus the other places Ada's name
    lands: a watcher on Bob's ticket, a dead job's error and a finished job's payload."""
    settings.feedback.scanner_min_action_ms = 0  # the test presses at once
    connector = await make_connector(session, kind="generic")
    await session.commit()
    ada = await deliver(client, connector, resolved_body(ADA, 1))
    bob_body = resolved_body(BOB, 2, title=f"Badge for {ADA.name}'s visitor", watcher=ADA.email)
    bob = await deliver(client, connector, bob_body)
    token = await answer(client, session, ada, ADA, 3)
    await answer(client, session, bob, BOB, 9)
    if opted_out:
        await opt_out(client, token)
    now = utcnow()
    session.add_all(
        [
            Job(
                name="feedback.send_email",
                payload={"request_id": str(uuid.uuid4())},
                status=JobStatus.dead,
                last_error=f"550 mailbox <{ADA.email}> unavailable",
                run_after=now,
            ),
            Job(
                name="connectors.post_comment",
                payload={"text": f"Thanks {ADA.name}: {ADA.comment}"},
                status=JobStatus.done,
                run_after=now,
            ),
        ]
    )
    await session.commit()
    return connector


TEXT_TYPES = ("text", "character varying", "json", "jsonb", "bytea", "character")


async def dump(session: AsyncSession) -> str:
    """Every text, JSON and binary value of every table, lower-cased, as one string."""
    columns = (
        await session.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = ANY(:types)"
            ),
            {"types": list(TEXT_TYPES)},
        )
    ).all()
    assert len({c.table_name for c in columns}) >= 10
    parts = []
    for table, column, data_type in columns:
        value = f'"{column}"::text' if data_type != "bytea" else f"encode(\"{column}\", 'escape')"
        rows = await session.execute(
            text(f'SELECT {value} FROM "{table}" WHERE "{column}" IS NOT NULL')
        )
        parts.extend(r[0] for r in rows)
    return "\n".join(parts).lower()
