"""API shapes of the scoring domain; every figure is defined in docs/scoring.md."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.scoring.models import XlaPeriod, XlaScope


def known_zone(value: str) -> str:
    """`value` if it names an IANA time zone, else a ValueError (a 422 in a query)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: name too long
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class Dimension(StrEnum):
    """What a breakdown groups by: a ticket field (agent = the ticket's assignee)."""

    connector = "connector"
    service = "service"
    assignment_group = "assignment_group"
    category = "category"
    priority = "priority"
    channel = "channel"
    agent = "agent"


class Interval(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class ScoreFilter(BaseModel):
    """Which responses count: by their ticket's resolution day (in `tz`) and ticket fields."""

    date_from: date | None = Field(None, description="First resolution day, inclusive, in `tz`.")
    date_to: date | None = Field(None, description="Last resolution day, inclusive, in `tz`.")
    tz: str = Field("UTC", description="IANA time zone for days and periods.")
    connector_id: uuid.UUID | None = None
    service: str | None = None
    assignment_group: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = Field(None, description="How the ticket was raised.")
    agent: str | None = Field(None, description="The ticket's assignee.")

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @model_validator(mode="after")
    def _ordered(self) -> ScoreFilter:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


class HappinessFigures(BaseModel):
    value: float | None = Field(description="(n_happy − n_unhappy) ÷ N × 100, −100…+100.")
    margin: float | None = Field(description="95% margin: 1.96 × √((p + q − (p − q)²) ÷ N) × 100.")
    low_sample: bool = Field(description="Fewer than 10 responses.")
    responses: int = Field(description="N: responses on the 0–10 scale.")
    happy: int
    neutral: int
    unhappy: int


class CsatFigures(BaseModel):
    value: float | None = Field(description="Responses scoring 4–5 ÷ N × 100 (1–5 scale).")
    responses: int
    satisfied: int


class LostTimeFigures(BaseModel):
    responses: int = Field(description="Responses that answered the lost-time question.")
    mean_minutes: float | None
    median_minutes: float | None
    total_hours: float
    cost: float = Field(description="total_hours × XPULSE_HOURLY_COST.")


class SlaFigures(BaseModel):
    known: int = Field(description="Tickets whose SLA outcome is known.")
    met: int
    attainment: float | None = Field(description="met ÷ known, 0…1.")


class NotSent(BaseModel):
    status: str = Field(description="suppressed | failed")
    reason: str | None
    requests: int


class ScoreFigures(BaseModel):
    requests_sent: int = Field(description="Feedback requests delivered (sent_at set).")
    not_sent: list[NotSent] = Field(description="Suppressed and failed requests, by reason.")
    responses: int = Field(description="Responses counted (automated clicks never are).")
    response_rate: float | None = Field(description="responses ÷ requests sent, 0…1.")
    happiness: HappinessFigures
    csat: CsatFigures
    mean_normalised_score: float | None = Field(description="Mean of normalised scores, 0…100.")
    lost_time: LostTimeFigures
    sla: SlaFigures


class FactorShare(BaseModel):
    factor: str
    polarity: str
    responses: int = Field(description="Responses that picked this factor.")
    share: float | None = Field(
        description="responses ÷ responses that picked any factor of the same polarity."
    )


class FactorList(BaseModel):
    positive_responses: int = Field(description="Responses that picked any positive factor.")
    negative_responses: int = Field(description="Responses that picked any negative factor.")
    positive: list[FactorShare]
    negative: list[FactorShare]


HIDDEN = Field(
    description="Why the figures are withheld: `fewer than k responses`, k being "
    "XPULSE_PRIVACY__MIN_GROUP_RESPONSES (docs/scoring.md, minimum group size)."
)


class HiddenFactorList(BaseModel):
    """The factors of an agent, group or service with too few counted responses."""

    hidden: str = HIDDEN


class FollowupFigures(BaseModel):
    """Follow-ups of unhappy answers that matched an alert rule (docs/actions.md)."""

    opened: int = Field(description="Follow-ups of answers on tickets in scope.")
    acknowledged: int = Field(description="Of those, acknowledged and not yet closed.")
    closed: int
    rate: float | None = Field(description="Follow-up rate: closed ÷ opened, 0…1.")
    median_hours_to_close: float | None = Field(
        description="Median hours from opening to closing, of the closed ones."
    )


class ScoreSummary(BaseModel):
    filter: ScoreFilter
    figures: ScoreFigures
    factors: FactorList
    followups: FollowupFigures | None = None


class HiddenSummary(BaseModel):
    """The scores of an agent, group or service with too few counted responses."""

    filter: ScoreFilter
    hidden: str = HIDDEN


class BreakdownRow(BaseModel):
    key: str | None = Field(description="The group's value; null for tickets without one.")
    figures: ScoreFigures


class HiddenRow(BaseModel):
    """A group with too few counted responses: its key, never its figures."""

    key: str | None = Field(description="The group's value; null for tickets without one.")
    hidden: str = HIDDEN


class Breakdown(BaseModel):
    by: Dimension
    filter: ScoreFilter
    items: list[BreakdownRow | HiddenRow]
    next_cursor: str | None


class TrendPoint(BaseModel):
    period: date = Field(description="First local day of the period (Monday for weeks).")
    figures: ScoreFigures


class HiddenTrendPoint(BaseModel):
    """A period of an agent's, group's or service's trend with too few counted responses."""

    period: date = Field(description="First local day of the period (Monday for weeks).")
    hidden: str = HIDDEN


class Trend(BaseModel):
    interval: Interval
    filter: ScoreFilter
    items: list[TrendPoint | HiddenTrendPoint]
    next_cursor: str | None


# --- XLAs -----------------------------------------------------------------------------------


class XlaBase(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scope: XlaScope = XlaScope.all
    scope_value: str | None = Field(
        None, max_length=255, description="The service or assignment group; null for `all`."
    )
    period: XlaPeriod = XlaPeriod.month
    min_happiness: float = Field(ge=-100, le=100)
    max_lost_minutes: float | None = Field(None, ge=0, description="Maximum mean lost time.")
    min_response_rate: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _scope_value(self) -> XlaBase:
        if (self.scope == XlaScope.all) != (self.scope_value is None):
            raise ValueError("scope_value is required for service/group scopes and null for all")
        return self


class XlaCreate(XlaBase):
    pass


class XlaUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    scope: XlaScope | None = None
    scope_value: str | None = Field(None, max_length=255)
    period: XlaPeriod | None = None
    min_happiness: float | None = Field(None, ge=-100, le=100)
    max_lost_minutes: float | None = Field(None, ge=0)
    min_response_rate: float | None = Field(None, ge=0, le=1)


class TargetStatus(BaseModel):
    name: str = Field(description="happiness | mean_lost_minutes | response_rate")
    target: float
    actual: float | None
    margin: float
    status: str = Field(description="met | at_risk | breached")


class XlaStatus(BaseModel):
    period_start: date
    period_end: date = Field(description="Last day of the period, inclusive.")
    tz: str
    status: str = Field(description="met | at_risk | breached")
    targets: list[TargetStatus]
    figures: ScoreFigures


class HiddenXlaStatus(BaseModel):
    """An XLA on a service or group with too few counted responses: no status, no figures."""

    period_start: date
    period_end: date = Field(description="Last day of the period, inclusive.")
    tz: str
    hidden: str = HIDDEN


class XlaRead(XlaBase):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    current: XlaStatus | HiddenXlaStatus | None = Field(
        None, description="Status of the period holding `at`; hidden for a small group."
    )


# --- insights -------------------------------------------------------------------------------


class WatermelonGroup(BaseModel):
    by: str = Field(description="service | assignment_group")
    key: str
    sla_attainment: float
    happiness: float
    margin: float | None
    responses: int


class HiddenWatermelonGroup(BaseModel):
    """A service or group with too few counted responses to be judged or shown."""

    by: str = Field(description="service | assignment_group")
    key: str
    hidden: str = HIDDEN


class WatermelonTicket(BaseModel):
    ticket_id: uuid.UUID
    number: str
    url: str | None
    service: str | None
    assignment_group: str | None
    agent: str | None = Field(
        description="The assignee; absent with XPULSE_PRIVACY__AGENT_FIGURES=false."
    )
    resolved_at: datetime | None
    response_id: uuid.UUID
    score: int
    scale: str
    answered_at: datetime
    comment: str | None


class Watermelon(BaseModel):
    sla_min: float
    happiness_max: float
    min_responses: int
    groups: list[WatermelonGroup | HiddenWatermelonGroup]
    tickets: list[WatermelonTicket]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page of tickets.")


# --- answers and comments -------------------------------------------------------------------


class AnswerBand(StrEnum):
    """A response's band on its scale (docs/scoring.md, scales)."""

    happy = "happy"
    neutral = "neutral"
    unhappy = "unhappy"


class AnswerTicket(BaseModel):
    ticket_id: uuid.UUID
    number: str
    url: str | None = Field(description="The ticket in its ITSM.")
    service: str | None
    assignment_group: str | None
    category: str | None
    priority: str | None
    channel: str | None
    agent: str | None = Field(
        description="The assignee; absent with XPULSE_PRIVACY__AGENT_FIGURES=false."
    )
    resolved_at: datetime | None


class Answer(BaseModel):
    """One counted response with its ticket: what the dashboard's ticket and comment lists show."""

    response_id: uuid.UUID
    answered_at: datetime
    score: int
    scale: str
    band: AnswerBand
    normalised_score: float = Field(description="(score − min) ÷ (max − min) × 100.")
    lost_minutes: int | None
    positive_factors: list[str]
    negative_factors: list[str]
    comment: str | None
    ticket: AnswerTicket


class HiddenAnswers(BaseModel):
    """The comments of an agent, group or service with too few counted responses."""

    filter: ScoreFilter
    hidden: str = HIDDEN
