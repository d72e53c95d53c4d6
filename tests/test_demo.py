"""`xpulse demo` fills the embedded database with a marked year of data that the dashboard shows
in full, and `xpulse demo --remove` takes all of it out again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.db import create_engine
from tests.conftest import LiveServer, make_settings, output_dir
from tests.support.browser import chromium
from tests.test_cli import xpulse

pytestmark = pytest.mark.browser


async def count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
    finally:
        await engine.dispose()


async def test_demo_fills_the_dashboard_and_remove_empties_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from app.main import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'xpulse.db'}"
    xpulse("migrate", database_url=url)
    key = xpulse("api-key", "create", database_url=url).stdout.strip()
    xpulse("demo", "--tickets", "50", database_url=url)
    # Loading again replaces the demo data rather than adding to it.
    loaded = xpulse("demo", database_url=url).stdout
    assert "loaded 2000 demo tickets" in loaded
    assert await count(url, "tickets") == 2000
    auth = {"Authorization": f"Bearer {key}"}

    with LiveServer(
        lambda public: create_app(make_settings(url, public_url=public), start_ticker_=False)
    ) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=auth) as api:
            figures = (await api.get("/api/v1/scores")).json()["figures"]
            assert figures["responses"] > 150
            assert 0 < figures["response_rate"] < 1
            melons = (await api.get("/api/v1/insights/watermelon")).json()
            assert {g["key"] for g in melons["groups"]} & {"VPN", "Payroll app"}
            xlas = (await api.get("/api/v1/xlas")).json()["items"]
            assert sum(x["name"].startswith("[Demo] ") for x in xlas) == 4

        async with chromium(viewport={"width": 1280, "height": 900}) as browser:
            page = await browser.new_page()
            await page.goto(f"{server.url}/dashboard")
            await page.fill("#key", key)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#summary")
            assert await page.locator("#by-service rect.bar").count() >= 6
            assert await page.locator("#trend circle.dot").count() >= 10
            assert await page.locator("#xlas td .status").count() >= 4
            # The default view (the last weeks) already shows a watermelon group.
            melon_groups = await page.locator("#watermelon table").first.text_content()
            assert melon_groups and ("VPN" in melon_groups or "Payroll app" in melon_groups)
            await page.screenshot(path=str(output_dir(request) / "demo.png"), full_page=True)

            removed = xpulse("demo", "--remove", database_url=url).stdout
            assert "removed the demo data (2000 tickets)" in removed
            for table in ("connectors", "tickets", "feedback_requests", "responses", "xla_targets"):
                assert await count(url, table) == 0, table
            assert await count(url, "ticket_scores") == 0
            await page.reload()
            await page.wait_for_selector("#summary")
            assert await page.locator("#by-service rect.bar").count() == 0

        async with httpx.AsyncClient(base_url=server.url, headers=auth) as api:
            figures = (await api.get("/api/v1/scores")).json()["figures"]
            assert figures["responses"] == 0


def test_demo_is_refused_in_production(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "XPULSE_ENV": "production",
        "XPULSE_SECRET_KEY": "x" * 40,
        "XPULSE_ENCRYPTION_KEYS": "e" * 40,
        "XPULSE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: demo data is for trying XPulse out, not for production"
    )
