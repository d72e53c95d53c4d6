"""Job payloads that cross from feedback to connectors (feedback never imports connectors)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    normalised: float  # 0–100 (docs/scoring.md)
    label: str  # emoji or face shown for the score
    lost_time: str | None = None
    lost_minutes: int | None = None
    factors: list[str] = []
    comment: str | None = None

    @property
    def version_ref(self) -> str:
        """A short ref of this answer version (response id + updated_at), the same on every
        retry: what a write-back looks for on the ticket before writing again. The first part
        names the answer, the second its version."""
        updated = self.response_updated_at
        aware = updated if updated.tzinfo else updated.replace(tzinfo=UTC)  # SQLite: naive UTC
        micros = (aware - EPOCH) // timedelta(microseconds=1)
        digest = hashlib.sha256(f"{self.response_id}:{micros}".encode()).hexdigest()
        return f"{self.response_id.hex[:8]}.{digest[:6]}"


class PostComment(BaseModel):
    """`connectors.post_comment`: the one-click links as a requester-visible ticket comment."""

    ticket: TicketRef
    request_id: uuid.UUID
    text: str  # plain text with one link per score
    links: dict[str, str]  # score -> one-click URL


class PostNote(BaseModel):
    """`connectors.post_note`: an internal note (ServiceNow work note, Jira internal comment)
    that an alert rule adds to the answer's ticket; `ref` is in the text, so a retry that finds
    it there writes nothing twice."""

    ticket: TicketRef
    ref: str  # letters and digits only: ServiceNow looks it up in an encoded query
    text: str
