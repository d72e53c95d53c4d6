"""Chart geometry for the dashboard's server-side SVG: numbers in, coordinates out."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LineChart:
    width: int
    height: int
    line: list[str] = field(default_factory=list)  # "x,y" runs, split where data is missing
    band: str = ""  # polygon points of the 95% margin
    # x, y, title, and the link to the period's tickets
    dots: list[tuple[float, float, str, str | None]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    zero_y: float = 0.0


PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 12, 28


def line_chart(
    points: list[tuple[str, float | None, float | None]],
    *,
    width: int = 720,
    height: int = 240,
    lo: float = -100,
    hi: float = 100,
    every: int = 1,
    unit: str | None = None,
    hrefs: list[str | None] | None = None,
    describe: Callable[[float], str] | None = None,
) -> LineChart:
    """A line of values (None = no data) with an optional ± margin band on a fixed y range.

    Without `unit` values are signed with one decimal (happiness); with it, plain numbers
    followed by the unit, or `describe(value)`. `hrefs[i]` is where point i's dot leads."""
    chart = LineChart(width, height)
    inner_w, inner_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    n = max(len(points), 1)

    def x(i: int) -> float:
        return round(PAD_L + (inner_w * (i + 0.5) / n), 1)

    def y(v: float) -> float:
        v = min(max(v, lo), hi)
        return round(PAD_T + inner_h * (hi - v) / (hi - lo), 1)

    chart.zero_y = y(0) if lo <= 0 <= hi else y(lo)
    chart.y_ticks = [(y(v), f"{v:+g}" if v and unit is None else f"{v:g}") for v in _ticks(lo, hi)]
    step = max(1, every, -(-n // 12))  # at most about 12 labels
    chart.x_labels = [(x(i), label) for i, (label, _, _) in enumerate(points) if i % step == 0]
    run: list[str] = []
    upper: list[str] = []
    lower: list[str] = []
    for i, (label, value, margin) in enumerate(points):
        if value is None:
            if run:
                chart.line.append(" ".join(run))
            run = []
            continue
        run.append(f"{x(i)},{y(value)}")
        text = f"{value:+.1f}" if unit is None else f"{value:g}{unit}"
        if describe is not None:
            text = describe(value)
        if margin is not None:
            # y() clips to the scale, so the band and the text stop at −100 and +100.
            upper.append(f"{x(i)},{y(value + margin)}")
            lower.insert(0, f"{x(i)},{y(value - margin)}")
            low, high = max(value - margin, lo), min(value + margin, hi)
            text += f" (95%: {low:+.1f} to {high:+.1f})"
        href = hrefs[i] if hrefs and i < len(hrefs) else None
        chart.dots.append((x(i), y(value), f"{label}: {text}", href))
    if run:
        chart.line.append(" ".join(run))
    if upper:
        chart.band = " ".join(upper + lower)
    return chart


def nice_max(values: list[float], floor: float = 10) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above every value (and `floor`): a y-axis top."""
    top = max([floor, *values])
    scale = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 5, 10):
        if step * scale >= top:
            return float(step * scale)
    return float(10 * scale)  # unreachable: 10 × scale > top


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 50 if span >= 150 else 25 if span >= 60 else 10
    if span > 200:  # volume or hours: about five ticks
        step = nice_max([span / 5], floor=1)
    first = -(-lo // step) * step
    out, v = [], first
    while v <= hi:
        out.append(v)
        v += step
    return out


@dataclass
class Bar:
    label: str
    value: float | None
    text: str
    x: float
    y: float
    width: float
    tone: str  # good | neutral | bad | none
    href: str | None = None  # the tickets behind the bar


@dataclass
class BarChart:
    width: int
    height: int
    label_w: int
    zero_x: float
    bars: list[Bar]
    row_h: int


def bar_chart(
    rows: list[tuple[str, float | None, str]],
    *,
    lo: float = -100,
    hi: float = 100,
    width: int = 460,
    label_w: int = 150,
    row_h: int = 22,
    good_from: float = 30,
    bad_below: float = 0,
    hrefs: list[str | None] | None = None,
) -> BarChart:
    """Horizontal bars from zero (or `lo`) to each value; a missing value draws no bar.
    `hrefs[i]` is where row i leads."""
    plot_w = width - label_w - 130  # room for the value text on the right
    base = 0 if lo <= 0 <= hi else lo

    def px(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_w + plot_w * (v - lo) / (hi - lo)

    zero = round(px(base), 1)
    bars = []
    for i, (label, value, text) in enumerate(rows):
        y = i * row_h + 4
        href = hrefs[i] if hrefs and i < len(hrefs) else None
        if value is None:
            bars.append(Bar(label, None, text, zero, y, 0, "none"))  # hidden: no link either
            continue
        end = px(value)
        tone = "good" if value >= good_from else "bad" if value < bad_below else "neutral"
        left, span = round(min(zero, end), 1), round(abs(end - zero), 1)
        bars.append(Bar(label, value, text, left, y, span, tone, href))
    return BarChart(width, max(len(rows), 1) * row_h + 8, label_w, zero, bars, row_h)
