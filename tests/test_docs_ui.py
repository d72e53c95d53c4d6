"""/docs and /redoc work without internet access: every asset comes from the server itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.browser import chromium

pytestmark = pytest.mark.browser


async def open_offline(server_url: str, path: str, ready: str) -> tuple[int, list[str]]:
    """Load `path` with every request to another host blocked; (count of `ready`, blocked)."""
    own = urlsplit(server_url).netloc
    blocked: list[str] = []

    async def only_the_server(route) -> None:
        if urlsplit(route.request.url).netloc == own:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with chromium(viewport={"width": 1280, "height": 900}) as browser:
        page = await browser.new_page()
        await page.route("**/*", only_the_server)
        await page.goto(server_url + path)
        await page.wait_for_selector(ready, timeout=20_000)
        return await page.locator(ready).count(), blocked


async def test_swagger_ui_renders_every_operation_offline(live_server_factory) -> None:
    with live_server_factory() as server:
        paths = httpx.get(server.url + "/openapi.json").json()["paths"]
        # Swagger UI lists an operation once under each of its tags.
        operations = sum(
            len(op.get("tags") or ["default"])
            for methods in paths.values()
            for op in methods.values()
        )
        shown, blocked = await open_offline(server.url, "/docs", ".opblock")
    assert shown == operations
    assert blocked == []


async def test_redoc_renders_offline(live_server_factory) -> None:
    with live_server_factory() as server:
        shown, blocked = await open_offline(server.url, "/redoc", "[data-section-id]")
    assert shown > 10
    assert blocked == []


async def test_no_page_of_the_docs_names_a_cdn(client) -> None:
    for path in ("/docs", "/redoc"):
        html = (await client.get(path)).text
        assert "cdn." not in html and "fonts.googleapis" not in html, path
