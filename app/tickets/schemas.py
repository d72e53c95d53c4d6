"""The normalised ticket a connector produces, and its API view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TicketData(BaseModel):
    """Every field XPulse keeps about a ticket, whichever tool it came from."""

    model_config = ConfigDict(frozen=True)

    external_id: str  # ServiceNow sys_id, Jira issue id: stable when a key or number changes
    number: str  # INC0000060, PROJ-12
    title: str = ""
    table: str | None = None  # ServiceNow table, Jira issue type
    url: str | None = None
    requester_id: str | None = None  # sys_user sys_id, Jira accountId (Cloud) or name (DC)
    requester_email: str | None = None
    requester_name: str | None = None
    requester_locale: str | None = None
    assignee: str | None = None
    assignment_group: str | None = None
    service: str | None = None
    category: str | None = None
    priority: str | None = None
    channel: str | None = None  # how the ticket was raised (phone, self-service, portal …)
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    sla_met: bool | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connector_id: uuid.UUID
    source: str
    external_id: str
    number: str
    title: str
    table: str | None
    url: str | None
    requester_email: str | None
    requester_name: str | None
    assignee: str | None
    assignment_group: str | None
    service: str | None
    priority: str | None
    opened_at: datetime | None
    resolved_at: datetime | None
    resolution_cycle: str | None
