"""The scanner judgement as pure rules (docs/mail-scanners.md): one table row per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.feedback.judgement import (
    ClickSeen,
    Limits,
    OpenSeen,
    judge_answer,
    judge_opt_out,
    mode_of,
    same_view_as_a_sweep,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits()
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"
BROWSER = {"sec-fetch-site": "same-origin", "accept-language": "en"}
PERSON = {"trusted": True, "visible": True, "since_ms": 2500, "webdriver": False, "options": 1}


def opened(score: int | None, seconds: float, kind: str = "page", client: str = "person"):
    return OpenSeen(kind, score, T0 + timedelta(seconds=seconds), False, client)


def click(mode: str, **overrides: Any) -> ClickSeen:
    signals = {} if mode == "form" else {"mode": mode, **PERSON}
    values: dict[str, Any] = {
        "at": T0,
        "mode": mode,
        "client": "person",
        "user_agent": UA,
        "headers": BROWSER,
        "signals": signals,
        "sent_at": T0 - timedelta(hours=1),
    }
    return ClickSeen(**{**values, **overrides})


SWEEP = [opened(s, -60 + 4 * s, client=f"pool-{s}") for s in range(11)]  # a pool, 4 s a link


@pytest.mark.parametrize(
    ("seen", "opens", "reasons"),
    [
        (click("auto"), [opened(5, -2)], []),
        (click("auto"), [opened(5, -2), opened(5, -2.5, "head", "safelinks")], []),
        (click("auto"), SWEEP, ["several_options_opened"]),
        (
            click("auto"),
            [opened(0, -15, client="box"), opened(10, -1, client="box")],
            ["several_options_opened"],
        ),  # first and last link, 14 s apart
        (click("auto"), [opened(9, -30), opened(5, -700)], []),  # another option 11 min before
        (click("auto"), [opened(None, -5, "trap", "bot"), opened(5, -2)], ["trap_link"]),
        (click("auto"), [opened(None, -300, "trap"), opened(5, -2)], ["trap_link"]),
        (click("auto"), [opened(5, -2 + i / 10) for i in range(4)], ["link_crawl"]),
        (click("auto"), [opened(5, -9), opened(None, -1, "optout")], ["followed_to_opt_out"]),
        (click("auto"), [opened(5, -40), opened(None, -1, "optout")], []),
        (click("auto", sent_at=T0 - timedelta(seconds=0.3)), [], ["too_soon_after_send"]),
        (click("form", headers={}), [opened(5, -3)], ["no_browser_fetch_metadata"]),
        (click("form", headers={"sec-fetch-site": "cross-site"}), [], ["not_same_origin"]),
        (click("form", view_age_ms=200), [opened(5, -1)], ["pressed_too_soon"]),
        (
            click("auto", user_agent="Mozilla/5.0 (compatible; Mimecast)"),
            [],
            ["scanner_user_agent"],
        ),
        (click("auto", signals={"mode": "auto", "webdriver": True}), [], ["webdriver"]),
        # Presses on the page stand on their own evidence, whatever the mail saw.
        (click("press"), SWEEP, []),
        (click("press", sent_at=T0), SWEEP, []),
        (
            click("press", signals={"mode": "press", **PERSON, "trusted": False}),
            [],
            ["untrusted_event"],
        ),
        (
            click("press", signals={"mode": "press", **PERSON, "visible": False}),
            [],
            ["page_hidden"],
        ),
        (
            click("press", signals={"mode": "press", **PERSON, "since_ms": 90}),
            [],
            ["pressed_too_soon"],
        ),
        (click("press", signals={"mode": "press", **PERSON, "options": 4}), [], ["control_sweep"]),
        (click("confirm", signals={"mode": "confirm", **PERSON, "options": 11}), SWEEP, []),
        (click("press"), [opened(None, -4, "trap", "person")], ["trap_link"]),
        (click("press"), [opened(None, -4, "trap", "other")], []),
        (
            click(
                "confirm", signals={}, headers={**BROWSER, "sec-fetch-user": "?1"}, view_age_ms=4000
            ),
            SWEEP,
            [],
        ),
        (click("confirm", signals={}, view_age_ms=4000), [], ["no_user_activation"]),
        (
            click("confirm", signals={}, headers={**BROWSER, "sec-fetch-user": "?1"}),
            [],
            ["no_page_view"],
        ),
    ],
)
def test_answer_rules(seen: ClickSeen, opens: list[OpenSeen], reasons: list[str]) -> None:
    verdict = judge_answer(seen, opens, LIMITS)
    assert verdict.reasons == reasons and verdict.automated == bool(reasons)
    assert verdict.evidence["reasons"] == reasons and verdict.evidence["mode"] == seen.mode


@pytest.mark.parametrize(
    ("seen", "opens", "reasons"),
    [
        (click("press"), [opened(None, -90, "optout")], []),
        (click("press"), [opened(7, -8), opened(None, -4, "optout")], ["soon_after_score_link"]),
        (click("confirm"), [opened(7, -8), opened(None, -4, "optout")], ["soon_after_score_link"]),
        (click("confirm"), [opened(7, -30), opened(None, -25, "optout")], []),
        (click("press"), [opened(3, -200), opened(4, -190)], ["client_opened_several_options"]),
        (click("press"), [opened(None, -300, "trap")], ["trap_link"]),
        (click("press", headers={}), [], ["no_browser_fetch_metadata"]),
        (
            click("press", signals={"mode": "press", **PERSON, "since_ms": 30}),
            [],
            ["pressed_too_soon"],
        ),
        (
            click(
                "form", signals={}, headers={**BROWSER, "sec-fetch-user": "?1"}, view_age_ms=5000
            ),
            [],
            [],
        ),
        (
            click("form", signals={}, headers={**BROWSER, "sec-fetch-user": "?1"}, view_age_ms=100),
            [],
            ["pressed_too_soon"],
        ),
    ],
)
def test_opt_out_rules(seen: ClickSeen, opens: list[OpenSeen], reasons: list[str]) -> None:
    verdict = judge_opt_out(seen, opens, LIMITS)
    assert verdict.reasons == reasons and verdict.automated == bool(reasons)


def test_mode_comes_from_the_script_else_the_form() -> None:
    assert mode_of({"mode": "press"}, confirm=False) == "press"
    assert mode_of({"mode": "nonsense"}, confirm=False) == "form"
    assert mode_of({}, confirm=True) == "confirm"


def test_evidence_names_the_options_opened_and_the_time_since_sending() -> None:
    verdict = judge_answer(click("auto"), SWEEP, LIMITS)
    assert verdict.evidence["options_opened"] == list(range(11))
    assert verdict.evidence["seconds_since_sent"] == 3600.0


def test_a_page_view_caught_sweeping_stays_caught() -> None:
    press = click("press", signals={"mode": "press", **PERSON, "view": "v1"})
    late = judge_answer(press, [], LIMITS)
    assert not late.automated  # on its own, an early press of one option looks fine
    swept = {"view": "v1", "reasons": ["control_sweep"]}
    assert same_view_as_a_sweep(late, swept).reasons == ["control_sweep"]
    assert not same_view_as_a_sweep(late, {**swept, "view": "v2"}).automated
