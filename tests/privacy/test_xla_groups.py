"""XLA answers hide a service or group below XPULSE_PRIVACY__MIN_GROUP_RESPONSES like every
other grouped answer: no status, no targets, no figures. builders.FIXED in January 2026: ann
(Desk, Email) 4 counted responses, bob (Field, Laptop) 3."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.conftest import make_settings
from tests.scoring.builders import FIXED, seed

K = 4
JAN = {"at": "2026-01-15", "tz": "UTC"}


@pytest.fixture
def settings(pg_url: str) -> Settings:
    return make_settings(pg_url, privacy={"min_group_responses": K})


async def _xla(client: httpx.AsyncClient, headers: dict, scope: str, value: str | None) -> dict:
    body = {"name": f"{scope} {value}", "scope": scope, "scope_value": value, "min_happiness": 0}
    created = await client.post("/api/v1/xlas", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.parametrize(
    ("scope", "small", "large"), [("service", "Laptop", "Email"), ("group", "Field", "Desk")]
)
async def test_an_xla_on_a_small_group_shows_no_status_or_figures(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    scope: str,
    small: str,
    large: str,
) -> None:
    await seed(session, FIXED)
    hidden = await _xla(client, admin_headers, scope, small)
    shown = await _xla(client, admin_headers, scope, large)
    overall = await _xla(client, admin_headers, "all", None)

    got = await client.get(f"/api/v1/xlas/{hidden['id']}", params=JAN, headers=admin_headers)
    assert got.json()["current"] == {
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "tz": "UTC",
        "hidden": f"fewer than {K} responses",
    }
    listed = await client.get("/api/v1/xlas", params=JAN, headers=admin_headers)
    current = {i["id"]: i["current"] for i in listed.json()["items"]}
    assert current[hidden["id"]] == got.json()["current"]
    assert current[shown["id"]]["figures"]["responses"] == K
    assert current[shown["id"]]["status"] in ("met", "at_risk", "breached")
    assert current[overall["id"]]["figures"]["responses"] == 7  # everyone: never hidden
    # Creating or changing one answers the same way (today has no responses: hidden too).
    assert "figures" not in hidden["current"] and "status" not in hidden["current"]
    patched = await client.patch(
        f"/api/v1/xlas/{shown['id']}", json={"min_happiness": 10}, headers=admin_headers
    )
    assert patched.json()["current"]["hidden"] == f"fewer than {K} responses"
