"""Pydantic shapes of the feedback domain: job payloads, admin reads, the public answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SendEmail(BaseModel):
    """`feedback.send_email` / `feedback.send_reminder`: which request, which mail."""

    request_id: uuid.UUID
    kind: Literal["initial", "reminder", "resend"] = "initial"
    resend_number: int | None = None


class Tick(BaseModel):
    """Payload of the periodic housekeeping jobs (expiry)."""

    at: datetime


class FeedbackRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ticket_id: uuid.UUID
    connector_id: uuid.UUID
    status: str
    status_reason: str | None
    channel: str
    scale: str
    locale: str | None
    recipient_email: str | None
    requester_key: str | None
    created_at: datetime
    sent_at: datetime | None
    reminded_at: datetime | None
    responded_at: datetime | None
    expires_at: datetime
    resend_count: int
    links: dict[str, str] = Field(
        default_factory=dict, description="score -> one-click URL; empty when suppressed"
    )


class ResponseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    request_id: uuid.UUID
    ticket_id: uuid.UUID
    score: int
    scale: str
    normalised: float
    band: str
    lost_time: str | None
    lost_minutes: int | None
    factors: list[str]
    comment: str | None
    locale: str | None
    automated: bool = Field(description="Judged a mail scanner's click: stored, never counted")
    evidence: dict[str, Any]
    answered_at: datetime
    created_at: datetime
    updated_at: datetime


class AnswerRead(BaseModel):
    """What `POST /f/{token}` answers to `Accept: application/json`."""

    score: int | None
    scale: str
    factors: list[str]
    lost_time: str | None
    comment: str | None
    counted: bool = Field(description="False while no response or the click looked automated")
    offered_factors: list[str]


class OptOutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    requester_key: str
    status: str = Field(
        description="`applied` (no more requests), `automated` (a suspected scanner's opt-out, "
        "kept as evidence and not applied) or `undone` (taken back on the page)"
    )
    source: str = Field(description="`link` (the page's button) or `list-unsubscribe` (RFC 8058)")
    request_id: uuid.UUID | None
    evidence: dict[str, Any] | None = Field(description="The judged press that decided it")
    created_at: datetime
    updated_at: datetime | None


class ScannerCount(BaseModel):
    connector_id: uuid.UUID
    day: date
    reason: str = Field(description="A scanner judgement reason code (docs/mail-scanners.md)")
    clicks: int = Field(description="Clicks judged automated that day with this reason")


class ScannerStats(BaseModel):
    """Automated clicks by connector, day and reason; a click with two reasons counts in both."""

    items: list[ScannerCount]
    automated: int = Field(description="Clicks judged automated in the period")
    counted: int = Field(description="Clicks judged to be a person's in the period")
