"""Watermelon detection and the streamed exports, on builders.FIXED."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scoring.builders import Case, seed

JAN = {"date_from": "2026-01-01", "date_to": "2026-01-31"}


async def test_watermelon_groups_and_tickets(client, read_headers, fixed) -> None:
    params = {**JAN, "sla_min": 0.75, "happiness_max": 25, "min_responses": 4}
    body = (
        await client.get("/api/v1/insights/watermelon", params=params, headers=read_headers)
    ).json()
    # Email / Desk: SLA 3 of 4, happiness 25 over 4 responses. Laptop / Field: no 0–10 answer.
    assert [(g["by"], g["key"]) for g in body["groups"]] == [
        ("assignment_group", "Desk"),
        ("service", "Email"),
    ]
    assert body["groups"][0] | {} == {
        "by": "assignment_group",
        "key": "Desk",
        "sla_attainment": 0.75,
        "happiness": 25.0,
        "margin": 81.3,
        "responses": 4,
    }
    # Met its SLA and scored 2 of 5; T4 (3 of 10) missed its SLA; T11 was a scanner.
    assert [(t["number"], t["score"], t["scale"]) for t in body["tickets"]] == [
        ("INC00007", 2, "faces-5")
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"sla_min": 0.76, "happiness_max": 25, "min_responses": 4},
        {"sla_min": 0.75, "happiness_max": 24.9, "min_responses": 4},
        {"sla_min": 0.75, "happiness_max": 25, "min_responses": 5},
        {},  # docs/scoring.md's defaults: 0.9, 30, 10
    ],
)
async def test_each_watermelon_threshold_excludes(client, read_headers, fixed, params) -> None:
    body = (
        await client.get(
            "/api/v1/insights/watermelon", params={**JAN, **params}, headers=read_headers
        )
    ).json()
    assert body["groups"] == []


async def test_watermelon_tickets_page(client, read_headers, session: AsyncSession) -> None:
    await seed(session, [Case(f"2026-01-0{d}T10:00", "S", sla=True, score=d) for d in range(1, 7)])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (
            await client.get("/api/v1/insights/watermelon", params=params, headers=read_headers)
        ).json()
        seen += [t["score"] for t in body["tickets"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [6, 5, 4, 3, 2, 1]  # newest answer first; all 0–6 are unhappy


async def test_csv_export(client, admin_headers, fixed) -> None:
    response = await client.get("/api/v1/exports/responses.csv", params=JAN, headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 7  # the automated click is not exported
    assert [r["ticket_number"] for r in rows][:2] == ["INC00001", "INC00002"]
    first = rows[0]
    assert (first["score"], first["band"], first["normalised_score"]) == ("10", "happy", "100.0")
    assert first["positive_factors"] == "fast;friendly" and first["negative_factors"] == ""
    assert (first["service"], first["agent"], first["sla_met"]) == ("Email", "ann", "true")
    seventh = next(r for r in rows if r["ticket_number"] == "INC00007")
    assert seventh["comment"].startswith("'=HYPERLINK")  # never a live formula
    assert seventh["lost_minutes"] == "720" and seventh["band"] == "unhappy"


async def test_jsonl_export_with_a_filter(client, admin_headers, fixed) -> None:
    params = {**JAN, "service": "Laptop"}
    response = await client.get(
        "/api/v1/exports/responses.jsonl", params=params, headers=admin_headers
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in response.text.splitlines()]
    assert [r["score"] for r in records] == [5, 2, 4]
    assert records[1]["negative_factors"] == ["hard_to_reach"]
    assert records[1]["lost_time"] == "gt_1d" and records[0]["lost_minutes"] is None
    assert records[0]["normalised_score"] == 100.0 and records[0]["scale"] == "faces-5"
    assert records[0]["resolved_at"] == "2026-01-12T10:00:00+00:00"


async def test_exports_need_a_key(client) -> None:
    assert (await client.get("/api/v1/exports/responses.csv")).status_code == 401
