"""Periods in the request's time zone: ISO weeks, months, DST, and the day filter."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scoring.builders import EDGE_CASES, TZ_CASES, seed


@pytest.fixture
async def tz_cases(session: AsyncSession) -> None:
    await seed(session, TZ_CASES)


async def _trend(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> dict:
    response = await client.get(
        "/api/v1/scores/trend", params={"service": "TZ", **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def _counts(body: dict) -> list[tuple[str, int]]:
    return [(p["period"], p["figures"]["responses"]) for p in body["items"]]


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", [("2025-12-29", 2), ("2026-01-05", 1)]),  # A is Sunday 4 January
        ("Europe/Berlin", [("2025-12-29", 1), ("2026-01-05", 2)]),  # A is Monday 5 January
    ],
)
async def test_iso_weeks_start_on_local_monday(client, read_headers, tz_cases, tz, expected):
    window = {"date_from": "2025-12-29", "date_to": "2026-01-11", "tz": tz}
    body = await _trend(client, read_headers, interval="week", **window)
    assert _counts(body) == expected


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", [("2025-12-29", 4), ("2026-01-05", 0)]),  # all four on Sunday
        ("Europe/Berlin", [("2025-12-29", 3), ("2026-01-05", 1)]),
        ("Asia/Kolkata", [("2025-12-29", 1), ("2026-01-05", 3)]),  # a half-hour offset
    ],
)
async def test_a_period_starts_at_its_first_instant(client, read_headers, session, tz, expected):
    await seed(session, EDGE_CASES)
    window = {"date_from": "2025-12-29", "date_to": "2026-01-11", "tz": tz, "service": "EDGE"}
    body = await _trend(client, read_headers, interval="week", **window)
    assert _counts(body) == expected


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC", [("2025-12-01", 0), ("2026-01-01", 4), ("2026-02-01", 0)]),
        ("Europe/Berlin", [("2025-12-01", 0), ("2026-01-01", 3), ("2026-02-01", 1)]),
        ("America/New_York", [("2025-12-01", 1), ("2026-01-01", 3), ("2026-02-01", 0)]),
    ],
)
async def test_months_in_the_time_zone(client, read_headers, tz_cases, tz, expected):
    window = {"date_from": "2025-12-01", "date_to": "2026-02-28", "tz": tz}
    body = await _trend(client, read_headers, interval="month", **window)
    assert _counts(body) == expected


async def test_days_across_a_dst_change(client, read_headers, tz_cases):
    window = {"date_from": "2026-03-29", "date_to": "2026-03-30", "interval": "day"}
    berlin = await _trend(client, read_headers, tz="Europe/Berlin", **window)
    # 22:30 UTC is 00:30 CEST (UTC+2) on the 30th; a fixed winter offset would say the 29th.
    assert _counts(berlin) == [("2026-03-29", 0), ("2026-03-30", 1)]
    assert berlin["items"][0]["figures"]["happiness"]["value"] is None  # empty period: null
    utc = await _trend(client, read_headers, tz="UTC", **window)
    assert _counts(utc) == [("2026-03-29", 1), ("2026-03-30", 0)]


@pytest.mark.parametrize(("tz", "responses"), [("UTC", 1), ("Europe/Berlin", 2)])
async def test_day_filter_uses_local_midnight(client, read_headers, tz_cases, tz, responses):
    params = {"service": "TZ", "date_from": "2026-01-05", "date_to": "2026-01-05", "tz": tz}
    body = (await client.get("/api/v1/scores", params=params, headers=read_headers)).json()
    assert body["figures"]["responses"] == responses


async def test_trend_without_days_spans_the_data_and_fills_gaps(client, read_headers, tz_cases):
    body = await _trend(client, read_headers, interval="week")
    periods = [p["period"] for p in body["items"]]
    assert periods[0] == "2025-12-29" and periods[-1] == "2026-03-23"
    assert len(periods) == 13 and body["next_cursor"] is None
    empty = body["items"][2]["figures"]  # week of 12 January: nothing resolved
    assert empty["responses"] == 0 and empty["happiness"]["value"] is None


async def test_trend_pages_with_a_cursor(client, read_headers, tz_cases):
    whole = await _trend(client, read_headers, interval="week")
    items, cursor = [], None
    while True:
        page = await _trend(
            client,
            read_headers,
            interval="week",
            limit="5",
            **({"cursor": cursor} if cursor else {}),
        )
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert items == whole["items"]


async def test_trend_of_an_empty_scope_is_empty(client, read_headers):
    body = await _trend(client, read_headers, interval="month")
    assert body["items"] == [] and body["next_cursor"] is None
