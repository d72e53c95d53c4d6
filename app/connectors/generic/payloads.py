"""The generic JSON shape any tool can send (Standard Webhooks envelope: type + data)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Requester(_Model):
    id: str | None = None
    email: EmailStr | None = None
    name: str | None = None
    locale: str | None = Field(None, max_length=16)


class GenericTicket(_Model):
    id: str = Field(min_length=1, max_length=255)
    number: str = Field(min_length=1, max_length=100)
    title: str = ""
    url: str | None = None
    type: str | None = None
    requester: Requester | None = None
    assignee: str | None = None
    group: str | None = None
    service: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None
    opened_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    resolution_id: str | None = Field(
        None, description="Identifies one resolution; defaults to resolved_at"
    )
    sla_met: bool | None = None


class GenericEvent(_Model):
    type: str  # ticket.resolved | ticket.reopened | anything else (ignored)
    timestamp: datetime | None = None
    data: GenericTicket
