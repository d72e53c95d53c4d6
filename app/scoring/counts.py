"""Raw per-group counts and sums, as SQL returns them, and the figures derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.feedback.scales import LOST_TIME_MINUTES, NEGATIVE_FACTORS, POSITIVE_FACTORS, SCALES
from app.scoring import formulas
from app.scoring.models import SCALE_PREFIX
from app.scoring.schemas import (
    CsatFigures,
    FactorList,
    FactorShare,
    HappinessFigures,
    LostTimeFigures,
    NotSent,
    ScoreFigures,
    SlaFigures,
)

HAPPINESS_SCALE = "happiness-0-10"  # happiness uses 0–10 responses only
CSAT_SCALE = "faces-5"  # CSAT uses 1–5 responses only


@dataclass
class Counts:
    """Raw per-group counts and sums, as SQL returns them; `figures()` derives the ratios."""

    tickets: int = 0  # tickets in scope, whatever their counts
    responses: int = 0
    per_scale: dict[str, dict[str, int]] = field(default_factory=dict)  # n, sum, happy, unhappy
    lost_n: int = 0
    lost_sum: int = 0
    lost_histogram: dict[int, int] = field(default_factory=dict)
    requests_sent: int = 0
    requests_not_sent: int = 0
    # never-sent requests by (status, reason)
    not_sent: dict[tuple[str, str | None], int] = field(default_factory=dict)
    sla_known: int = 0
    sla_met: int = 0
    factors: dict[str, int] = field(default_factory=dict)  # responses that picked each
    polarity_responses: dict[str, int] = field(default_factory=dict)  # picked any of polarity

    def factor_list(self) -> FactorList:
        def shares(polarity: str, known: tuple[str, ...]) -> list[FactorShare]:
            total = self.polarity_responses.get(polarity, 0)
            rows = [
                FactorShare(
                    factor=name,
                    polarity=polarity,
                    responses=self.factors.get(name, 0),
                    share=formulas.ratio(self.factors.get(name, 0), total),
                )
                for name in known
            ]
            return sorted(rows, key=lambda r: (-r.responses, known.index(r.factor)))

        return FactorList(
            positive_responses=self.polarity_responses.get("positive", 0),
            negative_responses=self.polarity_responses.get("negative", 0),
            positive=shares("positive", POSITIVE_FACTORS),
            negative=shares("negative", NEGATIVE_FACTORS),
        )

    def scale(self, key: str) -> dict[str, int]:
        return self.per_scale.get(key, {"n": 0, "sum": 0, "happy": 0, "unhappy": 0})

    def figures(self, hourly_cost: float) -> ScoreFigures:
        h = self.scale(HAPPINESS_SCALE)
        c = self.scale(CSAT_SCALE)
        norm_sum, norm_n = 0.0, 0
        for key, s in self.per_scale.items():
            scale = SCALES.get(key)
            if scale is None or not s["n"]:
                continue
            # Σ normalised = (Σ score − n × min) × 100 ÷ (max − min): exact on every backend.
            norm_sum += (s["sum"] - s["n"] * scale.min) * 100 / (scale.max - scale.min)
            norm_n += s["n"]
        return ScoreFigures(
            requests_sent=self.requests_sent,
            not_sent=[
                NotSent(status=status, reason=reason, requests=n)
                for (status, reason), n in sorted(
                    self.not_sent.items(), key=lambda x: (x[0][0], x[0][1] or "")
                )
                if n
            ],
            responses=self.responses,
            response_rate=formulas.ratio(self.responses, self.requests_sent),
            happiness=HappinessFigures(
                value=formulas.happiness(h["happy"], h["unhappy"], h["n"]),
                margin=formulas.happiness_margin(h["happy"], h["unhappy"], h["n"]),
                low_sample=formulas.low_sample(h["n"]),
                responses=h["n"],
                happy=h["happy"],
                neutral=h["n"] - h["happy"] - h["unhappy"],
                unhappy=h["unhappy"],
            ),
            csat=CsatFigures(
                value=formulas.csat(c["happy"], c["n"]), responses=c["n"], satisfied=c["happy"]
            ),
            mean_normalised_score=formulas.mean(norm_sum, norm_n),
            lost_time=LostTimeFigures(
                responses=self.lost_n,
                mean_minutes=formulas.mean(self.lost_sum, self.lost_n),
                median_minutes=formulas.median_from_histogram(self.lost_histogram),
                total_hours=formulas.lost_hours(self.lost_sum),
                cost=formulas.lost_cost(self.lost_sum, hourly_cost),
            ),
            sla=SlaFigures(
                known=self.sla_known,
                met=self.sla_met,
                attainment=formulas.ratio(self.sla_met, self.sla_known),
            ),
        )

    def add(self, other: Counts) -> None:
        """Add another part of the same group (sums from buckets and from per-ticket rows)."""
        self.tickets += other.tickets
        self.responses += other.responses
        for key, values in other.per_scale.items():
            mine = self.per_scale.setdefault(key, dict.fromkeys(values, 0))
            for name, n in values.items():
                mine[name] += n
        self.lost_n += other.lost_n
        self.lost_sum += other.lost_sum
        add_into(self.lost_histogram, other.lost_histogram)
        self.requests_sent += other.requests_sent
        self.requests_not_sent += other.requests_not_sent
        self.sla_known += other.sla_known
        self.sla_met += other.sla_met
        add_into(self.factors, other.factors)
        add_into(self.polarity_responses, other.polarity_responses)
        add_into(self.not_sent, other.not_sent)


def add_into(mine: dict[Any, int], other: dict[Any, int]) -> None:
    for key, n in other.items():
        mine[key] = mine.get(key, 0) + n


# Column names per field, built once: a breakdown by agent makes a thousand Counts.
_SCALE_COLUMNS = {
    key: {f: f"{prefix}_{f}" for f in ("n", "sum", "happy", "unhappy")}
    for key, prefix in SCALE_PREFIX.items()
}
_LOST_COLUMNS = {v: f"lost_{v}" for v in LOST_TIME_MINUTES.values()}
_FACTOR_COLUMNS = {k: f"f_{k}" for k in POSITIVE_FACTORS + NEGATIVE_FACTORS}


def from_row(m: dict[str, Any]) -> Counts:
    """Counts from a row of ticket_scores sums or bucket sums (columns named as in both)."""
    return Counts(
        tickets=int(m["tickets"]),
        responses=int(m["responses"]),
        per_scale={
            key: {f: int(m[c]) for f, c in columns.items()}
            for key, columns in _SCALE_COLUMNS.items()
        },
        lost_n=int(m["lost_n"]),
        lost_sum=int(m["lost_sum"]),
        # The median comes from this histogram: lost time is one of docs/scoring.md's buckets.
        lost_histogram={v: int(m[c]) for v, c in _LOST_COLUMNS.items()},
        requests_sent=int(m["requests_sent"]),
        requests_not_sent=int(m["requests_not_sent"]),
        sla_known=int(m["sla_known"]),
        sla_met=int(m["sla_met"]),
        factors={k: int(m.get(c, 0)) for k, c in _FACTOR_COLUMNS.items()},
        polarity_responses={p: int(m.get(f"{p}_responses", 0)) for p in ("positive", "negative")},
    )
