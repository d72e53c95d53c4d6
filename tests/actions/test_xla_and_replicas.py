"""XLA rules fire once per period and status; the answer pass runs on one replica at a time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.actions import alerts
from app.actions.jobs import evaluate
from app.actions.xla_alerts import check
from app.clock import utcnow
from tests.actions.conftest import ChatStandIn, Env
from tests.scoring.builders import Case, add_case, make_connector


async def test_a_breached_xla_posts_once_per_period_and_status(env: Env, chat: ChatStandIn) -> None:
    xla = await env.client.post(
        "/api/v1/xlas",
        json={
            "name": "Desk happiness",
            "scope": "group",
            "scope_value": "Service Desk",
            "period": "week",
            "min_happiness": 50,
        },
        headers=env.admin,
    )
    assert xla.status_code == 201, xla.text
    rule = await env.client.post(
        "/api/v1/alert-rules",
        json={
            "name": "Desk XLA",
            "condition": "xla_breached",
            "xla_id": xla.json()["id"],
            "actions": {"chat": [{"url": f"{chat.url}/hook", "format": "slack"}]},
        },
        headers=env.admin,
    )
    assert rule.status_code == 201, rule.text
    resolved = (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    async with env.sessionmaker() as session:
        connector = await make_connector(session)
        for n, score in enumerate([2, 3, 4, 5, 1, 0, 6, 9, 10, 3, 2]):
            await add_case(session, connector, Case(resolved, group="Service Desk", score=score), n)
        await session.commit()

    for minutes in (0, 0, 2):  # the same minute on two replicas, then a minute later
        async with env.sessionmaker() as session:
            await check(session, env.settings, utcnow() + timedelta(minutes=minutes))
            await session.commit()
        await env.worker().drain()
    (post,) = chat.posts("/hook")
    assert post["text"] == "XPulse: XLA Desk happiness is breached"
    assert "happiness" in post["blocks"][1]["text"]["text"]


async def test_a_replica_holding_the_watermark_makes_the_others_skip(env: Env) -> None:
    await evaluate(env.sessionmaker, env.settings)  # the first pass creates the row
    async with env.sessionmaker() as holder:
        assert await alerts.lock_watermark(holder, alerts.RESPONSES) is not None
        # Another replica's tick neither waits for the lock nor reads anything.
        assert await asyncio.wait_for(evaluate(env.sessionmaker, env.settings), timeout=5) == 0
        await holder.rollback()
