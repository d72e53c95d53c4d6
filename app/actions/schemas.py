"""API shapes of alert rules, follow-ups and digests (docs/actions.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from app.actions.models import XLA_CONDITIONS, Condition, DigestScope, FollowupStatus, Frequency
from app.feedback.scales import NEGATIVE_FACTORS, POSITIVE_FACTORS

LANGUAGES = ("en", "de", "fr", "es", "fi", "sv")  # the feedback catalogues' languages


class ChatFormat(StrEnum):
    slack = "slack"  # Slack incoming webhook: {"text": …, "blocks": […]}
    teams = "teams"  # Microsoft Teams Workflows: a message with one Adaptive Card


class ChatTarget(BaseModel):
    url: HttpUrl
    format: ChatFormat


class Actions(BaseModel):
    email: list[EmailStr] = Field([], max_length=50, description="People to e-mail.")
    chat: list[ChatTarget] = Field([], max_length=10, description="Chat webhooks to post to.")
    ticket_note: bool = Field(
        False, description="Add an internal note on the answer's ticket (ServiceNow, Jira)."
    )

    @model_validator(mode="after")
    def _something(self) -> Actions:
        if not (self.email or self.chat or self.ticket_note):
            raise ValueError("a rule needs at least one action (email, chat or ticket_note)")
        return self


class RuleFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    connector_id: uuid.UUID | None = Field(None, description="Scope; null matches every one.")
    service: str | None = Field(None, max_length=255)
    assignment_group: str | None = Field(None, max_length=255)
    condition: Condition
    threshold: int | None = Field(
        None, ge=0, description="score_at_most: a score; lost_minutes_at_least: minutes."
    )
    factor: str | None = Field(None, description="factor: the factor key (docs/scoring.md).")
    xla_id: uuid.UUID | None = Field(
        None, description="XLA conditions: one XLA; null watches every XLA."
    )
    actions: Actions

    @model_validator(mode="after")
    def _consistent(self) -> RuleFields:
        needs_threshold = self.condition in (
            Condition.score_at_most,
            Condition.lost_minutes_at_least,
        )
        if needs_threshold != (self.threshold is not None):
            raise ValueError("threshold is required for score_at_most and lost_minutes_at_least")
        if (self.condition == Condition.factor) != (self.factor is not None):
            raise ValueError("factor is required for the factor condition, and only there")
        if self.factor is not None and self.factor not in POSITIVE_FACTORS + NEGATIVE_FACTORS:
            raise ValueError(f"unknown factor {self.factor!r}")
        if self.xla_id is not None and self.condition not in XLA_CONDITIONS:
            raise ValueError("xla_id goes with xla_at_risk or xla_breached")
        if self.condition in XLA_CONDITIONS and self.actions.ticket_note:
            raise ValueError("an XLA has no ticket to put a note on")
        return self


class RuleCreate(RuleFields):
    pass


class RuleUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool | None = None
    connector_id: uuid.UUID | None = None
    service: str | None = Field(None, max_length=255)
    assignment_group: str | None = Field(None, max_length=255)
    condition: Condition | None = None
    threshold: int | None = Field(None, ge=0)
    factor: str | None = None
    xla_id: uuid.UUID | None = None
    actions: Actions | None = None


class ChatTargetRead(BaseModel):
    url: str = Field(description="Scheme and host only: the whole URL is a secret.")
    format: ChatFormat

    @field_validator("url", mode="before")
    @classmethod
    def _masked(cls, value: object) -> str:
        parts = urlsplit(str(value))
        return f"{parts.scheme}://{parts.netloc}/…"


class ActionsRead(BaseModel):
    email: list[str]
    chat: list[ChatTargetRead]
    ticket_note: bool


class RuleRead(RuleFields):
    model_config = ConfigDict(from_attributes=True)
    actions: ActionsRead  # type: ignore[assignment]
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class FollowupRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    status: FollowupStatus
    response_id: uuid.UUID
    ticket_id: uuid.UUID
    ticket_number: str
    ticket_url: str | None
    service: str | None
    assignment_group: str | None
    rule_id: uuid.UUID | None
    score: int
    scale: str
    comment: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_note: str | None
    closed_at: datetime | None
    closed_note: str | None


class FollowupNote(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="What was done or found.")


class DigestCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    recipients: list[EmailStr] = Field(min_length=1, max_length=50)
    frequency: Frequency
    scope: DigestScope = DigestScope.all
    scope_value: str | None = Field(
        None, max_length=255, description="The service or assignment group; null for `all`."
    )
    locale: str = Field("en", description="en, de, fr, es, fi or sv.")
    tz: str = Field("UTC", description="IANA time zone of the periods.")

    @model_validator(mode="after")
    def _consistent(self) -> DigestCreate:
        from app.scoring.schemas import known_zone

        if (self.scope == DigestScope.all) != (self.scope_value is None):
            raise ValueError("scope_value is required for service/group scopes and null for all")
        if self.locale not in LANGUAGES:
            raise ValueError(f"locale must be one of {', '.join(LANGUAGES)}")
        known_zone(self.tz)
        return self


class DigestRead(BaseModel):
    id: uuid.UUID
    name: str
    recipients: list[str]
    frequency: Frequency
    scope: DigestScope
    scope_value: str | None
    locale: str
    tz: str
    created_at: datetime
    updated_at: datetime
    last_sent_period: date | None = Field(None, description="Start of the last period sent.")


class DigestQueued(BaseModel):
    digest_id: uuid.UUID
    period_start: date
    period_end: date
    job_id: int | None = Field(description="The send job; null when one is already queued.")
