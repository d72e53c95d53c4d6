"""How the dashboard writes figures: labels, scales, rounding, plurals, and why a status is what
it is (pure functions: figures in, text out; docs/scoring.md defines the figures)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.feedback import i18n, rules
from app.feedback.scales import NEGATIVE_FACTORS, POSITIVE_FACTORS
from app.scoring import formulas

HAPPINESS_SCALE = (-100.0, 100.0)  # happiness is −100…+100
PERCENT_SCALE = (0.0, 100.0)  # CSAT %, response rate and SLA attainment as percentages
PAGE_LOCALE = "en"  # the page's own words; factor labels follow the viewer


def viewer_locale(chosen: str | None, accept_language: str | None) -> str:
    """`?lang=` if it is one of the six languages, else the browser's Accept-Language."""
    return rules.pick_locale(chosen, None, accept_language, "en")


def factor_label(locale: str, key: str) -> str:
    """The factor as the feedback page words it, in `locale`; an unknown key stays a key."""
    if key not in POSITIVE_FACTORS + NEGATIVE_FACTORS:
        return key
    return i18n.t(locale, f"f_{key}")


def factor_labels(locale: str, keys: Iterable[str]) -> list[str]:
    return [factor_label(locale, k) for k in keys]


def clip(value: float, scale: tuple[float, float]) -> float:
    lo, hi = scale
    return min(max(value, lo), hi)


def margin_range(
    value: float | None, margin: float | None, scale: tuple[float, float] = HAPPINESS_SCALE
) -> tuple[float, float] | None:
    """value ± margin, clipped to the scale: a 95% range never reaches past −100 or +100."""
    if value is None or margin is None:
        return None
    return round(clip(value - margin, scale), 1), round(clip(value + margin, scale), 1)


def signed(value: float | None) -> str:
    """One decimal with its sign (happiness): "+25.0", "-3.5"; "—" for no value."""
    if value is None:
        return "—"
    return f"{round(value, 1) + 0.0:+.1f}"  # + 0.0: never "-0.0"


def one_decimal(value: float | None, suffix: str = "") -> str:
    """Every non-count figure is shown with one decimal (docs/scoring.md's example)."""
    return "—" if value is None else f"{round(value, 1):.1f}{suffix}"


def percent(ratio: float | None) -> str:
    """A 0…1 ratio as a percentage with one decimal, clipped to 0…100."""
    return "—" if ratio is None else one_decimal(clip(ratio * 100, PERCENT_SCALE), "%")


def happiness_range(value: float | None, margin: float | None) -> str:
    """The 95% range as text, clipped to −100…+100: "-56.3 to +100.0"."""
    found = margin_range(value, margin)
    if found is None:
        return ""
    return f"{signed(found[0])} to {signed(found[1])}"


def counted(key: str, count: int, **values: object) -> str:
    """A counted phrase in the page's language: "1 response", "2 responses"."""
    return i18n.plural(PAGE_LOCALE, key, count, **values)


def low_sample_reason(responses: int) -> str | None:
    """Why happiness is flagged: under 10 responses its margin is too wide to rely on (no
    responses: no value, nothing to explain)."""
    if not responses or not formulas.low_sample(responses):
        return None
    return (
        f"Low sample: fewer than {formulas.LOW_SAMPLE} responses "
        f"({counted('n_responses', responses)}), so the margin is wide."
    )


TARGET_NAMES = {
    "happiness": "happiness",
    "mean_lost_minutes": "mean lost time",
    "response_rate": "response rate",
}


def xla_reason(status: str, responses: int, targets: list[Any]) -> str:
    """One line saying which rule gave an XLA its status (docs/scoring.md, "XLA status")."""
    if responses < formulas.LOW_SAMPLE:
        return (
            f"At risk: {counted('n_responses', responses)} in this period, fewer than "
            f"{formulas.LOW_SAMPLE}, too few to call it met or breached."
        )
    missed = [TARGET_NAMES.get(t.name, t.name) for t in targets if t.status == "breached"]
    close = [TARGET_NAMES.get(t.name, t.name) for t in targets if t.status == "at_risk"]
    unmeasured = [TARGET_NAMES.get(t.name, t.name) for t in targets if t.actual is None]
    if status == "breached":
        return f"Breached: {', '.join(missed)} missed by more than the margin."
    if status == "at_risk" and unmeasured:
        return f"At risk: nothing to measure for {', '.join(unmeasured)}."
    if status == "at_risk":
        return f"At risk: {', '.join(close)} short of the target, within the margin."
    return "Met: every target reached."
