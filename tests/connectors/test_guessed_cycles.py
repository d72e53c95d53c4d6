"""Deliveries with no resolution time get a guessed cycle key from the delivery itself, never
a fixed `event:None`: a reopened and re-resolved ticket is surveyed again."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import TicketEvent
from app.connectors.registry import KINDS
from app.feedback.models import FeedbackRequest
from tests.connectors.conftest import bearer, config, make_connector, own_fixture, std_headers


def automation(category: str = "done", **fields: Any) -> bytes:
    """The Automation fixture without resolutiondate or statuscategorychangedate."""
    issue = json.loads(own_fixture("jira", "automation_issue_done.json"))
    for name in ("resolutiondate", "statuscategorychangedate", "updated"):
        issue["fields"].pop(name, None)
    issue["fields"]["status"]["statusCategory"]["key"] = category
    issue["fields"].update(fields)
    return json.dumps(issue).encode()


def test_jira_guesses_from_updated_then_from_the_body() -> None:
    kind, connector = KINDS["jira"], config("jira")
    dated = kind.parse(automation(updated="2026-11-21T17:04:12.000+0100"), connector)
    assert isinstance(dated, TicketEvent) and dated.cycle_is_guess
    assert dated.cycle == "updated:2026-11-21T16:04:12+00:00"
    bare = kind.parse(automation(), connector)
    assert isinstance(bare, TicketEvent) and bare.cycle_is_guess
    assert bare.cycle.startswith("body:") and "None" not in bare.cycle


def test_generic_guesses_from_the_body_without_a_timestamp() -> None:
    event = json.loads(own_fixture("generic", "resolved.json"))
    del event["timestamp"], event["data"]["resolved_at"]
    parsed = KINDS["generic"].parse(json.dumps(event).encode(), config("generic"))
    assert isinstance(parsed, TicketEvent) and parsed.cycle_is_guess
    assert parsed.cycle.startswith("event:body:")


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(FeedbackRequest)) or 0


async def test_jira_automation_without_times_is_surveyed_again_after_a_reopen(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="jira")

    async def send(body: bytes) -> httpx.Response:
        return await client.post(f"/webhooks/{connector.name}", content=body, headers=bearer())

    assert (await send(automation(summary="first"))).status_code == 202
    assert (await send(automation(summary="first, closed"))).status_code == 202  # same cycle
    assert await count(session) == 1
    assert (await send(automation("indeterminate"))).status_code == 200  # reopened
    assert (await send(automation(summary="second"))).status_code == 202
    assert await count(session) == 2


async def test_generic_without_times_is_surveyed_again_after_a_reopen(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="generic")
    event = json.loads(own_fixture("generic", "resolved.json"))
    del event["timestamp"], event["data"]["resolved_at"]

    async def send(type_: str, title: str) -> httpx.Response:
        body = json.dumps({**event, "type": type_, "data": {**event["data"], "title": title}})
        raw = body.encode()
        return await client.post(
            f"/webhooks/{connector.name}", content=raw, headers=std_headers(raw)
        )

    assert (await send("ticket.resolved", "first")).status_code == 202
    assert (await send("ticket.reopened", "first")).status_code == 200
    assert (await send("ticket.resolved", "second")).status_code == 202
    assert await count(session) == 2
