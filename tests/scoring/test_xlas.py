"""XLA targets: CRUD with the right keys, and the status of a period with its figures."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.scoring.builders import Case, seed

MARCH = {"at": "2026-03-18", "tz": "Europe/Berlin"}


@pytest.fixture
async def march(session: AsyncSession) -> None:
    """Desk: 8 happy, 2 neutral, 2 unhappy (happiness 50); 30 min lost each; 12 of 16 answer.
    Field: 3 responses only."""
    desk = [Case("2026-03-10T09:00", "Email", "Desk", score=10, lost="15_30m")] * 8
    desk += [Case("2026-03-11T09:00", "Email", "Desk", score=7, lost="15_30m")] * 2
    desk += [Case("2026-03-12T09:00", "Email", "Desk", score=1, lost="15_30m")] * 2
    desk += [Case("2026-03-12T09:00", "Email", "Desk", status="expired")] * 4
    # Outside the period: February, and 31 March 23:30 UTC = 1 April in Berlin.
    desk += [Case("2026-02-27T09:00", "Email", "Desk", score=0)] * 5
    desk += [Case("2026-03-31T23:30", "Email", "Desk", score=0)] * 5
    field = [Case("2026-03-10T09:00", "Laptop", "Field", score=10)] * 3
    await seed(session, desk + field)


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body) -> dict:
    payload = {"name": "Desk XLA", "scope": "group", "scope_value": "Desk", "period": "month"}
    response = await client.post("/api/v1/xlas", json={**payload, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("targets", "status"),
    [
        ({"min_happiness": 50}, "met"),
        ({"min_happiness": 50, "max_lost_minutes": 25, "min_response_rate": 0.75}, "met"),
        ({"min_happiness": 50, "max_lost_minutes": 23, "min_response_rate": 0.75}, "at_risk"),
        ({"min_happiness": 50, "max_lost_minutes": 22.7}, "breached"),
        ({"min_happiness": 55}, "at_risk"),
        ({"min_happiness": 55.1}, "breached"),
        ({"min_happiness": 0, "min_response_rate": 0.8}, "breached"),
    ],
)
async def test_status_of_a_group_month(client, admin_headers, march, targets, status) -> None:
    created = await _create(client, admin_headers, **targets)
    response = await client.get(
        f"/api/v1/xlas/{created['id']}", params=MARCH, headers=admin_headers
    )
    current = response.json()["current"]
    assert (current["period_start"], current["period_end"]) == ("2026-03-01", "2026-03-31")
    figures = current["figures"]
    assert figures["responses"] == 12 and figures["requests_sent"] == 16
    assert figures["happiness"]["value"] == 50.0
    assert figures["lost_time"]["mean_minutes"] == 25.0
    assert current["status"] == status, current["targets"]
    assert current["targets"][0] == {
        "name": "happiness",
        "target": targets["min_happiness"],
        "actual": 50.0,
        "margin": 5.0,
        "status": "met" if targets["min_happiness"] <= 50 else status,
    }


async def test_few_responses_are_at_risk(client, admin_headers, march) -> None:
    created = await _create(
        client, admin_headers, scope="service", scope_value="Laptop", min_happiness=0
    )
    current = (
        await client.get(f"/api/v1/xlas/{created['id']}", params=MARCH, headers=admin_headers)
    ).json()["current"]
    assert current["figures"]["happiness"]["value"] == 100.0
    assert current["status"] == "at_risk"  # 3 responses


async def test_week_and_quarter_periods(client, admin_headers, march) -> None:
    week = await _create(client, admin_headers, period="week", min_happiness=0)
    current = (
        await client.get(f"/api/v1/xlas/{week['id']}", params=MARCH, headers=admin_headers)
    ).json()["current"]
    assert (current["period_start"], current["period_end"]) == ("2026-03-16", "2026-03-22")
    assert current["figures"]["responses"] == 0 and current["status"] == "at_risk"
    quarter = await _create(client, admin_headers, period="quarter", min_happiness=0)
    current = (
        await client.get(f"/api/v1/xlas/{quarter['id']}", params=MARCH, headers=admin_headers)
    ).json()["current"]
    assert (current["period_start"], current["period_end"]) == ("2026-01-01", "2026-03-31")
    assert current["figures"]["responses"] == 17  # March's 12 and February's 5


async def test_crud_and_keys(client, admin_headers, read_headers) -> None:
    created = await _create(client, admin_headers, min_happiness=20)
    assert created["current"]["status"] == "at_risk"  # no responses at all
    xla_id = created["id"]
    assert (await client.get(f"/api/v1/xlas/{xla_id}", headers=read_headers)).status_code == 200
    denied = await client.post(
        "/api/v1/xlas", json={"name": "x", "min_happiness": 1}, headers=read_headers
    )
    assert denied.status_code == 403
    patched = await client.patch(
        f"/api/v1/xlas/{xla_id}",
        json={"min_happiness": 35, "scope": "all"},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["min_happiness"], patched.json()["scope_value"]) == (35, None)
    bad = await client.patch(
        f"/api/v1/xlas/{xla_id}", json={"scope": "service"}, headers=admin_headers
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


async def test_list_pages_and_delete(client, admin_headers, read_headers) -> None:
    ids = [
        (await _create(client, admin_headers, name=f"x{i}", min_happiness=i))["id"]
        for i in range(3)
    ]
    first = (await client.get("/api/v1/xlas", params={"limit": 2}, headers=read_headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert all(item["current"]["status"] for item in first["items"])
    rest = (
        await client.get(
            "/api/v1/xlas",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=read_headers,
        )
    ).json()
    assert {i["id"] for i in first["items"] + rest["items"]} == set(ids)
    assert (await client.delete(f"/api/v1/xlas/{ids[0]}", headers=admin_headers)).status_code == 204
    missing = await client.get(f"/api/v1/xlas/{ids[0]}", headers=read_headers)
    assert missing.status_code == 404 and missing.json()["type"].endswith("/xla-not-found")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "min_happiness": 10, "scope": "service"},  # no scope_value
        {"name": "x", "min_happiness": 10, "scope_value": "Desk"},  # value for `all`
        {"name": "x", "min_happiness": 101},
        {"name": "x", "min_happiness": 10, "min_response_rate": 1.5},
    ],
)
async def test_invalid_targets_are_refused(client, admin_headers, body) -> None:
    response = await client.post("/api/v1/xlas", json=body, headers=admin_headers)
    assert response.status_code == 422


async def test_an_unknown_time_zone_is_a_422(client, read_headers) -> None:
    response = await client.get("/api/v1/xlas", params={"tz": "Mars/Olympus"}, headers=read_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
