"""Minimum group size and the per-agent switch (docs/scoring.md, "Minimum group size").

A group of people (an agent, an assignment group, a service) with fewer than k counted responses
is shown as hidden, never with its figures: k = XPULSE_PRIVACY__MIN_GROUP_RESPONSES. With
XPULSE_PRIVACY__AGENT_FIGURES=false nothing is reported per agent at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request

from app.errors import Forbidden
from app.scoring.schemas import (
    BreakdownRow,
    Dimension,
    FactorList,
    HiddenFactorList,
    HiddenRow,
    HiddenSummary,
    HiddenTrendPoint,
    HiddenXlaStatus,
    ScoreFigures,
    ScoreFilter,
    ScoreSummary,
    TrendPoint,
    XlaRead,
    XlaStatus,
)

GROUP_DIMENSIONS = frozenset({Dimension.agent, Dimension.assignment_group, Dimension.service})


# Declared on every route that takes a filter or `by` (app/openapi.py documents it as Problem).
AGENT_OFF_RESPONSE: dict[int | str, dict[str, Any]] = {
    403: {"description": "Per-agent figures are switched off and this asks for them"}
}


class AgentFiguresOff(Forbidden):
    type, title = "agent-figures-off", "Per-agent figures are switched off"


@dataclass(frozen=True)
class Privacy:
    min_responses: int = 0  # 0: every group is shown
    agent_figures: bool = True

    @property
    def reason(self) -> str:
        return f"fewer than {self.min_responses} responses"

    def hides(self, filt: ScoreFilter, by: Dimension | None, responses: int) -> bool:
        """Whether figures over this many counted responses, grouped `by` (or not grouped)
        under `filt`, belong to too small a group of people to be shown."""
        grouped = by in GROUP_DIMENSIONS or self.names_group(filt) is not None
        return grouped and responses < self.min_responses

    def names_group(self, filt: ScoreFilter) -> Dimension | None:
        """The group a filter narrows to (its figures are that group's), if any."""
        for by, value in (
            (Dimension.agent, filt.agent),
            (Dimension.assignment_group, filt.assignment_group),
            (Dimension.service, filt.service),
        ):
            if value is not None:
                return by
        return None

    def check(self, filt: ScoreFilter, by: Dimension | None = None) -> None:
        """403 when per-agent figures are off and the request asks for them."""
        if not self.agent_figures and (by == Dimension.agent or filt.agent is not None):
            raise AgentFiguresOff(
                "This installation reports no figures per agent "
                "(XPULSE_PRIVACY__AGENT_FIGURES=false): no breakdown by agent, no agent filter"
            )


def breakdown_items(
    p: Privacy, filt: ScoreFilter, by: Dimension, rows: list[tuple[str | None, ScoreFigures]]
) -> list[BreakdownRow | HiddenRow]:
    return [
        HiddenRow(key=k, hidden=p.reason)
        if p.hides(filt, by, f.responses)
        else BreakdownRow(key=k, figures=f)
        for k, f in rows
    ]


def trend_items(
    p: Privacy, filt: ScoreFilter, points: list[tuple[date, ScoreFigures]]
) -> list[TrendPoint | HiddenTrendPoint]:
    return [
        HiddenTrendPoint(period=d, hidden=p.reason)
        if p.hides(filt, None, f.responses)
        else TrendPoint(period=d, figures=f)
        for d, f in points
    ]


def summary(
    p: Privacy, filt: ScoreFilter, figures: ScoreFigures, factors: FactorList
) -> ScoreSummary | HiddenSummary:
    if p.hides(filt, None, figures.responses):
        return HiddenSummary(filter=filt, hidden=p.reason)
    return ScoreSummary(filter=filt, figures=figures, factors=factors)


def factor_list(
    p: Privacy, filt: ScoreFilter, responses: int, factors: FactorList
) -> FactorList | HiddenFactorList:
    if p.hides(filt, None, responses):
        return HiddenFactorList(hidden=p.reason)
    return factors


def xla(p: Privacy, read: XlaRead) -> XlaRead:
    """An XLA on one service or group reports that group's figures: hidden like them."""
    current = read.current
    if read.scope == "all" or not isinstance(current, XlaStatus):
        return read
    if current.figures.responses >= p.min_responses:
        return read
    hidden = HiddenXlaStatus(
        period_start=current.period_start,
        period_end=current.period_end,
        tz=current.tz,
        hidden=p.reason,
    )
    return read.model_copy(update={"current": hidden})


def from_settings(settings: object) -> Privacy:
    p = settings.privacy  # type: ignore[attr-defined]
    return Privacy(min_responses=p.min_group_responses, agent_figures=p.agent_figures)


def current(request: Request) -> Privacy:
    return from_settings(request.app.state.settings)


PrivacyDep = Annotated[Privacy, Depends(current)]
