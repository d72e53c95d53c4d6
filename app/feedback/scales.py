"""The scales, bands, lost-time buckets and factors of docs/scoring.md, written once here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Band(StrEnum):
    happy = "happy"
    neutral = "neutral"
    unhappy = "unhappy"


@dataclass(frozen=True)
class Scale:
    key: str
    min: int
    max: int
    happy_from: int  # scores >= this are happy
    neutral_from: int  # scores >= this (and below happy_from) are neutral
    labels: dict[int, str]  # the face or emoji shown for a score, where it has one

    @property
    def scores(self) -> range:
        return range(self.min, self.max + 1)

    def band(self, score: int) -> Band:
        if score >= self.happy_from:
            return Band.happy
        if score >= self.neutral_from:
            return Band.neutral
        return Band.unhappy

    def normalised(self, score: int) -> float:
        """(score − min) / (max − min) × 100."""
        return (score - self.min) / (self.max - self.min) * 100

    def label(self, score: int) -> str:
        return self.labels.get(score, str(score))


SCALES: dict[str, Scale] = {
    "happiness-0-10": Scale("happiness-0-10", 0, 10, 9, 7, {0: "😞", 5: "😐", 10: "😀"}),
    "faces-5": Scale("faces-5", 1, 5, 4, 3, {1: "😞", 2: "🙁", 3: "😐", 4: "🙂", 5: "😀"}),
}

# key -> minutes counted (docs/scoring.md, "lost time")
LOST_TIME_MINUTES: dict[str, int] = {
    "none": 0,
    "lt_15m": 10,
    "15_30m": 25,
    "30_60m": 45,
    "1_2h": 90,
    "2_4h": 180,
    "4_8h": 360,
    "gt_1d": 720,
}

POSITIVE_FACTORS = ("fast", "friendly", "first_contact", "informed", "learned", "expert")
NEGATIVE_FACTORS = (
    "slow",
    "repeat_explain",
    "not_informed",
    "closed_unasked",
    "not_solved",
    "hard_to_reach",
    "unfriendly",
)


def factor_polarity(key: str) -> str | None:
    if key in POSITIVE_FACTORS:
        return "positive"
    if key in NEGATIVE_FACTORS:
        return "negative"
    return None


def offered_factors(band: Band) -> tuple[str, ...]:
    """The chips the page offers: positive for happy, negative for unhappy, both for neutral."""
    if band == Band.happy:
        return POSITIVE_FACTORS
    if band == Band.unhappy:
        return NEGATIVE_FACTORS
    return POSITIVE_FACTORS + NEGATIVE_FACTORS
