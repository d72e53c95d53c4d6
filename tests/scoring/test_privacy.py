"""Minimum group size and the per-agent switch (docs/scoring.md) on every grouped endpoint and
on the dashboard. builders.FIXED has ann (Desk, Email) with 4 counted responses and bob (Field,
Laptop) with 3 (his automated click is not counted): with k = 4 ann's groups are shown, bob's
hidden."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import httpx
import pytest

from app.config import Settings
from app.scoring import dashboard
from tests.conftest import make_settings

JAN = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
K = 4
HIDDEN = f"fewer than {K} responses"
# Every watermelon candidate passes the thresholds, so only the group size decides.
ANY_MELON = {**JAN, "sla_min": 0, "happiness_max": 100, "min_responses": 1}


@pytest.fixture
def agent_figures() -> bool:
    return True  # a test switches it off with @OFF


@pytest.fixture
def settings(pg_url: str, agent_figures: bool) -> Settings:
    privacy = {"min_group_responses": K, "agent_figures": agent_figures}
    return make_settings(pg_url, privacy=privacy)


OFF = pytest.mark.parametrize("agent_figures", [False])  # XPULSE_PRIVACY__AGENT_FIGURES=false


async def get(client: httpx.AsyncClient, headers: dict, path: str, **params) -> httpx.Response:
    return await client.get(f"/api/v1{path}", params={**JAN, **params}, headers=headers)


def by_key(items: list[dict]) -> dict:
    return {i["key"]: i for i in items}


# --- k --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "shown", "hidden"),
    [
        ("agent", "ann", "bob"),
        ("assignment_group", "Desk", "Field"),
        ("service", "Email", "Laptop"),
    ],
)
async def test_a_breakdown_hides_small_groups_and_keeps_the_others_exact(
    client, read_headers, fixed, by: str, shown: str, hidden: str
) -> None:
    response = await get(client, read_headers, "/scores/breakdown", by=by)
    assert response.status_code == 200, response.text
    items = by_key(response.json()["items"])
    assert items[hidden] == {"key": hidden, "hidden": HIDDEN}
    assert "figures" not in items[hidden]
    # The shown group's figures are exactly the figures of a filter on that group alone
    # (which, at 4 responses, is shown too).
    alone = (await get(client, read_headers, "/scores", **{by: shown})).json()
    assert items[shown]["figures"] == alone["figures"]
    assert items[shown]["figures"]["responses"] == K


async def test_a_breakdown_by_another_field_of_one_small_group_is_hidden(
    client, read_headers, fixed
) -> None:
    """By category within bob's tickets: still bob's figures, so still hidden."""
    response = await get(client, read_headers, "/scores/breakdown", by="category", agent="bob")
    assert response.status_code == 200
    assert all(i.get("hidden") == HIDDEN for i in response.json()["items"])
    other = await get(client, read_headers, "/scores/breakdown", by="category")
    assert all("figures" in i for i in other.json()["items"])  # not a group of people


@pytest.mark.parametrize(
    ("name", "small", "large"),
    [
        ("agent", "bob", "ann"),
        ("service", "Laptop", "Email"),
        ("assignment_group", "Field", "Desk"),
    ],
)
async def test_scores_factors_and_trend_of_a_small_group_are_hidden(
    client, read_headers, fixed, name: str, small: str, large: str
) -> None:
    scores = (await get(client, read_headers, "/scores", **{name: small})).json()
    assert scores["hidden"] == HIDDEN and "figures" not in scores and "factors" not in scores
    assert (await get(client, read_headers, "/factors", **{name: small})).json() == {
        "hidden": HIDDEN
    }
    big = (await get(client, read_headers, "/scores", **{name: large})).json()
    assert big["figures"]["responses"] == K
    factors = (await get(client, read_headers, "/factors", **{name: large})).json()
    assert factors == big["factors"]
    # Per week each group has fewer than 4 responses except ann's first week (4 of them).
    trend = (await get(client, read_headers, "/scores/trend", **{name: large})).json()["items"]
    weeks = {p["period"]: p for p in trend}
    assert weeks["2026-01-05"]["figures"]["responses"] == K
    assert weeks["2026-01-12"] == {"period": "2026-01-12", "hidden": HIDDEN}
    small_trend = (await get(client, read_headers, "/scores/trend", **{name: small})).json()
    assert all(p.get("hidden") == HIDDEN for p in small_trend["items"])


async def test_the_whole_organisation_is_never_hidden(client, read_headers, fixed) -> None:
    """Not a group of people: the unfiltered summary and trend keep every figure."""
    scores = (await get(client, read_headers, "/scores")).json()
    assert scores["figures"]["responses"] == 7
    trend = (await get(client, read_headers, "/scores/trend", interval="month")).json()
    assert trend["items"][0]["figures"]["responses"] == 7


async def test_watermelon_groups_below_k_are_listed_as_hidden(client, read_headers, fixed):
    response = await client.get(
        "/api/v1/insights/watermelon", params=ANY_MELON, headers=read_headers
    )
    assert response.status_code == 200, response.text
    groups = {(g["by"], g["key"]): g for g in response.json()["groups"]}
    assert groups[("service", "Laptop")] == {"by": "service", "key": "Laptop", "hidden": HIDDEN}
    assert groups[("assignment_group", "Field")]["hidden"] == HIDDEN
    shown = groups[("service", "Email")]
    assert shown["responses"] == K and shown["sla_attainment"] == 0.75
    assert "hidden" not in shown


async def test_the_per_ticket_export_is_for_admins_only(
    client, read_headers, admin_headers, fixed
) -> None:
    for fmt in ("csv", "jsonl"):
        refused = await get(client, read_headers, f"/exports/responses.{fmt}")
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert (await get(client, admin_headers, f"/exports/responses.{fmt}")).status_code == 200


async def _sign_in(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    key = headers["Authorization"].removeprefix("Bearer ")
    assert (await client.post("/dashboard/login", data={"key": key})).status_code == 303


async def test_the_dashboard_hides_small_groups(client, read_headers, fixed) -> None:
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard", params=JAN)).text
    assert f"hidden: {HIDDEN}" in page  # Laptop and Field bars, the hidden watermelon rows
    by_service = page.split('id="by-service"')[1].split("</section>")[0]
    assert "Laptop" in by_service and HIDDEN in by_service
    assert "Email" in by_service and "+25.0" in by_service  # ann's 10, 9, 7, 3
    small = (await client.get("/dashboard", params={**JAN, "service": "Laptop"})).text
    assert 'id="hidden-summary"' in small and 'id="happiness"' not in small
    assert "What went wrong" in small and "hard to reach" not in small.lower()
    large = (await client.get("/dashboard", params={**JAN, "service": "Email"})).text
    assert 'id="hidden-summary"' not in large and 'id="happiness"' in large


# --- per-agent figures switched off ---------------------------------------------------------


@OFF
async def test_agent_figures_off_refuses_every_agent_question(
    client, read_headers, admin_headers, fixed
) -> None:
    asks = [
        ("/scores/breakdown", {"by": "agent"}),
        ("/scores", {"agent": "ann"}),
        ("/scores/trend", {"agent": "ann"}),
        ("/factors", {"agent": "ann"}),
        ("/scores/breakdown", {"by": "service", "agent": "ann"}),
        ("/insights/watermelon", {"agent": "ann"}),
        ("/exports/responses.csv", {"agent": "ann"}),
    ]
    for path, params in asks:
        response = await get(client, admin_headers, path, **params)
        assert response.status_code == 403, (path, response.text)
        problem = response.json()
        assert problem["type"].endswith("/agent-figures-off")
        assert "XPULSE_PRIVACY__AGENT_FIGURES" in problem["detail"]
    # Other groupings still work.
    assert (await get(client, read_headers, "/scores/breakdown", by="service")).status_code == 200


@OFF
async def test_agent_figures_off_removes_the_agent_column(
    client, read_headers, admin_headers, fixed
) -> None:
    text = (await get(client, admin_headers, "/exports/responses.csv")).text
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert "agent" not in header and "service" in header
    assert rows and not {"ann", "bob"} & {cell for row in rows for cell in row}
    lines = (await get(client, admin_headers, "/exports/responses.jsonl")).text.splitlines()
    assert lines and all("agent" not in json.loads(line) for line in lines)
    melon = await client.get("/api/v1/insights/watermelon", params=ANY_MELON, headers=read_headers)
    tickets = melon.json()["tickets"]
    assert tickets and all("agent" not in t for t in tickets)
    assert '"ann"' not in melon.text and '"bob"' not in melon.text
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard", params=JAN)).text
    assert "<th>Agent</th>" not in page
    assert "<td>ann</td>" not in page and "<td>bob</td>" not in page


async def test_with_agent_figures_on_the_agent_column_is_there(
    client, read_headers, admin_headers, fixed
) -> None:
    header = next(
        csv.reader(io.StringIO((await get(client, admin_headers, "/exports/responses.csv")).text))
    )
    assert "agent" in header
    melon = await client.get("/api/v1/insights/watermelon", params=ANY_MELON, headers=read_headers)
    assert all("agent" in t for t in melon.json()["tickets"])
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard", params=JAN)).text
    assert "<th>Agent</th>" in page and "<td>bob</td>" in page


async def test_the_openapi_names_the_hidden_shapes_and_the_403(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    parts = schema["components"]["schemas"]
    assert set(parts["HiddenRow"]["required"]) == {"key", "hidden"}
    rows = json.dumps(parts["Breakdown"]["properties"]["items"])
    assert "HiddenRow" in rows and "BreakdownRow" in rows
    assert "HiddenTrendPoint" in json.dumps(parts["Trend"]["properties"]["items"])
    assert "HiddenWatermelonGroup" in json.dumps(parts["Watermelon"]["properties"]["groups"])
    for path in ("/scores", "/scores/breakdown", "/scores/trend", "/factors"):
        assert "403" in schema["paths"][f"/api/v1{path}"]["get"]["responses"], path


XLAS = {
    "Laptop XLA": ("service", "Laptop"),
    "Email XLA": ("service", "Email"),
    "Everyone XLA": ("all", None),
}


async def test_the_dashboard_hides_an_xla_of_a_small_group(
    client, read_headers, admin_headers, fixed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page judges XLAs for the period holding today: make today a day of January 2026.
    monkeypatch.setattr(dashboard, "utcnow", lambda: datetime(2026, 1, 20, 12, tzinfo=UTC))
    for name, (scope, value) in XLAS.items():
        body = {"name": name, "scope": scope, "scope_value": value, "min_happiness": 0}
        created = await client.post("/api/v1/xlas", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard", params=JAN)).text
    table = page.split('id="xlas"')[1].split("</table>")[0]
    rows = {name: next(r for r in table.split("<tr>") if name in r) for name in XLAS}
    assert f"hidden: {HIDDEN}" in rows["Laptop XLA"] and "status" not in rows["Laptop XLA"]
    assert "4 responses" in rows["Email XLA"] and "hidden" not in rows["Email XLA"]
    assert "7 responses" in rows["Everyone XLA"]
