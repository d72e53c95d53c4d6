"""Must show 3: what mail scanners do to the mail's links records nothing counted
(docs/mail-scanners.md): plain fetches, HEADs, a headless browser running the page's script on every
link within a second, and one that also clicks the page's buttons. A person later still counts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.feedback.models import OptOut, Response
from tests.feedback.conftest import DESKTOP_UA, SmtpServer, html_links, score_links
from tests.feedback.live import Scenario, browser, live_overrides, resolve_ticket

# High limits: a 429 must not be what keeps a scanner's click out of the scores.
LIMITS = {"rate_limit_per_minute": 100_000, "click_dwell_ms": 400}  # the pause, scaled down


async def counted(scenario: Scenario) -> list[Response]:
    async with scenario.sessions() as s:
        return list((await s.scalars(select(Response).where(Response.automated.is_(False)))).all())


async def opted_out(scenario: Scenario) -> bool:
    async with scenario.sessions() as s:
        applied = select(OptOut).where(OptOut.status == "applied")  # automated ones are kept
        return (await s.scalar(applied)) is not None


async def time_passes(scenario: Scenario) -> None:
    """An hour later: move the recorded fetches back instead of sleeping."""
    async with scenario.sessions() as s:
        await s.execute(text("UPDATE feedback_opens SET opened_at = opened_at - interval '1 hour'"))
        await s.execute(text("UPDATE responses SET answered_at = answered_at - interval '1 hour'"))
        await s.execute(text("UPDATE feedback_requests SET sent_at = sent_at - interval '1 hour'"))
        await s.commit()


async def test_plain_fetch_and_head_of_every_link_record_nothing(
    live_server_factory, committed: AsyncEngine, pg_url: str, smtp_server: SmtpServer
) -> None:
    with live_server_factory(**live_overrides(smtp_server, **LIMITS)) as srv:
        scenario = await resolve_ticket(committed, pg_url, srv.url, smtp_server)
        (message,) = smtp_server.inbox.messages
        links = html_links(message)
        agents = [DESKTOP_UA, "Mozilla/5.0 (compatible; Safe Links)", "python-httpx"]
        async with httpx.AsyncClient() as client:
            for ua in agents:
                for url in links:
                    assert (await client.get(url, headers={"user-agent": ua})).status_code == 200
                    assert (await client.head(url, headers={"user-agent": ua})).status_code == 200
        assert await scenario.response() is None
        assert not await opted_out(scenario)
        assert (await scenario.request()).status == "sent"


async def _open_all(context: Any, links: list[str], *, click: bool) -> list[Any]:
    """Open every link of the mail at once, as Safe Links does; optionally press every button."""
    pages = [await context.new_page() for _ in links]
    posts: list[str] = []
    for page in pages:
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await asyncio.gather(
        *(p.goto(u, wait_until="domcontentloaded") for p, u in zip(pages, links, strict=True))
    )
    if click:

        async def press(page: Any) -> None:
            for button in await page.locator("button:visible").all():
                # No waiting for stable layouts: a scanner presses fast and ignores failures.
                await button.click(timeout=1000, force=True, no_wait_after=True)

        await asyncio.gather(*(press(p) for p in pages))
    await asyncio.sleep(1.5)  # the pages' scripts run their timers: real browser time
    return posts


@pytest.mark.browser
@pytest.mark.parametrize("click", [False, True], ids=["runs-script", "clicks-buttons"])
async def test_headless_browser_on_every_link_records_nothing_counted(
    click: bool,
    live_server_factory,
    committed: AsyncEngine,
    pg_url: str,
    smtp_server: SmtpServer,
) -> None:
    with live_server_factory(**live_overrides(smtp_server, **LIMITS)) as srv:
        scenario = await resolve_ticket(committed, pg_url, srv.url, smtp_server)
        (message,) = smtp_server.inbox.messages
        async with browser(user_agent=DESKTOP_UA) as context:
            posts = await _open_all(context, html_links(message), click=click)
            assert posts, "the scanner ran the page's script and posted"
            assert await counted(scenario) == []
            response = await scenario.response()
            assert response is not None and response.automated  # kept, with its evidence
            reasons = set(response.evidence["reasons"])
            assert reasons & {"several_options_opened", "trap_link", "control_sweep"}, reasons
            assert not await opted_out(scenario)
            assert (await scenario.request()).status == "sent"

            # The person clicks one link later on: it counts and replaces the scanner's click.
            await time_passes(scenario)
            page = await context.new_page()
            async with page.expect_response(lambda r: r.request.method == "POST") as done:
                await page.goto(score_links(message)["4"])
            assert (await done.value).ok
        (response,) = await counted(scenario)
        assert response.score == 4 and response.evidence["reasons"] == []
        assert (await scenario.request()).status == "responded"
