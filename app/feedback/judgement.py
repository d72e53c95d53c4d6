"""The mail-scanner judgement (pure): is a click on a feedback link a person's?

The rules are published in docs/mail-scanners.md; each returns a reason code that is
stored with the click. A one-click answer (the page records the mail's option by itself) is
judged on the whole mail's evidence; a press on the page is judged on its own evidence, so a
person is never held back by what a scanner did to the same mail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Lower-case substrings of user agents sent by mail-security scanners, link previewers and
# headless browsers. HTTP libraries are not listed: they cannot run the page's script, and the
# public form contract may be posted by tools.
SCANNER_UA_MARKERS = (
    "safelinks",
    "microsoft office",
    "ms-office",
    "mimecast",
    "proofpoint",
    "barracuda",
    "bitdefender",
    "trendmicro",
    "symantec",
    "forcepoint",
    "zscaler",
    "sophos",
    "fortiguard",
    "headlesschrome",
    "phantomjs",
    "bot/",
    "bot;",
    "crawler",
    "spider",
    "preview",
    "scanner",
)


ONE_CLICK = ("auto", "form")  # the mail's option recorded without a press the page can prove
PRESSES = ("press", "confirm")  # a press of a control on the page (confirm: the not-counted one)
CRAWL_FETCHES = 4  # one client fetching this many of the mail's links within burst_seconds


def is_scanner_ua(user_agent: str | None) -> bool:
    ua = (user_agent or "").lower()
    return any(marker in ua for marker in SCANNER_UA_MARKERS)


@dataclass(frozen=True)
class OpenSeen:
    kind: str  # page | head | trap | optout
    score: int | None
    at: datetime
    scanner_ua: bool
    client: str | None = None  # truncated hash of address + user agent


@dataclass(frozen=True)
class Limits:
    sweep_seconds: float = 600.0
    burst_seconds: float = 3.0
    trap_seconds: float = 10.0
    client_seconds: float = 600.0
    min_seconds_after_send: float = 5.0
    min_action_ms: float = 800.0
    sweep_controls: int = 4
    opt_out_after_score_seconds: float = 20.0


@dataclass(frozen=True)
class ClickSeen:
    """One POST as the judgement sees it."""

    at: datetime
    mode: str  # auto | press | confirm | form
    client: str | None = None
    user_agent: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    signals: Mapping[str, Any] = field(default_factory=dict)  # from the page's script
    view_age_ms: float | None = None  # since the server rendered the page (signed stamp)
    sent_at: datetime | None = None


@dataclass
class Verdict:
    automated: bool
    reasons: list[str]
    evidence: dict[str, Any]


def mode_of(signals: Mapping[str, Any], *, confirm: bool) -> str:
    """The page's script names its posts; a post without script is a plain form."""
    mode = signals.get("mode")
    if mode in ("auto", "press", "confirm"):
        return str(mode)
    return "confirm" if confirm else "form"


def judge_answer(click: ClickSeen, opens: Sequence[OpenSeen], limits: Limits) -> Verdict:
    """An answer's verdict: one-click answers on the mail's evidence, presses on their own."""
    reasons = browser_reasons(click)
    if click.mode in ONE_CLICK:
        reasons += mail_reasons(click.at, opens, limits, click.client)
        reasons += _too_soon(click, limits)
        if click.mode == "form" and _hurried(click.view_age_ms, limits):
            reasons.append("pressed_too_soon")
    else:
        reasons += deliberate_reasons(click, limits)
        if _trap_by(opens, click.at, click.client, limits.trap_seconds):
            reasons.append("trap_link")
        if click.mode == "press" and _number(click.signals.get("options")) >= limits.sweep_controls:
            reasons.append("control_sweep")
    return _verdict(click, opens, limits, reasons)


def judge_opt_out(click: ClickSeen, opens: Sequence[OpenSeen], limits: Limits) -> Verdict:
    """An opt-out press from the page: deliberate, and not from a client that swept the mail."""
    reasons = browser_reasons(click) + deliberate_reasons(click, limits)
    reasons += _too_soon(click, limits)
    client_window = limits.client_seconds
    if _trap_by(opens, click.at, click.client, client_window) or _trap_by(
        opens, click.at, None, limits.trap_seconds
    ):
        reasons.append("trap_link")
    # No exemption for a second press: a scanner that presses whatever a page offers would
    # press the "not applied" page's button too. Time-based reasons pass once time has passed.
    mine = _of_client(opens, click.at, click.client, client_window)
    if len({o.score for o in mine if o.kind == "page" and o.score is not None}) >= 2:
        reasons.append("client_opened_several_options")
    if _crawled(mine, limits):
        reasons.append("link_crawl")
    soon = timedelta(seconds=limits.opt_out_after_score_seconds)
    if any(o.kind == "page" and click.at - soon <= o.at <= click.at for o in mine):
        reasons.append("soon_after_score_link")
    return _verdict(click, opens, limits, reasons)


def same_view_as_a_sweep(verdict: Verdict, stored: Mapping[str, Any]) -> Verdict:
    """A page view once caught sweeping stays caught: its posts may arrive out of order (the
    sweep is reported at once, earlier presses queue behind each other)."""
    view = verdict.evidence.get("view")
    if not view or stored.get("view") != view or "control_sweep" not in stored.get("reasons", ()):
        return verdict
    reasons = [*verdict.reasons, "control_sweep"]
    return Verdict(True, reasons, {**verdict.evidence, "reasons": reasons})


def browser_reasons(click: ClickSeen) -> list[str]:
    """What every click must show: a browser's fetch metadata, no scanner or automation flag."""
    reasons = []
    site = click.headers.get("sec-fetch-site", "")
    if site and site != "same-origin":
        reasons.append("not_same_origin")
    elif not site and not click.headers.get("origin"):
        # Browsers send Sec-Fetch-Site (or at least Origin) on every POST; HTTP libraries do not.
        reasons.append("no_browser_fetch_metadata")
    if is_scanner_ua(click.user_agent):
        reasons.append("scanner_user_agent")
    if click.signals.get("webdriver") is True:
        reasons.append("webdriver")
    return reasons


def deliberate_reasons(click: ClickSeen, limits: Limits) -> list[str]:
    """A press of a person: a trusted input event on a visible page, not sooner than a person
    could read it. Without script the browser's user-activation flag and the server's clock."""
    s = click.signals
    if s.get("mode"):
        reasons = []
        if s.get("trusted") is not True:
            reasons.append("untrusted_event")
        if s.get("visible") is not True:
            reasons.append("page_hidden")
        if _number(s.get("since_ms"), default=-1) < limits.min_action_ms:
            reasons.append("pressed_too_soon")
        return reasons
    reasons = []
    if click.headers.get("sec-fetch-user") != "?1" and click.headers.get("sec-fetch-site"):
        reasons.append("no_user_activation")
    if click.view_age_ms is None:
        reasons.append("no_page_view")  # no stamp this server signed: no page was pressed
    elif _hurried(click.view_age_ms, limits):
        reasons.append("pressed_too_soon")
    return reasons


def mail_reasons(
    at: datetime, opens: Sequence[OpenSeen], limits: Limits, client: str | None
) -> list[str]:
    """The whole mail's evidence around a one-click answer at `at` (before and after it)."""
    reasons = []
    if len(options_opened(opens, at, limits)) >= 2:
        reasons.append("several_options_opened")
    if _trap_by(opens, at, None, limits.trap_seconds) or _trap_by(
        opens, at, client, limits.sweep_seconds
    ):
        reasons.append("trap_link")
    mine = _of_client(opens, at, client, limits.sweep_seconds)
    if _crawled(mine, limits):
        reasons.append("link_crawl")
    if _followed_to_opt_out(mine, limits):
        reasons.append("followed_to_opt_out")
    return reasons


def options_opened(opens: Sequence[OpenSeen], at: datetime, limits: Limits) -> list[int]:
    """Options of the mail opened by anyone within sweep_seconds of `at` (scanner pools rotate
    addresses and user agents, so this is not per client)."""
    sweep = timedelta(seconds=limits.sweep_seconds)
    return sorted(
        {
            o.score
            for o in opens
            if o.kind == "page" and o.score is not None and abs(o.at - at) <= sweep
        }
    )


def _too_soon(click: ClickSeen, limits: Limits) -> list[str]:
    if click.sent_at is None or limits.min_seconds_after_send <= 0:
        return []
    since = (click.at - click.sent_at).total_seconds()
    return ["too_soon_after_send"] if since < limits.min_seconds_after_send else []


def _hurried(view_age_ms: float | None, limits: Limits) -> bool:
    return view_age_ms is not None and view_age_ms < limits.min_action_ms


def _trap_by(opens: Sequence[OpenSeen], at: datetime, client: str | None, seconds: float) -> bool:
    """The trap link fetched within `seconds` of `at`, by `client` (None: by anyone)."""
    window = timedelta(seconds=seconds)
    return any(
        o.kind == "trap" and abs(o.at - at) <= window and (client is None or o.client == client)
        for o in opens
    )


def _of_client(
    opens: Sequence[OpenSeen], at: datetime, client: str | None, seconds: float
) -> list[OpenSeen]:
    if client is None:
        return []
    window = timedelta(seconds=seconds)
    return [o for o in opens if o.client == client and abs(o.at - at) <= window]


def _crawled(mine: Sequence[OpenSeen], limits: Limits) -> bool:
    """One client fetching CRAWL_FETCHES of the mail's links within burst_seconds."""
    times = sorted(o.at for o in mine)
    burst = timedelta(seconds=limits.burst_seconds)
    n = CRAWL_FETCHES
    return any(times[i + n - 1] - times[i] <= burst for i in range(len(times) - n + 1))


def _followed_to_opt_out(mine: Sequence[OpenSeen], limits: Limits) -> bool:
    """The client that opened a score link went on to the opt-out page within seconds: a link
    follower, or a person who will not mind that their one-click answer waits for a press."""
    soon = timedelta(seconds=limits.opt_out_after_score_seconds)
    scores = [o.at for o in mine if o.kind == "page"]
    return any(
        o.kind == "optout" and any(timedelta(0) <= o.at - at <= soon for at in scores) for o in mine
    )


def _number(value: Any, default: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _verdict(
    click: ClickSeen, opens: Sequence[OpenSeen], limits: Limits, reasons: list[str]
) -> Verdict:
    reasons = list(dict.fromkeys(reasons))
    near = timedelta(seconds=limits.burst_seconds)
    weak = []
    if not click.headers.get("accept-language"):
        weak.append("no_accept_language")
    if any(o.kind == "head" and abs(o.at - click.at) <= near for o in opens):
        weak.append("head_request_nearby")
    if any(o.scanner_ua and abs(o.at - click.at) <= near for o in opens):
        weak.append("scanner_fetch_nearby")
    since = (click.at - click.sent_at).total_seconds() if click.sent_at else None
    s = click.signals
    evidence: dict[str, Any] = {
        "mode": click.mode,
        "reasons": reasons,
        "weak": weak,
        "options_opened": options_opened(opens, click.at, limits),
        "seconds_since_sent": round(since, 1) if since is not None else None,
        "user_agent": (click.user_agent or "")[:200],
        "client": click.client,
        "view": str(s.get("view") or "")[:40] or None,
        "page_ms": round(click.view_age_ms) if click.view_age_ms is not None else None,
        "since_ms": _number(s.get("since_ms"), default=-1) if s.get("mode") else None,
        "trusted": s.get("trusted") if s.get("mode") else None,
        "fetch_site": click.headers.get("sec-fetch-site") or None,
        "user_activation": click.headers.get("sec-fetch-user") == "?1",
        "at": click.at.isoformat(),
    }
    return Verdict(bool(reasons), reasons, evidence)
