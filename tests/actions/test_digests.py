"""A weekly digest, enqueued by two replicas and claimed by two workers at once, is mailed
once; its figures are /api/v1/scores' for the same scope and period. Localised, previewed,
and withheld for a group below the minimum size."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import func, select

from app.actions import digests
from app.actions.jobs import enqueue_digests
from app.actions.models import DigestSend
from app.clock import utcnow
from app.feedback import i18n
from app.jobs.models import Job
from tests.actions.conftest import Env
from tests.feedback.conftest import SmtpServer
from tests.scoring.builders import Case, add_case, make_connector

GROUP = "Service Desk"


def day(d: date, hour: int = 10) -> str:
    return f"{d.isoformat()}T{hour:02d}:00:00"


async def seed(env: Env) -> tuple[date, date]:
    """Last week: six answers in the group (one praise, two unhappy comments) and one in
    another group; the week before: five answers in the group."""
    start, end = digests.last_period("weekly", utcnow().date())
    before = start - timedelta(days=7)
    cases = [
        Case(
            day(start),
            group=GROUP,
            score=10,
            lost="none",
            factors=("fast", "friendly"),
            comment="Brilliant, fixed in minutes",
        ),
        Case(
            day(start + timedelta(days=1)), group=GROUP, score=9, lost="lt_15m", factors=("fast",)
        ),
        Case(
            day(start + timedelta(days=2)),
            group=GROUP,
            score=2,
            lost="1_2h",
            factors=("slow", "repeat_explain"),
            comment="Had to explain it three times",
        ),
        Case(
            day(start + timedelta(days=3)),
            group=GROUP,
            score=5,
            lost="30_60m",
            factors=("slow",),
            comment="Slow",
        ),
        Case(day(start + timedelta(days=4)), group=GROUP, score=8, lost="15_30m"),
        Case(day(end, 20), group=GROUP, score=10, comment="Thanks!"),
        Case(day(start + timedelta(days=5)), group=GROUP, score=None),  # asked, no answer
        Case(day(start + timedelta(days=1)), group="Network", score=0, comment="Not counted here"),
        *(
            Case(day(before + timedelta(days=i)), group=GROUP, score=s)
            for i, s in enumerate((9, 6, 3, 10, 7))
        ),
    ]
    async with env.sessionmaker() as session:
        connector = await make_connector(session)
        for n, case in enumerate(cases):
            await add_case(session, connector, case, n)
        await session.commit()
    return start, end


async def subscribe(env: Env, **fields: object) -> dict:
    body = {
        "name": "Service desk weekly",
        "recipients": ["lead@example.com"],
        "frequency": "weekly",
        "scope": "group",
        "scope_value": GROUP,
        **fields,
    }
    created = await env.client.post("/api/v1/digests", json=body, headers=env.admin)
    assert created.status_code == 201, created.text
    return created.json()


def n(value: float) -> str:
    return i18n.format_number("en", value)


async def test_two_replicas_and_two_workers_send_the_digest_once_with_the_api_figures(
    env: Env, smtp_server: SmtpServer
) -> None:
    start, end = await seed(env)
    digest = await subscribe(env)
    for _ in range(2):  # two replicas' periodic ticks
        async with env.sessionmaker() as session:
            await enqueue_digests(session, env.settings, utcnow())
            await session.commit()
    a, b = env.worker("replica-a"), env.worker("replica-b")
    claimed = await asyncio.gather(a.run_once(), b.run_once())
    assert sorted(claimed) == [0, 1]  # SKIP LOCKED: one worker got the job
    await asyncio.gather(a.drain(), b.drain())
    async with env.sessionmaker() as session:
        await enqueue_digests(session, env.settings, utcnow())  # the period is done: no job
        await session.commit()
        assert await session.scalar(select(func.count()).select_from(DigestSend)) == 1
        jobs = (await session.scalars(select(Job).where(Job.name == "actions.send_digest"))).all()
        assert [j.status for j in jobs] == ["done"]
    (mail,) = smtp_server.inbox.to("lead@example.com")
    assert mail["X-XPulse-Digest"] == f"{digest['id']}; {start}/{end}"
    text = mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    scope = {"assignment_group": GROUP, "tz": "UTC"}
    got = await env.client.get(
        "/api/v1/scores",
        headers=env.admin,
        params={**scope, "date_from": str(start), "date_to": str(end)},
    )
    figures = got.json()["figures"]
    prev = await env.client.get(
        "/api/v1/scores",
        headers=env.admin,
        params={
            **scope,
            "date_from": str(start - timedelta(days=7)),
            "date_to": str(start - timedelta(days=1)),
        },
    )
    previous = prev.json()["figures"]["happiness"]["value"]
    h = figures["happiness"]
    assert h["responses"] == 6 and figures["requests_sent"] == 7
    assert f"  {n(h['value'])} (6 responses)\n" in text
    delta = round(h["value"] - previous, 1)
    assert (
        f"{'+' if delta > 0 else ''}{n(delta)} against the previous period ({n(previous)})" in text
    )
    assert f"  {n(round(figures['response_rate'] * 100, 1))}% (6 responses)\n" in text
    lost = figures["lost_time"]
    hours, minutes = round(lost["total_hours"], 1), round(lost["mean_minutes"], 1)
    assert f"{n(hours)} h in total, {n(minutes)} min on average" in text
    factors = got.json()["factors"]
    top_negative = factors["negative"][0]
    assert top_negative["factor"] == "slow"
    assert f"Service was slow: {n(round(top_negative['share'] * 100, 1))}%" in text
    assert "“Brilliant, fixed in minutes” (10, INC00000" in text
    assert "“Had to explain it three times” (2, INC00002" in text
    assert "Not counted here" not in text  # another group
    assert mail.get_body(preferencelist=("html",)).get_content().startswith("<!doctype html>")

    listed = await env.client.get(f"/api/v1/digests/{digest['id']}", headers=env.admin)
    assert listed.json()["last_sent_period"] == str(start)


async def test_a_preview_is_sent_now_in_the_digest_language(
    env: Env, smtp_server: SmtpServer
) -> None:
    start, _ = await seed(env)
    digest = await subscribe(env, locale="de", recipients=["leitung@example.com"])
    queued = await env.client.post(f"/api/v1/digests/{digest['id']}/send", headers=env.admin)
    assert queued.status_code == 202, queued.text
    assert queued.json()["period_start"] == str(start)
    await env.worker().drain()
    (mail,) = smtp_server.inbox.to("leitung@example.com")
    assert mail["Subject"].startswith("Service desk weekly: Erlebnis-Bericht, ")
    assert mail["Content-Language"] == "de"
    text = (
        mail.get_content() if not mail.is_multipart() else mail.get_body(("plain",)).get_content()
    )
    assert "Bearbeitungsgruppe Service Desk" in text and "Zufriedenheit" in text
    assert "6 Antworten" in text and "Langsamer Service" in text
    # A preview leaves the period to the periodic send.
    async with env.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(DigestSend)) == 0


async def test_a_group_below_the_minimum_size_gets_no_figures(
    env: Env, smtp_server: SmtpServer
) -> None:
    await seed(env)
    digest = await subscribe(env, scope_value="Network", recipients=["net@example.com"])
    await env.client.post(f"/api/v1/digests/{digest['id']}/send", headers=env.admin)
    await env.worker().drain()
    (mail,) = smtp_server.inbox.to("net@example.com")
    text = mail.get_body(("plain",)).get_content()
    assert "Fewer than 5 responses: no figures are shown for this group." in text
    assert "Not counted here" not in text and "Happiness" not in text


async def test_digests_are_validated_and_deleted(env: Env) -> None:
    bad = await env.client.post(
        "/api/v1/digests",
        headers=env.admin,
        json={
            "name": "x",
            "recipients": ["a@example.com"],
            "frequency": "weekly",
            "scope": "group",
        },
    )
    assert bad.status_code == 422
    wrong_lang = await env.client.post(
        "/api/v1/digests",
        headers=env.admin,
        json={"name": "x", "recipients": ["a@example.com"], "frequency": "monthly", "locale": "it"},
    )
    assert wrong_lang.status_code == 422
    digest = await subscribe(env, frequency="monthly", scope="all", scope_value=None)
    assert (await env.client.get("/api/v1/digests", headers=env.admin)).json()["items"][0][
        "id"
    ] == digest["id"]
    assert (
        await env.client.delete(f"/api/v1/digests/{digest['id']}", headers=env.admin)
    ).status_code == 204
    assert (
        await env.client.post(f"/api/v1/digests/{digest['id']}/send", headers=env.admin)
    ).status_code == 404


def test_periods_are_the_last_complete_week_and_month() -> None:
    thursday = date(2026, 11, 26)
    assert digests.last_period("weekly", thursday) == (date(2026, 11, 16), date(2026, 11, 22))
    assert digests.last_period("monthly", thursday) == (date(2026, 10, 1), date(2026, 10, 31))
    assert digests.last_period("monthly", date(2026, 1, 1)) == (
        date(2025, 12, 1),
        date(2025, 12, 31),
    )
    assert digests.previous("weekly", date(2026, 11, 16)) == (date(2026, 11, 9), date(2026, 11, 15))
