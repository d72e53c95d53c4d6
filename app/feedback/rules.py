"""Pure rules: sampling, fatigue, reminder timing and locale choice (the scanner judgement is
in judgement.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

LOCALES = ("en", "de", "fr", "es", "fi", "sv")


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
