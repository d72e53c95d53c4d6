"""Must show 1 and 2: a resolved-ticket webhook on the live server leads to exactly one e-mail
(real SMTP on loopback); its links, opened, record the score; in Chromium the whole page works."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import output_dir
from tests.feedback.conftest import DESKTOP_UA, SmtpServer, html_links, score_links
from tests.feedback.live import browser, live_overrides, resolve_ticket, text_part

PAGE_HEADERS = {"user-agent": DESKTOP_UA, "accept-language": "en-GB,en;q=0.9"}


async def test_resolved_webhook_sends_one_email_whose_link_records_the_score(
    live_server_factory, committed: AsyncEngine, pg_url: str, smtp_server: SmtpServer
) -> None:
    with live_server_factory(**live_overrides(smtp_server)) as srv:
        scenario = await resolve_ticket(committed, pg_url, srv.url, smtp_server, locale="de")
        await scenario.later()  # the person reads the mail an hour after it was sent
        assert await scenario.drain() == 0  # nothing left: the mail is not sent twice
        (message,) = smtp_server.inbox.messages
        assert scenario.email in message["To"]
        fb = await scenario.request()
        assert fb.status == "sent" and fb.sent_at is not None
        assert re.match(
            r"\[HD-\w+\] Wie war unser Service\? Printer on floor 3 <jammed>$", message["Subject"]
        )
        assert message["List-Unsubscribe"].startswith(f"<{srv.url}/f/")
        links = score_links(message)
        assert sorted(links, key=int) == [str(n) for n in range(11)]
        assert links == scenario.webhook["links"]  # the webhook answer carries the same links
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "&lt;jammed&gt;" in html  # autoescaped
        assert all(url in text_part(message) for url in links.values())

        async with httpx.AsyncClient(headers=PAGE_HEADERS) as client:
            page = await client.get(links["7"])
            assert page.status_code == 200 and 'data-pending="7"' in page.text
            script = re.search(r'<script src="([^"]+)"', page.text).group(1)
            assert (await client.get(srv.url + script)).status_code == 200
            assert await scenario.response() is None  # the GET alone records nothing
            # What the page's script sends after its pause.
            recorded = await client.post(
                f"{links['7'].split('?')[0]}",
                data={"score": "7", "lang": "de", "signals": '{"interacted": false}'},
                headers={
                    "accept": "application/json",
                    "origin": srv.url,
                    "sec-fetch-site": "same-origin",
                },
            )
            assert recorded.status_code == 200 and recorded.json()["counted"] is True
        response = await scenario.response()
        assert response is not None and response.score == 7 and not response.automated
        assert (await scenario.request()).status == "responded"


@pytest.mark.browser
async def test_chromium_opens_the_mail_link_and_saves_every_answer(
    request: pytest.FixtureRequest,
    live_server_factory,
    committed: AsyncEngine,
    pg_url: str,
    smtp_server: SmtpServer,
) -> None:
    with live_server_factory(**live_overrides(smtp_server)) as srv:
        scenario = await resolve_ticket(committed, pg_url, srv.url, smtp_server, locale="de")
        await scenario.later()
        (message,) = smtp_server.inbox.messages
        link = score_links(message)["9"]
        async with browser(user_agent=DESKTOP_UA) as context:
            page = await context.new_page()
            async with page.expect_response(lambda r: r.request.method == "POST") as first:
                await page.goto(link)
                await page.get_by_role("heading", name="Vielen Dank für Ihr Feedback!").wait_for()
            assert (await first.value).ok  # the one click, recorded after the page's pause
            # A reload must not post the mail's score again: the script drops `s` from the URL.
            await page.wait_for_function("!window.location.search.includes('s=')")
            async with page.expect_response(lambda r: r.request.method == "POST") as saved:
                await page.get_by_label("Schneller Service").check()
            assert (await saved.value).ok
            # Keyboard only: the chips are real checkboxes, Space toggles the focused one.
            await page.get_by_label("Kompetent").focus()
            async with page.expect_response(lambda r: r.request.method == "POST") as saved:
                await page.keyboard.press("Space")
            assert (await saved.value).ok
            async with page.expect_response(lambda r: r.request.method == "POST") as saved:
                await page.get_by_label("30–60 Minuten").check()
            assert (await saved.value).ok
            comment = page.get_by_label("Möchten Sie uns noch etwas mitteilen?")
            async with page.expect_response(lambda r: r.request.method == "POST") as saved:
                await comment.fill("Sehr schnell, danke!")
                await comment.blur()
            assert (await saved.value).ok
            await page.reload()
            assert await page.get_by_label("Schneller Service").is_checked()
            assert await page.get_by_label("30–60 Minuten").is_checked()
            assert await comment.input_value() == "Sehr schnell, danke!"
            await page.screenshot(
                path=str(output_dir(request) / "feedback-page.png"), full_page=True
            )
            await page.set_viewport_size({"width": 375, "height": 740})  # mobile first
            await page.evaluate("window.scrollTo(0, 0)")
            await page.screenshot(path=str(output_dir(request) / "feedback-page-mobile.png"))
            await page.get_by_role("link", name="Svenska").click()
            await page.get_by_role("heading", name="Tack för din feedback!").wait_for()
            assert await page.get_by_label("Snabb service").is_checked()
        response = await scenario.response()
        assert response is not None and not response.automated
        assert (response.score, response.lost_time, response.lost_minutes, response.comment) == (
            9,
            "30_60m",
            45,
            "Sehr schnell, danke!",
        )
        assert await scenario.factors(response.id) == ["expert", "fast"]
        assert response.evidence["reasons"] == []
        assert (await scenario.request()).status == "responded"
        assert len(html_links(message)) >= 13  # 11 scores, the trap link and the opt-out


@pytest.mark.browser
async def test_without_javascript_the_plain_forms_save_everything(
    live_server_factory, committed: AsyncEngine, pg_url: str, smtp_server: SmtpServer
) -> None:
    # Scaled time: a person needs 0.2 s (not 0.8 s) to press after the page appears.
    with live_server_factory(**live_overrides(smtp_server, scanner_min_action_ms=200)) as srv:
        scenario = await resolve_ticket(committed, pg_url, srv.url, smtp_server, locale="en")
        await scenario.later()
        (message,) = smtp_server.inbox.messages
        async with browser(user_agent=DESKTOP_UA, java_script_enabled=False) as context:
            page = await context.new_page()
            await page.goto(score_links(message)["2"])
            assert await scenario.response() is None  # no script: nothing recorded yet
            await page.wait_for_timeout(300)  # the person reads the page first
            # Each plain form post answers with a redirect to the page: wait for that page, or
            # a slow machine fills in the old one while the new one is on its way.
            async with page.expect_navigation():
                await page.get_by_role("button", name="Save my score").click()
            await page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
            await page.wait_for_timeout(300)  # a person reads the new page too (not 0.2 s)
            await page.get_by_label("Service was slow").check()
            await page.get_by_label("More than a day").check()
            await page.get_by_label("Anything else you would like to tell us?").fill("Slow.")
            async with page.expect_navigation():
                await page.get_by_role("button", name="Save", exact=True).click()
            assert await page.get_by_label("Service was slow").is_checked()
        response = await scenario.response()
        assert response is not None and not response.automated
        assert (response.score, response.lost_time, response.comment) == (2, "gt_1d", "Slow.")
        assert await scenario.factors(response.id) == ["slow"]
