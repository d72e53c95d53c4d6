"""A connector's non-secret options: write-back targets, surveyed tables, sampling, polling.

Each kind accepts, validates and echoes only its own options (`OPTIONS_BY_KIND`); the code reads
them through `ConnectorOptions`, every kind's options at once with their defaults."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DEFAULT_TABLES = ["incident", "sc_req_item"]
# A ServiceNow table or column name; it goes into URLs and encoded queries, so nothing else.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]


class CommonOptions(BaseModel):
    """Options every kind has."""

    model_config = ConfigDict(extra="forbid")

    sampling_percent: int = Field(100, ge=0, le=100, description="Share of resolutions surveyed")
    language: Literal["en", "de", "fr", "es", "fi", "sv"] = Field(
        "en",
        description="Language of the text written onto tickets (score, factor labels)",
    )
    requests_per_second: float = Field(
        5.0,
        gt=0,
        le=1000,
        description="Pace of outbound calls to the ITSM while a backlog drains after an outage",
    )


class ServiceNowOptions(CommonOptions):
    tables: list[Name] = Field(
        default_factory=lambda: list(DEFAULT_TABLES),
        description="ServiceNow tables whose resolved records are surveyed",
    )
    resolved_states: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per table, the state values (numbers or labels) that count as resolved; "
        "overrides the built-in map for that table",
    )
    score_field: Name | None = Field(
        "u_experience_score", description="ServiceNow column that receives the score (or null)"
    )
    work_note: bool = Field(True, description="ServiceNow: add a work note with the score")
    poll: bool = Field(True, description="ServiceNow: run the catch-up poll of the Table API")
    poll_interval_seconds: int = Field(300, ge=30)
    poll_lookback_hours: int = Field(24, ge=1, description="First poll reaches this far back")


class JiraOptions(CommonOptions):
    property_key: str | None = Field(
        "xpulse.experience", max_length=255, description="Jira issue property (or null)"
    )
    score_custom_field: str | None = Field(
        None, pattern=r"^customfield_\d+$", description="Jira number field for the score"
    )
    replay_window_minutes: int | None = Field(
        60,
        ge=30,  # Jira retries a failed delivery for a while: never shorter than half an hour
        description="Jira: a signed webhook whose body `timestamp` is older than this is stored "
        "as `ignored`, not applied, unless an admin replays it (null: no limit)",
    )
    comment: Literal["internal", "platform", "none"] = Field(
        "internal",
        description="Jira write-back comment: `internal` = Service Management internal comment "
        "(public: false); `platform` = plain issue comment (customer-visible on JSM)",
    )


class GenericOptions(CommonOptions):
    callback_url: str | None = Field(
        None, description="Generic: where signed score and comment events are POSTed"
    )


class ConnectorOptions(ServiceNowOptions, JiraOptions, GenericOptions):
    """Every kind's options at once, defaults filled in: what the code reads at run time."""


OPTIONS_BY_KIND: dict[str, type[CommonOptions]] = {
    "servicenow": ServiceNowOptions,
    "jira": JiraOptions,
    "generic": GenericOptions,
}
KindOptions = ServiceNowOptions | JiraOptions | GenericOptions


def own_options(kind: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The stored options that belong to `kind` (rows written before options were per kind may
    carry another kind's keys, which never applied)."""
    fields = OPTIONS_BY_KIND[kind].model_fields
    return {k: v for k, v in (stored or {}).items() if k in fields}


def echo(kind: str, stored: dict[str, Any] | None) -> KindOptions:
    """The kind's options as the API shows them."""
    return OPTIONS_BY_KIND[kind].model_validate(own_options(kind, stored))  # type: ignore[return-value]
