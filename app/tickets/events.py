"""Job payloads that cross from feedback to connectors (feedback never imports connectors)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class TicketRef(BaseModel):
    """Enough to address a ticket in its ITSM tool without a database read."""

    connector_id: uuid.UUID
    ticket_id: uuid.UUID
    external_id: str  # ServiceNow sys_id, Jira issue id
    number: str  # INC0000060, PROJ-12
    table: str | None = None  # ServiceNow table


class WriteBack(BaseModel):
    """`connectors.write_back`: put a (possibly changed) response's score onto its ticket."""

    ticket: TicketRef
    request_id: uuid.UUID
    response_id: uuid.UUID
    response_updated_at: datetime  # a handler may skip a payload older than the stored response
    score: int
    scale: str
    normalised: float  # 0–100 (scoring.md)
    label: str  # emoji or face shown for the score
    lost_time: str | None = None
    lost_minutes: int | None = None
    factors: list[str] = []
    comment: str | None = None


class PostComment(BaseModel):
    """`connectors.post_comment`: the one-click links as a requester-visible ticket comment."""

    ticket: TicketRef
    request_id: uuid.UUID
    text: str  # plain text with one link per score
    links: dict[str, str]  # score -> one-click URL
