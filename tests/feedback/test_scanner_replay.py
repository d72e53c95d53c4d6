"""Must show 1 (issue 10): mail-scanner behaviours and people replayed in Debian's Chromium
against the live server, one mail each, concurrently. No scanner behaviour may leave a counted
answer, a pending write-back or an opt-out; every person must end up counted (or opted out, or
back in, as they chose). The measured table is written to test-output/ for docs/mail-scanners.md."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import output_dir
from tests.feedback.conftest import DESKTOP_UA, SmtpServer
from tests.feedback.live import live_overrides
from tests.feedback.replay import READ, SETTINGS, STAY, Mail, Outcome, Replay, launched, settle

SAFELINKS_UA = "Mozilla/5.0 (compatible; Microsoft Office SafeLinks)"
HEADLESS_UA = DESKTOP_UA.replace("Chrome/", "HeadlessChrome/")
POOL_UAS = [
    DESKTOP_UA.replace("131.0.0.0", f"{120 + n}.0.{n}.0").replace("X11; Linux x86_64", os)
    for n, os in enumerate(["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7"] * 6)
]
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
AFTER_DELIVERY = 60  # seconds: scanners here open the mail a minute after it was sent
Behaviour = Callable[[Replay, Mail], Awaitable[None]]


# --- scanner behaviours --------------------------------------------------------------------


async def plain_get_every_link(r: Replay, m: Mail) -> None:
    async with httpx.AsyncClient(headers={"user-agent": DESKTOP_UA}) as c:
        for url in m.hrefs:
            await c.get(url)


async def head_and_get_every_link_in_parallel(r: Replay, m: Mail) -> None:
    async with httpx.AsyncClient(headers={"user-agent": SAFELINKS_UA}) as c:
        await asyncio.gather(*(c.head(u) for u in m.hrefs), *(c.get(u) for u in m.hrefs))


async def posts_the_noscript_form_at_once(r: Replay, m: Mail) -> None:
    """A non-browser client: opens one link and posts "Save my score" 0.3 s after sending."""
    async with httpx.AsyncClient(headers={"user-agent": DESKTOP_UA}) as c:
        page = await c.get(m.links[9])
        view = page.text.split('name="view" value="')[1].split('"')[0]
        await asyncio.sleep(0.3)
        await c.post(m.links[9].split("?")[0], data={"score": "9", "view": view, "lang": "en"})


async def js_every_link_at_once(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        pages = [await ctx.new_page() for _ in m.links]
        await asyncio.gather(*(p.goto(u) for p, u in zip(pages, m.links.values(), strict=True)))
        await settle(pages[0], STAY + 0.3)


async def js_every_link_one_after_another(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        for n, url in m.links.items():
            await page.goto(url)
            await settle(page, STAY + (n % 3) / 10)  # 3-5 s a page, scaled


async def pool_one_browser_per_link_in_turn(r: Replay, m: Mail) -> None:
    for (_n, url), ua in zip(m.links.items(), POOL_UAS, strict=False):
        async with r.client(user_agent=ua) as ctx:
            page = await ctx.new_page()
            await page.goto(url)
            await settle(page, STAY)


async def pool_one_browser_per_link_at_once(r: Replay, m: Mail) -> None:
    async def one(url: str, ua: str) -> None:
        async with r.client(user_agent=ua) as ctx:
            page = await ctx.new_page()
            await page.goto(url)
            await settle(page, STAY)

    await asyncio.gather(*(one(u, ua) for u, ua in zip(m.links.values(), POOL_UAS, strict=False)))


async def first_and_last_link_apart(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[0])
        await settle(page, 1.2)  # 10-15 s apart, scaled
        await page.goto(m.links[10])
        await settle(page, STAY)


async def presses_every_control(r: Replay, m: Mail) -> None:
    """Opens one link and presses every visible control with real (trusted) input events."""
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[7])
        await settle(page, STAY)
        # The faces first, each given time: they never hide, and on a loaded machine a short
        # timeout made this scanner skip some and press too few to be the sweep it plays.
        for face in await page.locator("button.score:visible").all():
            await face.click(timeout=10_000, force=True, no_wait_after=True)
        for control in await page.locator("button:visible:not(.score), input:visible").all():
            try:
                await control.click(timeout=500, force=True, no_wait_after=True)
            except Exception:  # a scanner ignores what it cannot press
                continue
        await settle(page, STAY)


async def presses_every_control_from_script(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[8])
        await settle(page, STAY)
        await page.evaluate(
            "document.querySelectorAll('button, input[type=checkbox], input[type=radio]')"
            ".forEach(function (c) { c.click(); })"
        )
        await settle(page, STAY)


async def follows_every_link_to_the_opt_out(r: Replay, m: Mail) -> None:
    """Opens one link, follows every link on the page (the trap too) and presses opt-out."""
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[5])
        await settle(page, STAY)
        hrefs = await page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
        for href in hrefs:
            await page.goto(href)
        await page.goto(hrefs[-1])  # the footer's opt-out link
        await settle(page, STAY)
        await page.locator("button").first.click()
        await settle(page, 0.2)


async def follows_visible_links_to_the_opt_out(r: Replay, m: Mail) -> None:
    """The careful variant: only links with visible text (not the trap), then opt-out."""
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[6])
        await settle(page, STAY)
        await page.get_by_role("link", name="Unsubscribe").click()
        await page.wait_for_load_state()
        await settle(page, STAY)
        await page.get_by_role("button").first.click()
        await page.wait_for_load_state()
        await settle(page, STAY)
        # It presses whatever the next page offers too (the undo button, if it were there).
        for button in await page.locator("button:visible").all():
            await button.click(no_wait_after=True)


async def no_script_every_link_and_save(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA, java_script_enabled=False) as ctx:
        page = await ctx.new_page()
        for url in m.links.values():
            await page.goto(url)
            await settle(page, STAY)
            await page.get_by_role("button", name="Save my score").click()
            await page.wait_for_load_state()


async def no_script_one_link_save_and_opt_out(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=DESKTOP_UA, java_script_enabled=False) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[10])
        await settle(page, STAY)
        await page.get_by_role("button", name="Save my score").click()
        await page.wait_for_load_state()
        await page.get_by_role("link", name="Unsubscribe").click()
        await page.wait_for_load_state()
        await settle(page, STAY)
        await page.get_by_role("button").first.click()
        await page.wait_for_load_state()


async def naive_headless_every_link(r: Replay, m: Mail) -> None:
    async with r.client(user_agent=HEADLESS_UA, webdriver=True) as ctx:
        pages = [await ctx.new_page() for _ in m.links]
        await asyncio.gather(*(p.goto(u) for p, u in zip(pages, m.links.values(), strict=True)))
        await settle(pages[0], STAY + 0.3)


async def time_of_click_check(r: Replay, m: Mail) -> None:
    async with httpx.AsyncClient(headers={"user-agent": SAFELINKS_UA}) as c:
        await c.head(m.links[4])
        await c.get(m.links[4])


async def time_of_click_render(r: Replay, m: Mail) -> None:
    """A sandbox that renders the clicked link (scripts off) to take a look at it."""
    async with r.client(user_agent=POOL_UAS[0], java_script_enabled=False) as ctx:
        page = await ctx.new_page()
        await page.goto(m.links[4])
        await settle(page, STAY)


async def unsubscribe_header_fetchers(r: Replay, m: Mail) -> None:
    """Link checkers on the List-Unsubscribe URL: GET, HEAD and a bare POST without a body."""
    async with httpx.AsyncClient(headers={"user-agent": SAFELINKS_UA}) as c:
        await c.head(m.opt_out)
        await c.get(m.opt_out)
        await c.post(m.opt_out)


SCANNERS: dict[str, tuple[Behaviour, float]] = {
    # name: (behaviour, seconds between sending and the scanner's visit)
    "plain GET of every link": (plain_get_every_link, AFTER_DELIVERY),
    "HEAD and GET of every link, in parallel, scanner UA": (
        head_and_get_every_link_in_parallel,
        AFTER_DELIVERY,
    ),
    "non-browser posts the no-script form 0.3 s after sending": (
        posts_the_noscript_form_at_once,
        0,
    ),
    "JS browser, every link at once": (js_every_link_at_once, AFTER_DELIVERY),
    "JS browser, every link in turn, 3-5 s each": (
        js_every_link_one_after_another,
        AFTER_DELIVERY,
    ),
    "pool: fresh browser and UA per link, in turn": (
        pool_one_browser_per_link_in_turn,
        AFTER_DELIVERY,
    ),
    "pool: fresh browser and UA per link, at once": (
        pool_one_browser_per_link_at_once,
        AFTER_DELIVERY,
    ),
    "first and last link, 10-15 s apart": (first_and_last_link_apart, AFTER_DELIVERY),
    "one link, presses every control (trusted input)": (presses_every_control, AFTER_DELIVERY),
    "one link, presses every control from script": (
        presses_every_control_from_script,
        AFTER_DELIVERY,
    ),
    "one link, follows every link (trap too), presses opt-out": (
        follows_every_link_to_the_opt_out,
        AFTER_DELIVERY,
    ),
    "one link, follows visible links to opt-out, presses everything": (
        follows_visible_links_to_the_opt_out,
        AFTER_DELIVERY,
    ),
    "JavaScript off: every link, presses Save my score": (
        no_script_every_link_and_save,
        AFTER_DELIVERY,
    ),
    "JavaScript off: one link, Save my score, then opt-out": (
        no_script_one_link_save_and_opt_out,
        AFTER_DELIVERY,
    ),
    "naive headless (webdriver, HeadlessChrome UA), every link": (
        naive_headless_every_link,
        AFTER_DELIVERY,
    ),
    "time-of-click check (HEAD + GET, scanner UA)": (time_of_click_check, AFTER_DELIVERY),
    "time-of-click render of the clicked link, scripts off": (time_of_click_render, AFTER_DELIVERY),
    "List-Unsubscribe URL: HEAD, GET, bare POST": (unsubscribe_header_fetchers, AFTER_DELIVERY),
}


# --- people --------------------------------------------------------------------------------


async def _open(ctx: Any, url: str) -> Any:
    page = await ctx.new_page()
    await page.goto(url)
    return page


async def _confirm(page: Any) -> None:
    """The page said the answer was not counted: the person reads it and confirms."""
    await page.get_by_role("button", name="Count my score").wait_for()
    await settle(page, READ)
    async with page.expect_response(lambda r: r.request.method == "POST"):
        await page.get_by_role("button", name="Count my score").click()
    await page.get_by_text("Saved", exact=True).wait_for()


async def person_days_later(r: Replay, m: Mail) -> int:
    await r.later(m, 3 * 86400)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.links[8])
        await page.get_by_text("Saved", exact=True).wait_for()
    return 8


async def person_changes_their_mind(r: Replay, m: Mail) -> int:
    """Opens 9, and within two seconds 10 from the mail: counted with 10 (after confirming)."""
    await r.later(m, 3600)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        await _open(ctx, m.links[9])
        await asyncio.sleep(0.6)
        page = await _open(ctx, m.links[10])
        await _confirm(page)
    return 10


async def person_behind_time_of_click_check(r: Replay, m: Mail) -> int:
    await r.later(m, 3600)
    await time_of_click_check(r, m)
    await time_of_click_render(r, m)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.links[4])
        await page.get_by_text("Saved", exact=True).wait_for()
    return 4


async def person_without_javascript(r: Replay, m: Mail) -> int:
    await r.later(m, 7200)
    async with r.client(user_agent=DESKTOP_UA, java_script_enabled=False) as ctx:
        page = await _open(ctx, m.links[2])
        await settle(page, READ)
        await page.get_by_role("button", name="Save my score").click()
        await page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
    return 2


async def person_on_a_phone_with_the_keyboard(r: Replay, m: Mail) -> int:
    await r.later(m, 1800)
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    async with r.client(user_agent=PHONE_UA, **phone) as ctx:
        page = await _open(ctx, m.links[3])
        await page.get_by_text("Saved", exact=True).wait_for()
        for _ in range(60):  # Tab to the first offered factor ("Service was slow")
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.value") == "slow":
                break
        async with page.expect_response(lambda r: r.request.method == "POST"):
            await page.keyboard.press("Space")
        await page.get_by_text("Saved", exact=True).wait_for()
    return 3


async def person_days_after_a_sweep(r: Replay, m: Mail) -> int:
    await r.later(m, AFTER_DELIVERY)
    await js_every_link_at_once(r, m)
    await r.later(m, 2 * 86400)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.links[7])
        await page.get_by_text("Saved", exact=True).wait_for()
    return 7


async def person_reading_while_a_pool_sweeps(r: Replay, m: Mail) -> int:
    await r.later(m, AFTER_DELIVERY)
    await pool_one_browser_per_link_at_once(r, m)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.links[4])
        await _confirm(page)
    return 4


async def person_presses_on_the_page_after_a_sweep(r: Replay, m: Mail) -> int:
    """Within the sweep's window, the person presses another score, a factor and Save."""
    await r.later(m, AFTER_DELIVERY)
    await js_every_link_one_after_another(r, m)
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.links[6])
        await settle(page, READ)
        await page.get_by_role("button", name="5", exact=True).click()
        await page.get_by_text("Saved", exact=True).wait_for()
        await settle(page, 0.2)
        await page.get_by_label("Service was slow").check()
        await page.get_by_label("Anything else you would like to tell us?").fill("Took long.")
        async with page.expect_response(lambda r: r.request.method == "POST"):
            await page.get_by_role("button", name="Save", exact=True).click()
        await page.get_by_text("Saved", exact=True).wait_for()
    return 5


async def person_without_javascript_after_a_sweep(r: Replay, m: Mail) -> int:
    await r.later(m, AFTER_DELIVERY)
    await js_every_link_at_once(r, m)
    async with r.client(user_agent=DESKTOP_UA, java_script_enabled=False) as ctx:
        page = await _open(ctx, m.links[1])
        await settle(page, READ)
        await page.get_by_role("button", name="Save my score").click()
        await page.get_by_role("button", name="Count my score").wait_for()  # not counted
        await settle(page, READ)
        await page.get_by_role("button", name="Count my score").click()
        await page.get_by_role("heading", name="Thank you for your feedback!").wait_for()
    return 1


PEOPLE: dict[str, Callable[[Replay, Mail], Awaitable[int]]] = {
    "answers days later": person_days_later,
    "changes their mind within two seconds (9, then 10)": person_changes_their_mind,
    "behind a time-of-click check": person_behind_time_of_click_check,
    "without JavaScript": person_without_javascript,
    "on a phone, keyboard only": person_on_a_phone_with_the_keyboard,
    "days after a scanner swept the mail": person_days_after_a_sweep,
    "reads the mail while a scanner pool sweeps it": person_reading_while_a_pool_sweeps,
    "presses another score, a factor and Save after a sweep": (
        person_presses_on_the_page_after_a_sweep
    ),
    "without JavaScript, while a scanner sweeps": person_without_javascript_after_a_sweep,
}


async def person_opts_out_and_back_in(r: Replay, m: Mail) -> list[str]:
    """Follows the mail's Unsubscribe link, presses the button, then undoes it."""
    await r.later(m, 3600)
    states = []
    async with r.client(user_agent=DESKTOP_UA) as ctx:
        page = await _open(ctx, m.opt_out)
        await settle(page, READ)
        await page.get_by_role("button", name="Stop sending me feedback requests").click()
        await page.get_by_text("You will not receive feedback requests").wait_for()
        states.append((await r.outcome(m)).opt_out or "")
        await settle(page, READ)
        await page.get_by_role("button", name="Undo: keep asking me for feedback").click()
        await page.get_by_text("You will receive feedback requests again").wait_for()
        states.append((await r.outcome(m)).opt_out or "")
    return states


# --- the suite -----------------------------------------------------------------------------


async def _scanner(r: Replay, name: str) -> tuple[str, Outcome]:
    behaviour, after = SCANNERS[name]
    m = await r.mail()
    if after:
        await r.later(m, after)
    await behaviour(r, m)
    await asyncio.sleep(0.3)  # let the last posts land
    return name, await r.outcome(m)


async def _person(r: Replay, name: str) -> tuple[str, int | str, Outcome]:
    """(name, expected score or the error that stopped the person, outcome)."""
    m = await r.mail()
    try:
        expected: int | str = await PEOPLE[name](r, m)
    except Exception as exc:  # reported with the table, not hidden by the first failure
        expected = f"{type(exc).__name__}: {str(exc)[:300]}"
    return name, expected, await r.outcome(m)


def _row(outcome: Outcome) -> dict[str, Any]:
    response = outcome.counted or outcome.automated
    evidence = response.evidence if response is not None else {}
    return {
        "counted": outcome.counted is not None,
        "score": response.score if response is not None else None,
        "reasons": evidence.get("reasons", []),
        "mode": evidence.get("mode"),
        "opt_out": outcome.opt_out,
        "opt_out_reasons": (outcome.opt_out_evidence or {}).get("reasons"),
    }


@pytest.mark.browser
async def test_scanner_replay(
    request: pytest.FixtureRequest,
    live_server_factory,
    committed: AsyncEngine,
    pg_url: str,
    smtp_server: SmtpServer,
) -> None:
    with live_server_factory(**live_overrides(smtp_server, **SETTINGS)) as srv:
        async with launched() as chromium:
            r = Replay(committed, pg_url, srv.url, smtp_server, chromium)
            scanners = await asyncio.gather(*(_scanner(r, n) for n in SCANNERS))
            people = await asyncio.gather(*(_person(r, n) for n in PEOPLE))
            opt_out_person = await person_opts_out_and_back_in(r, await r.mail())

    table = {
        "scanners": {name: _row(o) for name, o in scanners},
        "people": {name: {**_row(o), "expected": e} for name, e, o in people},
        "person_opts_out_then_undoes": opt_out_person,
    }
    (output_dir(request) / "replay.json").write_text(json.dumps(table, indent=2))
    assert len(SCANNERS) >= 15 and len(PEOPLE) >= 8
    counted_scanners = [name for name, o in scanners if o.scanner_counted]
    assert counted_scanners == [], json.dumps(table["scanners"], indent=2)
    assert not [name for name, o in scanners if o.opt_out == "applied"]
    lost = [
        name
        for name, expected, o in people
        if o.counted is None or o.counted.score != expected or o.status != "responded"
    ]
    assert lost == [], json.dumps(table["people"], indent=2)
    phone = dict((n, o) for n, _e, o in people)["on a phone, keyboard only"]
    assert phone.factors == ["slow"]
    behind = dict((n, o) for n, _e, o in people)["behind a time-of-click check"]
    assert behind.counted is not None and behind.counted.evidence["user_agent"] == DESKTOP_UA
    assert opt_out_person == ["applied", "undone"]
