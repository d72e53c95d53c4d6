"""formulas.py: the pure parts of docs/scoring.md."""

from __future__ import annotations

import math
from datetime import date

import pytest

from app.scoring import formulas as f


def test_happiness_and_margin() -> None:
    assert f.happiness(2, 1, 4) == 25.0
    assert f.happiness_margin(2, 1, 4) == round(1.96 * math.sqrt(0.6875 / 4) * 100, 1)
    assert f.happiness(1, 2, 3) == -33.3  # rounded to one decimal
    assert f.happiness(0, 0, 0) is None and f.happiness_margin(0, 0, 0) is None
    assert f.low_sample(9) and not f.low_sample(10)


def test_csat_ratio_and_mean_are_null_when_empty() -> None:
    assert f.csat(2, 3) == pytest.approx(66.6667, abs=1e-4)
    assert f.csat(0, 0) is None and f.ratio(0, 0) is None and f.mean(0, 0) is None
    assert f.ratio(0, 5) == 0.0


@pytest.mark.parametrize(
    ("histogram", "median"),
    [
        ({}, None),
        ({45: 1}, 45.0),
        ({0: 1, 10: 1, 90: 1, 360: 1}, 50.0),
        ({10: 3, 720: 2}, 10.0),
        ({10: 2, 720: 2}, 365.0),
        ({0: 0, 25: 2}, 25.0),
    ],
)
def test_median_from_histogram(histogram, median) -> None:
    assert f.median_from_histogram(histogram) == median


def test_lost_cost() -> None:
    assert f.lost_hours(90) == 1.5 and f.lost_cost(90, 40.0) == 60.0


@pytest.mark.parametrize(
    ("interval", "day", "start", "following"),
    [
        ("day", date(2026, 3, 29), date(2026, 3, 29), date(2026, 3, 30)),
        ("week", date(2026, 1, 4), date(2025, 12, 29), date(2026, 1, 5)),  # Sunday
        ("week", date(2026, 1, 5), date(2026, 1, 5), date(2026, 1, 12)),  # Monday
        ("month", date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 11, 15), date(2026, 10, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 3, 31), date(2026, 1, 1), date(2026, 4, 1)),
    ],
)
def test_periods(interval, day, start, following) -> None:
    assert f.period_start(day, interval) == start
    assert f.next_period(start, interval) == following


def test_period_list_covers_both_ends() -> None:
    assert f.periods(date(2026, 1, 4), date(2026, 1, 5), "week") == [
        date(2025, 12, 29),
        date(2026, 1, 5),
    ]


def _status(responses: int = 20, **figures) -> tuple[str, list[str]]:
    targets = {"min_happiness": 30.0, "max_lost_minutes": 60.0, "min_response_rate": 0.3}
    values = {"happiness_value": 40.0, "mean_lost_minutes": 50.0, "response_rate": 0.4}
    checks = f.xla_checks(**targets, **{**values, **figures})
    return f.xla_status(checks, responses), [c.status for c in checks]


@pytest.mark.parametrize(
    ("figures", "status", "each"),
    [
        ({}, "met", ["met", "met", "met"]),
        ({"happiness_value": 30.0}, "met", ["met", "met", "met"]),  # equal meets
        ({"happiness_value": 25.0}, "at_risk", ["at_risk", "met", "met"]),  # 5 points
        ({"happiness_value": 24.9}, "breached", ["breached", "met", "met"]),
        ({"mean_lost_minutes": 66.0}, "at_risk", ["met", "at_risk", "met"]),  # 10% of 60
        ({"mean_lost_minutes": 66.1}, "breached", ["met", "breached", "met"]),
        ({"response_rate": 0.28}, "at_risk", ["met", "met", "at_risk"]),  # 2 points
        ({"response_rate": 0.279}, "breached", ["met", "met", "breached"]),
        (
            {"happiness_value": 26.0, "response_rate": 0.1},
            "breached",
            ["at_risk", "met", "breached"],
        ),
        ({"happiness_value": None}, "at_risk", ["at_risk", "met", "met"]),  # nothing to judge
    ],
)
def test_xla_status(figures, status, each) -> None:
    assert _status(**figures) == (status, each)


def test_xla_with_fewer_than_ten_responses_is_at_risk() -> None:
    assert _status(responses=9)[0] == "at_risk"
    assert _status(responses=9, happiness_value=-80.0)[0] == "at_risk"
    assert _status(responses=10)[0] == "met"


def test_optional_targets_are_skipped() -> None:
    checks = f.xla_checks(
        min_happiness=0,
        max_lost_minutes=None,
        min_response_rate=None,
        happiness_value=10.0,
        mean_lost_minutes=None,
        response_rate=None,
    )
    assert [c.name for c in checks] == ["happiness"]
