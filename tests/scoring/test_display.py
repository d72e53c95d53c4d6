"""The dashboard's display fixes as pure functions: factor labels in the viewer's language,
margins clipped to the scale, plurals, one-decimal rounding, and the reason for a status."""

from __future__ import annotations

import pytest

from app.scoring import charts, display
from app.scoring.formulas import TargetCheck


@pytest.mark.parametrize(
    ("locale", "label"),
    [
        ("en", "I had to explain my issue several times"),
        ("de", "Ich musste mein Problem mehrmals erklären"),
        ("fr", "J’ai dû expliquer mon problème plusieurs fois"),
        ("es", "Tuve que explicar mi problema varias veces"),
        ("fi", "Jouduin selittämään ongelmani useaan kertaan"),
        ("sv", "Jag fick förklara mitt problem flera gånger"),
    ],
)
def test_factor_labels_in_each_language(locale: str, label: str) -> None:
    assert display.factor_label(locale, "repeat_explain") == label


def test_an_unknown_factor_or_language_falls_back() -> None:
    assert display.factor_label("en", "no_such_factor") == "no_such_factor"
    assert display.factor_label("xx", "closed_unasked") == "The ticket was closed without asking me"


def test_the_viewer_language_comes_from_the_choice_then_the_browser() -> None:
    assert display.viewer_locale(None, "de-CH,de;q=0.9,en;q=0.5") == "de"
    assert display.viewer_locale("fi", "de-CH") == "fi"
    assert display.viewer_locale("klingon", "ja, sv;q=0.4") == "sv"
    assert display.viewer_locale(None, None) == "en"


def test_a_margin_is_clipped_to_the_happiness_scale() -> None:
    # Two answers, one happy, one unhappy: the margin (138.6) is wider than the scale.
    assert display.margin_range(0.0, 138.6) == (-100.0, 100.0)
    assert display.margin_range(80.0, 30.0) == (50.0, 100.0)
    assert display.margin_range(-90.0, 25.04) == (-100.0, -65.0)
    assert display.happiness_range(25.0, 81.3) == "-56.3 to +100.0"
    assert display.margin_range(None, None) is None


def test_percentages_are_clipped_to_0_100() -> None:
    assert display.percent(1.2) == "100.0%"
    assert display.percent(-0.1) == "0.0%"
    assert display.percent(0.7777) == "77.8%"
    assert display.percent(None) == "—"
    assert display.clip(104.0, display.PERCENT_SCALE) == 100.0


def test_the_trend_band_stops_at_the_scale() -> None:
    chart = charts.line_chart([("2026-01-05", 0.0, 138.6)], height=240)
    ys = [float(p.split(",")[1]) for p in chart.band.split()]
    top, bottom = 12, 240 - 28  # the plot's padding
    assert min(ys) == top and max(ys) == bottom
    assert "95%: -100.0 to +100.0" in chart.dots[0][2]


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 responses"), (1, "1 response"), (2, "2 responses")]
)
def test_plurals(count: int, text: str) -> None:
    assert display.counted("n_responses", count) == text


def test_one_met_ticket_is_singular() -> None:
    assert display.counted("n_tickets_met", 1, met=1) == "1 of 1 ticket"


def test_rounding_to_one_decimal() -> None:
    assert display.one_decimal(25 / 60, " h") == "0.4 h"  # 0.4166666666666667 hours
    assert display.one_decimal(204.16666) == "204.2"
    assert display.one_decimal(None) == "—"
    assert display.signed(25.0) == "+25.0"
    assert display.signed(-3.04) == "-3.0"
    assert display.signed(None) == "—"


def test_nice_axis_tops() -> None:
    assert charts.nice_max([]) == 10
    assert charts.nice_max([37]) == 50
    assert charts.nice_max([120]) == 200
    assert charts.nice_max([4100]) == 5000
    assert len(charts._ticks(0, 5000)) == 6  # 0, 1000, … 5000


def _check(name: str, status: str, actual: float | None = 1.0) -> TargetCheck:
    return TargetCheck(name, 1.0, actual, 0.1, status)


def test_an_xla_at_risk_for_too_few_responses_says_so() -> None:
    checks = [_check("happiness", "breached"), _check("response_rate", "breached")]
    reason = display.xla_reason("at_risk", 3, checks)
    assert reason.startswith("At risk: 3 responses in this period, fewer than 10")
    assert display.xla_reason("at_risk", 1, checks).startswith("At risk: 1 response in")


def test_other_xla_reasons() -> None:
    breached = [_check("happiness", "met"), _check("mean_lost_minutes", "breached")]
    assert display.xla_reason("breached", 40, breached) == (
        "Breached: mean lost time missed by more than the margin."
    )
    close = [_check("happiness", "at_risk"), _check("response_rate", "met")]
    assert display.xla_reason("at_risk", 40, close) == (
        "At risk: happiness short of the target, within the margin."
    )
    nothing = [_check("happiness", "met"), _check("response_rate", "at_risk", None)]
    assert display.xla_reason("at_risk", 40, nothing) == (
        "At risk: nothing to measure for response rate."
    )
    assert display.xla_reason("met", 40, [_check("happiness", "met")]) == (
        "Met: every target reached."
    )


def test_low_sample_reason() -> None:
    assert display.low_sample_reason(12) is None
    assert display.low_sample_reason(0) is None  # no value to doubt
    assert display.low_sample_reason(4) == (
        "Low sample: fewer than 10 responses (4 responses), so the margin is wide."
    )


def test_bars_keep_the_chart_width_and_carry_their_links() -> None:
    chart = charts.bar_chart(
        [("Email", 25.0, "+25.0"), ("Laptop", None, "hidden")], width=460, hrefs=["/e", None]
    )
    assert chart.width == 460
    assert [b.href for b in chart.bars] == ["/e", None]
    assert chart.bars[0].width > 0 and chart.bars[1].value is None
