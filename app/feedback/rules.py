"""Pure rules: sampling, fatigue, reminder timing, locale choice and the scanner judgement."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

LOCALES = ("en", "de", "fr", "es", "fi", "sv")

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


def sampled_in(key: str, percent: int) -> bool:
    """Deterministic per key, so a retried webhook gets the same answer."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100
    return bucket < percent


def fatigue_since(now: datetime, fatigue_days: int) -> datetime | None:
    """Requests created after this instant count against the requester; None when off."""
    return now - timedelta(days=fatigue_days) if fatigue_days > 0 else None


def reminder_due_before(now: datetime, delay_hours: float) -> datetime:
    """Requests sent before this instant (and unanswered) are due a reminder."""
    return now - timedelta(hours=delay_hours)


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    lang = value.strip().replace("_", "-").split("-")[0].lower()
    return lang if lang in LOCALES else None


def pick_locale(
    chosen: str | None, ticket_locale: str | None, accept_language: str | None, default: str
) -> str:
    """The switcher's choice, else the requester's locale on the ticket, else Accept-Language."""
    for candidate in (chosen, ticket_locale):
        if found := normalise_locale(candidate):
            return found
    for lang, _q in _accept_language(accept_language or ""):
        if found := normalise_locale(lang):
            return found
    return normalise_locale(default) or "en"


def _accept_language(header: str) -> list[tuple[str, float]]:
    items = []
    for part in header.split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang and q > 0:
            items.append((lang, q))
    return sorted(items, key=lambda item: -item[1])


def is_scanner_ua(user_agent: str | None) -> bool:
    ua = (user_agent or "").lower()
    return any(marker in ua for marker in SCANNER_UA_MARKERS)


@dataclass(frozen=True)
class OpenSeen:
    kind: str  # page | head | trap
    score: int | None
    at: datetime
    scanner_ua: bool
    client: str | None = None  # truncated hash of address + user agent


@dataclass(frozen=True)
class Thresholds:
    burst_seconds: float
    trap_seconds: float
    min_seconds_after_send: float
    client_seconds: float = 600.0  # how long a client that swept the mail stays suspect


def judge(
    *,
    at: datetime,
    opens: Sequence[OpenSeen],
    sent_at: datetime | None,
    user_agent: str | None,
    headers: dict[str, str],
    signals: dict[str, Any],
    limits: Thresholds,
    client: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(automated, evidence) for a click at `at`, given the request's opens around it.

    Strong evidence makes a click automated; weak evidence is only kept for audits, because
    tools may post the public form contract without a browser (README, "Feedback")."""
    burst = timedelta(seconds=limits.burst_seconds)
    trap = timedelta(seconds=limits.trap_seconds)
    near = [o for o in opens if abs(o.at - at) <= burst]
    fetched = [o for o in near if o.kind in ("page", "head")]
    options = sorted({o.score for o in fetched if o.score is not None})
    reasons: list[str] = []
    if is_scanner_ua(user_agent):
        reasons.append("scanner_user_agent")
    # Breadth is what gives a scanner away: at delivery it fetches every link of the mail.
    # A fetch of the clicked link alone (time-of-click protection) is not held against a person.
    if len(options) >= 2 or len(fetched) >= 4:
        reasons.append("several_options_within_seconds")
    if any(o.kind == "trap" and abs(o.at - at) <= trap for o in opens):
        reasons.append("trap_link")
    # The browser that swept every option (or the trap) earlier may press buttons later.
    if client is not None and client in swept_clients(opens, at, limits):
        reasons.append("client_swept_the_mail")
    since_sent = (at - sent_at).total_seconds() if sent_at else None
    if since_sent is not None and since_sent < limits.min_seconds_after_send:
        reasons.append("too_soon_after_send")
    weak = list(_weak_signals(headers, signals))
    if any(o.kind == "head" for o in near):
        weak.append("head_request_nearby")
    if any(o.scanner_ua for o in near):
        weak.append("scanner_fetch_nearby")
    evidence: dict[str, Any] = {
        "reasons": reasons,
        "weak": weak,
        "options_opened": options,
        "seconds_since_sent": round(since_sent, 1) if since_sent is not None else None,
        "user_agent": (user_agent or "")[:200],
        "client": client,
    }
    return bool(reasons), evidence


def swept_clients(opens: Sequence[OpenSeen], at: datetime, limits: Thresholds) -> set[str]:
    """Clients that fetched the trap or several options within seconds, near `at`."""
    window = timedelta(seconds=limits.client_seconds)
    burst = timedelta(seconds=limits.burst_seconds)
    mine: dict[str, list[OpenSeen]] = {}
    for o in opens:
        if o.client is not None and abs(o.at - at) <= window:
            mine.setdefault(o.client, []).append(o)
    swept = set()
    for client, seen in mine.items():
        if any(o.kind == "trap" for o in seen):
            swept.add(client)
            continue
        fetched = sorted((o for o in seen if o.score is not None), key=lambda o: o.at)
        for first, second in itertools.pairwise(fetched):
            if first.score != second.score and second.at - first.at <= burst:
                swept.add(client)
                break
    return swept


def _weak_signals(headers: dict[str, str], signals: dict[str, Any]) -> Iterable[str]:
    if not headers.get("accept-language"):
        yield "no_accept_language"
    if not headers.get("sec-fetch-site") and not headers.get("origin"):
        yield "no_browser_fetch_headers"
    if signals.get("webdriver"):
        yield "webdriver"
    if signals.get("interacted") is False:
        yield "no_interaction"
    if signals.get("visible") is False:
        yield "page_hidden"
