from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

EMAIL = r"^\s*[^@\s]+@[^@\s]+\s*$"  # one address; matched ignoring case and outer spaces


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(
        min_length=3, max_length=320, pattern=EMAIL, description="Matched in any case"
    )


class ErasureResult(BaseModel):
    subject: str = Field(
        description="The keyed hash the person's opt-out is kept under (also the audit target)"
    )
    changed: dict[str, int] = Field(description="Rows changed (or removed) per table")


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TicketHeld(_Row):
    id: uuid.UUID
    connector_id: uuid.UUID
    number: str
    title: str
    url: str | None
    requester_id: str | None
    requester_email: str | None
    requester_name: str | None
    requester_locale: str | None
    assignee: str | None
    assignment_group: str | None
    service: str | None
    opened_at: datetime | None
    resolved_at: datetime | None
    raw: dict[str, Any] = Field(description="The ITSM's payload as stored")


class RequestHeld(_Row):
    id: uuid.UUID
    ticket_id: uuid.UUID
    status: str
    status_reason: str | None
    channel: str
    locale: str | None
    recipient_email: str | None
    requester_key: str | None
    sent_at: datetime | None
    reminded_at: datetime | None
    responded_at: datetime | None
    created_at: datetime


class ResponseHeld(_Row):
    id: uuid.UUID
    request_id: uuid.UUID
    ticket_id: uuid.UUID
    score: int
    scale: str
    lost_time: str | None
    comment: str | None
    factors: list[str]
    automated: bool
    evidence: dict[str, Any]
    answered_at: datetime


class OpenHeld(_Row):
    request_id: uuid.UUID
    kind: str
    score: int | None
    opened_at: datetime
    user_agent: str | None
    client_hash: str | None


class ClickHeld(_Row):
    request_id: uuid.UUID
    kind: str
    at: datetime
    automated: bool
    reasons: str


class OptOutHeld(_Row):
    requester_key: str
    status: str
    source: str
    evidence: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime | None


class InboundEventHeld(_Row):
    id: uuid.UUID
    connector_id: uuid.UUID
    delivery_id: str
    status: str
    reason: str | None
    received_at: datetime
    headers: dict[str, Any]
    body: str = Field(description="The raw body as received (UTF-8, invalid bytes replaced)")

    @field_validator("body", mode="before")
    @classmethod
    def _decode(cls, value: Any) -> Any:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class JobHeld(_Row):
    id: int
    name: str
    status: str
    payload: dict[str, Any]
    last_error: str | None
    created_at: datetime


class Export(BaseModel):
    """Everything XPulse holds about one person (a subject access request)."""

    email: str
    generated_at: datetime
    tickets: list[TicketHeld]
    feedback_requests: list[RequestHeld]
    responses: list[ResponseHeld]
    link_fetches: list[OpenHeld] = Field(description="Fetches of their feedback links")
    clicks: list[ClickHeld] = Field(description="Their judged clicks (answers, opt-outs)")
    opt_outs: list[OptOutHeld]
    inbound_events: list[InboundEventHeld] = Field(description="Webhook bodies naming them")
    jobs: list[JobHeld] = Field(description="Background jobs naming or acting for them")
