"""Headless Chromium signs in to the dashboard through the OpenID Connect stand-in (served as
`localhost`, another site than the dashboard's 127.0.0.1), once as a viewer and once as an
admin: the Strict session cookie holds no key, the admin sees the per-ticket export and the
viewer is refused it."""

from __future__ import annotations

import pytest

from tests.auth.conftest import oidc_settings
from tests.auth.oidc_provider import Provider
from tests.auth.test_oidc import ALICE, VERA
from tests.conftest import output_dir
from tests.support.browser import chromium


@pytest.mark.browser
@pytest.mark.parametrize(("user", "role"), [(VERA, "viewer"), (ALICE, "admin")])
async def test_sign_in_through_the_provider_in_chromium(
    live_server_factory, provider: Provider, request, user, role
) -> None:
    provider.next_user = user
    folder = output_dir(request)
    with live_server_factory(oidc=oidc_settings(provider, key_login=False)) as server:
        async with chromium(viewport={"width": 1280, "height": 900}) as browser:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await page.goto(f"{server.url}/dashboard")
            assert await page.locator("#key").count() == 0  # key login is off here
            await page.screenshot(path=str(folder / "sign-in.png"))
            await page.click("#oidc-sign-in")
            await page.wait_for_selector("#summary")
            assert page.url == f"{server.url}/dashboard"
            assert provider.authorize_requests and provider.token_errors == []

            who = (await page.text_content("#who")) or ""
            assert who.strip() == f"{user['name']} · {role}"
            cookies = {c["name"]: c for c in await browser.cookies()}
            session_cookie = cookies["xpulse_dashboard"]
            assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Strict"
            assert session_cookie["path"] == "/dashboard"
            assert "xpulse_oidc" not in cookies  # the flow cookie is single-use
            await page.screenshot(path=str(folder / f"dashboard-{role}.png"), full_page=True)

            export = page.locator("#export")
            if role == "admin":
                async with page.expect_download() as download:
                    await export.click()
                assert (await download.value).suggested_filename == "responses.csv"
            else:
                assert await export.count() == 0
                refused = await page.goto(f"{server.url}/dashboard/export/responses.csv")
                assert refused is not None and refused.status == 403
                assert "admins only" in ((await page.text_content("main")) or "")
                await page.screenshot(path=str(folder / "export-refused.png"))
                assert problems == [
                    "Failed to load resource: the server responded with a status of 403 (Forbidden)"
                ]
                problems.clear()

            await page.goto(f"{server.url}/dashboard")
            await page.click("text=Sign out")
            await page.wait_for_selector("#oidc-sign-in")
            assert not problems, problems
