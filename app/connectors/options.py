"""A connector's non-secret options: write-back targets, surveyed tables, sampling, polling."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DEFAULT_TABLES = ["incident", "sc_req_item"]
# A ServiceNow table or column name; it goes into URLs and encoded queries, so nothing else.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]


class ConnectorOptions(BaseModel):
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
    # ServiceNow
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
    # Jira
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
    # generic
    callback_url: str | None = Field(
        None, description="Generic: where signed score and comment events are POSTed"
    )
