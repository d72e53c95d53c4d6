"""The normalised ticket a connector produces, and its API view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.inputs import clean_value


def _truncate(limit: int) -> AfterValidator:
    return AfterValidator(lambda v: v[:limit] if isinstance(v, str) else v)


def _drop_over(limit: int) -> AfterValidator:
    return AfterValidator(lambda v: None if isinstance(v, str) and len(v) > limit else v)


# Limits match the columns of app/tickets/models.py (a test checks they agree).
# Identifiers over their column's length are an error (a ParseError to the connector: the
# delivery is kept failed): cutting one would merge two tickets. Free text is cut to fit, and
# hints that are useless when cut (a URL, an e-mail address, a locale) are dropped instead.
Id255 = Annotated[str, Field(max_length=255)]
Id100 = Annotated[str, Field(max_length=100)]
Text = Annotated[str, _truncate(1000)]
Name = Annotated[str, _truncate(255)]
Short = Annotated[str, _truncate(100)]


class TicketData(BaseModel):
    """Every field XPulse keeps about a ticket, whichever tool it came from."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        # A NUL or a lone surrogate in a ticket (a title pasted from a binary, a JSON "\ud800")
        # is dropped or replaced, so the ticket is still surveyed (app/inputs.py).
        return clean_value(data) if isinstance(data, dict) else data

    external_id: Id255  # ServiceNow sys_id, Jira issue id: stable when a key or number changes
    number: Id100  # INC0000060, PROJ-12
    title: Text = ""
    table: Id100 | None = None  # ServiceNow table, Jira issue type
    url: Annotated[str | None, _drop_over(1000)] = None
    requester_id: Id255 | None = None  # sys_user sys_id, Jira accountId (Cloud) or name (DC)
    requester_email: Annotated[str | None, _drop_over(320)] = None
    requester_name: Name | None = None
    requester_locale: Annotated[str | None, _drop_over(16)] = None
    assignee: Name | None = None
    assignment_group: Name | None = None
    service: Name | None = None
    category: Name | None = None
    priority: Short | None = None
    channel: Short | None = None  # how the ticket was raised (phone, self-service, portal …)
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
