"""The fields XPulse reads from Jira webhook and Automation bodies (docs/itsm-contracts.md §1.2)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Automation format sends `id` as a number where webhooks send a string.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


class User(_Model):
    account_id: str | None = Field(None, alias="accountId")  # Cloud
    name: str | None = None  # Data Center
    key: str | None = None  # Data Center
    # Cloud omits emailAddress when the profile hides it (docs/itsm-contracts.md §1.2).
    email: str | None = Field(None, alias="emailAddress")
    display_name: str | None = Field(None, alias="displayName")
    locale: str | None = None

    @property
    def id(self) -> str | None:
        return self.account_id or self.name or self.key


class Named(_Model):
    id: str | None = None
    key: str | None = None
    name: str | None = None


class StatusCategory(_Model):
    key: str | None = None  # new / indeterminate / done: names vary, keys do not


class Status(_Model):
    name: str | None = None
    status_category: StatusCategory | None = Field(None, alias="statusCategory")


class Fields(_Model):
    summary: str | None = None
    status: Status | None = None
    resolution: Named | None = None
    resolutiondate: str | None = None
    statuscategorychangedate: str | None = None
    reporter: User | None = None
    assignee: User | None = None
    project: Named | None = None
    issuetype: Named | None = None
    priority: Named | None = None
    components: list[Named] = Field(default_factory=list)
    created: str | None = None
    updated: str | None = None


class Issue(_Model):
    id: str
    key: str
    self_url: str | None = Field(None, alias="self")
    fields: Fields

    @property
    def category(self) -> str | None:
        status = self.fields.status
        return status.status_category.key if status and status.status_category else None


class ChangeItem(_Model):
    field: str | None = None
    field_id: str | None = Field(None, alias="fieldId")  # Cloud only
    from_: str | None = Field(None, alias="from")
    from_string: str | None = Field(None, alias="fromString")
    to: str | None = None
    to_string: str | None = Field(None, alias="toString")

    def is_field(self, name: str) -> bool:
        # Cloud create events spell the status item "Status"; DC items have no fieldId.
        return (self.field_id or self.field or "").lower() == name


class Changelog(_Model):
    items: list[ChangeItem] = Field(default_factory=list)


class Webhook(_Model):
    timestamp: int | None = None  # epoch milliseconds
    webhook_event: str = Field(alias="webhookEvent")
    issue_event_type_name: str | None = None
    issue: Issue
    changelog: Changelog | None = None


def jira_time(value: str | None) -> datetime | None:
    """`2019-02-15T19:15:40.470-0800` (or ISO 8601) as UTC; None when absent or unreadable."""
    if not value:
        return None
    for parse in (
        lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f%z"),
        datetime.fromisoformat,
    ):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


def site_of(issue: Issue) -> str | None:
    """The site's base URL from `issue.self` (DC may add a context path and a port)."""
    if issue.self_url and "/rest/api/" in issue.self_url:
        return issue.self_url.split("/rest/api/", 1)[0]
    return None
