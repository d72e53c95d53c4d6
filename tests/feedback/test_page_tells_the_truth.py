"""Must show 2 and 3 (issue 10), in Debian's Chromium: the page says when the server did not
count an answer and offers one button to confirm it, which counts; the HTML e-mail fits a
phone (no horizontal scrolling at 320 and 390 px, faces legible)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.feedback import i18n
from tests.conftest import output_dir
from tests.feedback.conftest import DESKTOP_UA, SmtpServer
from tests.feedback.live import live_overrides
from tests.feedback.replay import SETTINGS, Replay, launched, settle
from tests.feedback.test_scanner_replay import js_every_link_at_once


def test_every_language_has_the_not_counted_notice_and_the_undo() -> None:
    for lang in i18n.LANGUAGE_NAMES:
        s = i18n.strings(lang)
        assert "{score}" in s["not_counted"]
        for key in ("not_counted", "count_button", "not_counted_status", "optout_held"):
            assert lang == "en" or s[key] != i18n.strings("en")[key], (lang, key)


@pytest.mark.browser
async def test_the_page_says_not_counted_and_its_button_counts(
    request: pytest.FixtureRequest,
    live_server_factory,
    committed: AsyncEngine,
    pg_url: str,
    smtp_server: SmtpServer,
) -> None:
    de = i18n.strings("de")
    with live_server_factory(**live_overrides(smtp_server, **SETTINGS)) as srv:
        async with launched() as chromium:
            r = Replay(committed, pg_url, srv.url, smtp_server, chromium)
            mail = await r.mail(locale="de")
            await r.later(mail, 60)
            await js_every_link_at_once(r, mail)  # a scanner swept the mail a minute ago
            async with r.client(user_agent=DESKTOP_UA) as ctx:
                page = await ctx.new_page()
                posts: list[dict] = []
                page.on(
                    "response",
                    lambda resp: posts.append(resp) if resp.request.method == "POST" else None,
                )
                await page.goto(mail.links[6])
                notice = page.get_by_text(de["not_counted"].format(score=6))
                await notice.wait_for()
                assert await page.get_by_role("status").filter(has_text=de["saved"]).count() == 0
                assert await page.get_by_text(de["thanks"]).is_hidden()
                assert (await posts[0].json())["counted"] is False
                outcome = await r.outcome(mail)
                assert outcome.counted is None and outcome.status == "sent"
                await page.screenshot(path=str(output_dir(request) / "not-counted.png"))

                await settle(page, 0.4)  # the person reads the notice
                await page.get_by_role("button", name=de["count_button"]).click()
                await page.get_by_text(de["saved"], exact=True).wait_for()
                assert (
                    await notice.is_hidden() and await page.get_by_text(de["thanks"]).is_visible()
                )
    outcome = await r.outcome(mail)
    assert outcome.counted is not None and outcome.counted.score == 6
    assert outcome.counted.evidence["mode"] == "confirm" and outcome.status == "responded"


@pytest.mark.browser
@pytest.mark.parametrize("scale", ["happiness-0-10", "faces-5"])
async def test_the_html_mail_fits_a_phone(
    scale: str,
    request: pytest.FixtureRequest,
    live_server_factory,
    committed: AsyncEngine,
    pg_url: str,
    smtp_server: SmtpServer,
) -> None:
    with live_server_factory(**live_overrides(smtp_server, scale=scale)) as srv:
        async with launched() as chromium:
            r = Replay(committed, pg_url, srv.url, smtp_server, chromium)
            mail = await r.mail(locale="fi")  # long words: Finnish
            (message,) = smtp_server.inbox.to(mail.email)
            html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]

            async def measure(width: int) -> dict:
                context = await chromium.new_context(
                    viewport={"width": width, "height": 800}, java_script_enabled=True
                )
                page = await context.new_page()
                await page.set_content(html)
                await page.screenshot(
                    path=str(output_dir(request) / f"mail-{width}.png"), full_page=True
                )
                found = await page.evaluate(
                    """() => ({
                        scroll: document.scrollingElement.scrollWidth,
                        inner: window.innerWidth,
                        buttons: Array.from(document.querySelectorAll('a[href*="?s="]')).map(a => {
                            const box = a.getBoundingClientRect();
                            const face = a.querySelector('span');
                            const size = face ? getComputedStyle(face).fontSize : null;
                            return {left: box.left, right: box.right, width: box.width,
                                    face: size ? parseFloat(size) : null};
                        }),
                    })"""
                )
                await context.close()
                return found

            for width, found in zip(
                (320, 390), await asyncio.gather(measure(320), measure(390)), strict=True
            ):
                assert found["scroll"] <= found["inner"] == width, found
                assert len(found["buttons"]) == len(mail.links)
                for button in found["buttons"]:
                    assert button["left"] >= 0 and button["right"] <= width, (width, button)
                    assert button["width"] >= 36  # a thumb's target
                faces = [b["face"] for b in found["buttons"] if b["face"] is not None]
                assert faces and min(faces) >= 16
