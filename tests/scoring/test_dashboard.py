"""The dashboard: sign-in with a key, strict headers, and the page in headless Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.scoring.models import XlaTarget
from tests.conftest import output_dir
from tests.scoring.builders import demo_cases, seed
from tests.support.browser import chromium


async def _sign_in(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    key = headers["Authorization"].removeprefix("Bearer ")
    return await client.post("/dashboard/login", data={"key": key})


async def test_without_a_key_the_form_is_shown(client) -> None:
    page = await client.get("/dashboard")
    assert page.status_code == 200 and 'action="/dashboard/login"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script" not in page.text


async def test_a_wrong_key_is_refused(client) -> None:
    response = await client.post("/dashboard/login", data={"key": "xp_nope_nope"})
    assert response.status_code == 401 and "Unknown or revoked" in response.text
    assert "set-cookie" not in response.headers


async def test_sign_in_sets_a_strict_http_only_cookie(client, read_headers, fixed) -> None:
    response = await _sign_in(client, read_headers)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
    page = await client.get(
        "/dashboard", params={"date_from": "2026-01-01", "date_to": "2026-01-31"}
    )
    assert page.status_code == 200
    assert 'id="happiness"' in page.text and "+25.0" in page.text
    assert "Email" in page.text and "Laptop" in page.text
    assert page.headers["cache-control"] == "no-store"
    out = await client.post("/dashboard/logout")
    assert out.status_code == 303
    assert 'action="/dashboard/login"' in (await client.get("/dashboard")).text


async def test_a_revoked_key_signs_out(client, session: AsyncSession, admin_headers) -> None:
    key, plain = await auth_service.create_key(session, name="dash", scope=Scope.read, now=utcnow())
    await _sign_in(client, {"Authorization": f"Bearer {plain}"})
    assert 'id="summary"' in (await client.get("/dashboard")).text
    await auth_service.revoke_key(session, key.id, now=utcnow())
    assert 'action="/dashboard/login"' in (await client.get("/dashboard")).text


async def test_a_bad_time_zone_is_a_page_not_a_crash(client, read_headers) -> None:
    await _sign_in(client, read_headers)
    page = await client.get("/dashboard", params={"tz": "Nowhere/Atlantis"})
    assert page.status_code == 422 and "unknown IANA time zone" in page.text


async def test_stylesheet_is_served_locally(client) -> None:
    response = await client.get("/dashboard/static/dashboard.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")


async def _seed_committed(engine: AsyncEngine) -> str:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        await seed(s, demo_cases(utcnow().replace(tzinfo=UTC)))
        s.add_all(
            [
                XlaTarget(name="Everyone happy", scope="all", period="month", min_happiness=30),
                XlaTarget(
                    name="Email",
                    scope="service",
                    scope_value="Email",
                    period="quarter",
                    min_happiness=20,
                    max_lost_minutes=60,
                ),
                XlaTarget(
                    name="Payroll",
                    scope="service",
                    scope_value="Payroll app",
                    period="quarter",
                    min_happiness=20,
                    min_response_rate=0.5,
                ),
            ]
        )
        _, plain = await auth_service.create_key(s, name="dash", scope=Scope.read, now=utcnow())
        await s.commit()
    return plain


async def test_dashboard_in_chromium(live_server_factory, committed, request) -> None:
    key = await _seed_committed(committed)
    folder = output_dir(request)
    with live_server_factory() as server:
        async with chromium(viewport={"width": 1280, "height": 900}) as browser:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            first = await page.goto(f"{server.url}/dashboard")
            assert (
                first is not None
                and "default-src 'none'" in first.headers["content-security-policy"]
            )
            await page.fill("#key", key)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#summary")

            happiness = (await page.text_content("#happiness")) or ""
            assert re.fullmatch(r"[+-]\d+\.\d", happiness.strip()), happiness
            assert await page.locator("#trend polyline").count() >= 1
            assert await page.locator("#trend circle.dot").count() >= 10  # 12 weeks, most filled
            assert await page.locator("#by-service rect.bar").count() == 4
            assert await page.locator("#by-group rect.bar").count() == 4
            assert await page.locator("#factors-positive rect.bar").count() >= 3
            assert await page.locator("#factors-negative rect.bar").count() >= 2
            assert "h" in ((await page.text_content("#lost-time")) or "")
            statuses = await page.locator("#xlas td .status").all_text_contents()
            assert len(statuses) >= 3 and set(statuses) <= {"met", "at risk", "breached"}
            melons = await page.locator("#watermelon table").first.text_content()
            assert melons and "Email" in melons
            cookies = await browser.cookies()
            (cookie,) = [c for c in cookies if c["name"] == "xpulse_dashboard"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            # The stylesheet applied (no CDN, nothing blocked by the CSP).
            background = await page.evaluate(
                "getComputedStyle(document.querySelector('.top')).backgroundColor"
            )
            assert background == "rgb(31, 42, 55)"
            await page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
            assert not problems, problems


@pytest.mark.parametrize("when", [datetime(2026, 11, 23, tzinfo=UTC)])
def test_demo_data_is_deterministic(when) -> None:
    assert demo_cases(when) == demo_cases(when)
