"""Each figure of docs/scoring.md against a hand-computed expectation on builders.FIXED."""

from __future__ import annotations

import math

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.conftest import make_settings
from tests.scoring.builders import Case, seed
from tests.scoring.conftest import SHOW_EVERY_GROUP

JAN = {"date_from": "2026-01-01", "date_to": "2026-01-31"}


@pytest.fixture
def settings(pg_url: str) -> Settings:  # the cost of lost time needs an hourly rate
    return make_settings(pg_url, hourly_cost=50.0, privacy=SHOW_EVERY_GROUP)


async def test_summary_of_the_fixed_set(client, read_headers, fixed) -> None:
    response = await client.get("/api/v1/scores", params=JAN, headers=read_headers)
    assert response.status_code == 200, response.text
    f = response.json()["figures"]
    # 9 delivered (T1–T8 and the scanner-clicked T11); suppressed and failed by reason.
    assert f["requests_sent"] == 9
    assert f["not_sent"] == [
        {"status": "failed", "reason": "smtp 550", "requests": 1},
        {"status": "suppressed", "reason": "fatigue", "requests": 1},
    ]
    assert f["responses"] == 7  # the automated click is not counted
    assert f["response_rate"] == pytest.approx(7 / 9)
    # 0–10: 10, 9 happy; 7 neutral; 3 unhappy -> (2 − 1) ÷ 4 × 100
    h = f["happiness"]
    assert (h["value"], h["responses"], h["happy"], h["neutral"], h["unhappy"]) == (
        25.0,
        4,
        2,
        1,
        1,
    )
    # p = .5, q = .25: 1.96 × √((.75 − .0625) ÷ 4) × 100 = 81.26
    assert h["margin"] == 81.3 and h["low_sample"] is True
    # 1–5: 5, 2, 4 -> two of three score 4–5
    assert f["csat"] == {"value": pytest.approx(200 / 3), "responses": 3, "satisfied": 2}
    # normalised 100, 90, 70, 30, 100, 25, 75
    assert f["mean_normalised_score"] == pytest.approx(490 / 7)
    # answered: 0, 10, 90, 360, 720, 45
    assert f["lost_time"] == {
        "responses": 6,
        "mean_minutes": pytest.approx(1225 / 6),
        "median_minutes": 67.5,
        "total_hours": pytest.approx(1225 / 60),
        "cost": pytest.approx(1225 / 60 * 50),
    }
    # known: T1–T4, T6–T8, T11 (T5, T9, T10 unknown); only T4 missed
    assert f["sla"] == {"known": 8, "met": 7, "attainment": 7 / 8}


async def test_factor_shares(client, read_headers, fixed) -> None:
    body = (await client.get("/api/v1/factors", params=JAN, headers=read_headers)).json()
    assert body["positive_responses"] == 3 and body["negative_responses"] == 3
    pos = {x["factor"]: (x["responses"], x["share"]) for x in body["positive"]}
    neg = {x["factor"]: (x["responses"], x["share"]) for x in body["negative"]}
    assert pos["fast"] == (2, pytest.approx(2 / 3))
    assert pos["friendly"] == pos["informed"] == (1, pytest.approx(1 / 3))
    assert pos["expert"] == (0, 0.0)
    assert neg["slow"] == (2, pytest.approx(2 / 3))
    assert neg["not_solved"] == neg["hard_to_reach"] == (1, pytest.approx(1 / 3))
    assert neg["unfriendly"] == (0, 0.0)  # picked only by the automated click
    assert body["positive"][0]["factor"] == "fast"  # most picked first
    summary = (await client.get("/api/v1/scores", params=JAN, headers=read_headers)).json()
    assert summary["factors"] == body


async def test_breakdown_by_service(client, read_headers, fixed) -> None:
    params = {**JAN, "by": "service"}
    body = (
        await client.get("/api/v1/scores/breakdown", params=params, headers=read_headers)
    ).json()
    rows = {r["key"]: r["figures"] for r in body["items"]}
    assert list(rows) == ["Email", "Laptop"] and body["next_cursor"] is None
    email, laptop = rows["Email"], rows["Laptop"]
    assert (email["requests_sent"], email["responses"], email["response_rate"]) == (5, 4, 0.8)
    assert email["happiness"]["value"] == 25.0
    assert email["csat"]["value"] is None  # no 1–5 responses: null, never 0
    assert email["sla"]["attainment"] == 0.75
    assert email["lost_time"]["median_minutes"] == 50.0  # 0, 10, 90, 360
    assert (laptop["requests_sent"], laptop["responses"], laptop["response_rate"]) == (4, 3, 0.75)
    assert laptop["happiness"] == {
        "value": None,
        "margin": None,
        "low_sample": True,
        "responses": 0,
        "happy": 0,
        "neutral": 0,
        "unhappy": 0,
    }
    assert laptop["sla"]["attainment"] == 1.0
    assert len(laptop["not_sent"]) == 2


async def test_breakdown_pages_with_a_cursor_and_null_group_last(
    client, read_headers, session: AsyncSession
) -> None:
    await seed(
        session,
        [Case("2026-01-05T10:00", s, score=10) for s in ("b", None, "a", "c")],
    )
    seen, cursor = [], None
    while True:
        params = {**JAN, "by": "service", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (
            await client.get("/api/v1/scores/breakdown", params=params, headers=read_headers)
        ).json()
        seen += [r["key"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a", "b", "c", None]
    bad = await client.get(
        "/api/v1/scores/breakdown", params={"by": "service", "cursor": "!!"}, headers=read_headers
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor")


async def test_empty_scope_counts_zero_ratios_null(client, read_headers, fixed) -> None:
    params = {**JAN, "service": "VPN"}
    f = (await client.get("/api/v1/scores", params=params, headers=read_headers)).json()["figures"]
    assert f["requests_sent"] == f["responses"] == 0
    assert f["response_rate"] is None and f["mean_normalised_score"] is None
    assert f["happiness"]["value"] is None and f["happiness"]["margin"] is None
    assert f["csat"]["value"] is None
    assert f["lost_time"] == {
        "responses": 0,
        "mean_minutes": None,
        "median_minutes": None,
        "total_hours": 0.0,
        "cost": 0.0,
    }
    assert f["sla"] == {"known": 0, "met": 0, "attainment": None}
    body = (await client.get("/api/v1/factors", params=params, headers=read_headers)).json()
    assert all(x["share"] is None for x in body["positive"] + body["negative"])
    rows = (
        await client.get(
            "/api/v1/scores/breakdown", params={**params, "by": "agent"}, headers=read_headers
        )
    ).json()["items"]
    assert rows == []


async def test_one_response(client, read_headers, session: AsyncSession) -> None:
    await seed(session, [Case("2026-02-02T09:00", "One", score=8, lost="2_4h")])
    params = {"service": "One"}
    f = (await client.get("/api/v1/scores", params=params, headers=read_headers)).json()["figures"]
    assert f["responses"] == f["requests_sent"] == 1 and f["response_rate"] == 1.0
    # one neutral: p = q = 0 -> happiness 0 with a margin of 0, flagged low_sample
    assert f["happiness"] | {} == {
        "value": 0.0,
        "margin": 0.0,
        "low_sample": True,
        "responses": 1,
        "happy": 0,
        "neutral": 1,
        "unhappy": 0,
    }
    assert f["mean_normalised_score"] == 80.0
    assert f["lost_time"]["mean_minutes"] == f["lost_time"]["median_minutes"] == 180.0


@pytest.mark.parametrize(
    ("score", "value"), [(10, 100.0), (9, 100.0), (8, 0.0), (6, -100.0), (0, -100.0)]
)
async def test_all_scores_of_one_kind(client, read_headers, session, score, value) -> None:
    await seed(session, [Case("2026-02-02T09:00", "Same", score=score) for _ in range(12)])
    f = (
        await client.get("/api/v1/scores", params={"service": "Same"}, headers=read_headers)
    ).json()["figures"]
    h = f["happiness"]
    # p or q is 1 (or both 0): the variance term is 0, so is the margin
    assert (h["value"], h["margin"], h["low_sample"]) == (value, 0.0, False)
    assert f["mean_normalised_score"] == score * 10


async def test_margin_matches_the_formula(client, read_headers, session) -> None:
    scores = [10] * 6 + [8] * 3 + [2] * 3  # p = .5, q = .25, N = 12
    await seed(session, [Case("2026-02-02T09:00", "M", score=s) for s in scores])
    h = (await client.get("/api/v1/scores", params={"service": "M"}, headers=read_headers)).json()[
        "figures"
    ]["happiness"]
    expected = 1.96 * math.sqrt((0.75 - 0.25**2) / 12) * 100
    assert h["value"] == 25.0 and h["margin"] == round(expected, 1) == 46.9
    assert h["low_sample"] is False


async def test_every_filter_narrows(client, read_headers, session) -> None:
    await seed(
        session,
        [
            Case(
                "2026-01-05T10:00",
                "S",
                "G",
                "ann",
                score=10,
                category="hw",
                priority="1",
                channel="portal",
            ),
            Case(
                "2026-01-05T10:00",
                "S",
                "G",
                "bob",
                score=0,
                category="sw",
                priority="3",
                channel="phone",
            ),
        ],
    )
    for name, value in [
        ("agent", "ann"),
        ("category", "hw"),
        ("priority", "1"),
        ("channel", "portal"),
    ]:
        params = {"service": "S", "assignment_group": "G", name: value}
        f = (await client.get("/api/v1/scores", params=params, headers=read_headers)).json()
        assert f["figures"]["happiness"]["value"] == 100.0, name


async def test_connector_filter_and_breakdown(client, read_headers, session) -> None:
    first = await seed(session, [Case("2026-01-05T10:00", "S", score=10)])
    await seed(session, [Case("2026-01-05T10:00", "S", score=0)])
    connector_id = str(first[0].connector_id)
    f = (
        await client.get(
            "/api/v1/scores", params={"connector_id": connector_id}, headers=read_headers
        )
    ).json()["figures"]
    assert f["happiness"]["value"] == 100.0
    rows = (
        await client.get(
            "/api/v1/scores/breakdown", params={"by": "connector"}, headers=read_headers
        )
    ).json()["items"]
    assert {r["key"]: r["figures"]["happiness"]["value"] for r in rows}[connector_id] == 100.0


@pytest.mark.parametrize(
    "params",
    [
        {"tz": "Mars/Olympus"},
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"date_from": "yesterday"},
    ],
)
async def test_bad_parameters_are_problems(
    client: httpx.AsyncClient, read_headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/scores", params=params, headers=read_headers)
    assert response.status_code == 422, params
    assert response.headers["content-type"] == "application/problem+json"


async def test_scores_need_a_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/scores")).status_code == 401


async def test_a_group_with_requests_but_no_responses(client, read_headers, session) -> None:
    await seed(
        session,
        [
            Case("2026-01-05T10:00", "Quiet", status="expired"),
            Case("2026-01-06T10:00", "Quiet", status="sent"),
            Case("2026-01-06T10:00", "Loud", score=10),
        ],
    )
    rows = (
        await client.get(
            "/api/v1/scores/breakdown", params={**JAN, "by": "service"}, headers=read_headers
        )
    ).json()["items"]
    quiet = {r["key"]: r["figures"] for r in rows}["Quiet"]
    # Two requests went out and nobody answered: a real 0% rate, but no score to report.
    assert (quiet["requests_sent"], quiet["responses"], quiet["response_rate"]) == (2, 0, 0.0)
    assert quiet["happiness"]["value"] is None and quiet["mean_normalised_score"] is None
    assert quiet["lost_time"]["mean_minutes"] is None and quiet["csat"]["value"] is None
