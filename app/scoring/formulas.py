"""docs/scoring.md as pure functions: counts and sums in, the published figures out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOW_SAMPLE = 10  # fewer responses than this are flagged `low_sample` (docs/scoring.md, happiness)
Z95 = 1.96

# XLA margins (docs/scoring.md, "XLA status")
HAPPINESS_MARGIN = 5.0  # points
LOST_TIME_MARGIN = 0.10  # share of the lost-time target
RESPONSE_RATE_MARGIN = 0.02  # 2 points of response rate, as a 0..1 ratio


def ratio(part: float, whole: float) -> float | None:
    """part ÷ whole; None for an empty scope (docs/scoring.md: ratios are null, never 0)."""
    return None if not whole else part / whole


def happiness(n_happy: int, n_unhappy: int, n: int) -> float | None:
    """(n_happy − n_unhappy) ÷ N × 100, rounded to one decimal."""
    if n <= 0:
        return None
    return round((n_happy - n_unhappy) / n * 100, 1)


def happiness_margin(n_happy: int, n_unhappy: int, n: int) -> float | None:
    """1.96 × √((p + q − (p − q)²) ÷ N) × 100, rounded to one decimal."""
    if n <= 0:
        return None
    p, q = n_happy / n, n_unhappy / n
    variance = max(p + q - (p - q) ** 2, 0.0)  # clamp float noise below zero
    return round(Z95 * math.sqrt(variance / n) * 100, 1)


def low_sample(n: int) -> bool:
    return n < LOW_SAMPLE


def csat(n_satisfied: int, n: int) -> float | None:
    """Responses scoring 4–5 ÷ N × 100 (1–5 responses only)."""
    value = ratio(n_satisfied, n)
    return None if value is None else value * 100


def mean(total: float, n: int) -> float | None:
    return ratio(total, n)


def median_from_histogram(histogram: Mapping[int, int]) -> float | None:
    """The median of values given as {value: count}; the mean of the two middle ones if even."""
    n = sum(histogram.values())
    if n <= 0:
        return None
    ordered = sorted((v, c) for v, c in histogram.items() if c > 0)

    def nth(k: int) -> int:  # 0-based k-th value in sorted order
        seen = 0
        for value, count in ordered:
            seen += count
            if k < seen:
                return value
        raise IndexError(k)  # unreachable: k < n

    if n % 2:
        return float(nth(n // 2))
    return (nth(n // 2 - 1) + nth(n // 2)) / 2


def lost_hours(total_minutes: int) -> float:
    return total_minutes / 60


def lost_cost(total_minutes: int, hourly_cost: float) -> float:
    """Total hours × XPULSE_HOURLY_COST."""
    return lost_hours(total_minutes) * hourly_cost


# --- periods ------------------------------------------------------------------------------

INTERVALS = ("day", "week", "month")


def period_start(day: date, interval: str) -> date:
    """The first local day of the period holding `day` (ISO weeks start on Monday)."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    raise ValueError(interval)


def next_period(start: date, interval: str) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3}[interval]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def periods(first: date, last: date, interval: str) -> list[date]:
    """Every period start from the one holding `first` to the one holding `last`."""
    out: list[date] = []
    current = period_start(first, interval)
    while current <= last:
        out.append(current)
        current = next_period(current, interval)
    return out


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` starts in `tz` (DST-safe: wall-clock midnight)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


# --- XLA status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCheck:
    name: str  # happiness | mean_lost_minutes | response_rate
    target: float
    actual: float | None
    margin: float
    status: str  # met | at_risk | breached


def _check(
    name: str, target: float, actual: float | None, margin: float, higher: bool
) -> TargetCheck:
    if actual is None:
        # Nothing to measure is not a miss we can size: flag it rather than call it breached.
        return TargetCheck(name, target, actual, margin, "at_risk")
    shortfall = (target - actual) if higher else (actual - target)
    if shortfall <= 0:
        status = "met"
    elif shortfall <= margin + 1e-9:
        status = "at_risk"
    else:
        status = "breached"
    return TargetCheck(name, target, actual, margin, status)


def xla_checks(
    *,
    min_happiness: float,
    max_lost_minutes: float | None,
    min_response_rate: float | None,
    happiness_value: float | None,
    mean_lost_minutes: float | None,
    response_rate: float | None,
) -> list[TargetCheck]:
    checks = [_check("happiness", min_happiness, happiness_value, HAPPINESS_MARGIN, True)]
    if max_lost_minutes is not None:
        margin = LOST_TIME_MARGIN * max_lost_minutes
        checks.append(
            _check("mean_lost_minutes", max_lost_minutes, mean_lost_minutes, margin, False)
        )
    if min_response_rate is not None:
        checks.append(
            _check("response_rate", min_response_rate, response_rate, RESPONSE_RATE_MARGIN, True)
        )
    return checks


def xla_status(checks: list[TargetCheck], responses: int) -> str:
    """met / at_risk / breached (docs/scoring.md). Fewer than 10 responses is always at_risk:
    too few to call a period met or breached."""
    if responses < LOW_SAMPLE:
        return "at_risk"
    statuses = {c.status for c in checks}
    if statuses == {"met"}:
        return "met"
    if "breached" in statuses:
        return "breached"
    return "at_risk"
