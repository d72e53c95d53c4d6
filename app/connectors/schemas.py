"""API and job payload models of the connectors domain. Secrets are write-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.connectors.models import Channel
from app.connectors.options import KindOptions, echo
from app.tickets.events import TicketRef

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: SecretStr


class BearerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["bearer"]
    token: SecretStr


class OAuthClientCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["oauth_client_credentials"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    token_url: AnyHttpUrl | None = Field(
        None, description="Default: `{base_url}/oauth_token.do` (ServiceNow)"
    )
    scope: str | None = None


AuthIn = Annotated[BasicAuth | BearerAuth | OAuthClientCredentials, Field(discriminator="type")]


def auth_to_storage(auth: BasicAuth | BearerAuth | OAuthClientCredentials | None) -> dict:
    if auth is None:
        return {}
    stored: dict[str, Any] = {}
    for key, value in auth:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        stored[key] = None if value is None else str(value)
    return stored


def _base_url(value: AnyHttpUrl) -> str:
    return str(value).rstrip("/")


class ConnectorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="The webhook URL's last segment")
    kind: str = Field(description="`servicenow`, `jira` or `generic`")
    base_url: AnyHttpUrl = Field(description="Instance URL, e.g. https://acme.service-now.com")
    webhook_secret: SecretStr = Field(description="Write-only; at least 16 characters")
    auth: AuthIn | None = Field(None, description="How XPulse calls the ITSM API (write-only)")
    channel: Channel = Channel.email
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="The options of the connector's kind (ServiceNowOptions, JiraOptions or "
        "GenericOptions); another kind's option or an unknown one is a 422 naming it",
    )
    enabled: bool = True

    @field_validator("webhook_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("webhook_secret must be at least 16 characters")
        return value

    @property
    def base_url_text(self) -> str:
        return _base_url(self.base_url)


class ConnectorUpdate(BaseModel):
    """Only the fields sent change; `options` is merged key by key."""

    model_config = ConfigDict(extra="forbid")

    base_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = None
    auth: AuthIn | None = None
    channel: Channel | None = None
    options: dict[str, Any] | None = Field(
        None, description="Merged key by key into the options of the connector's kind"
    )
    enabled: bool | None = None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("webhook_secret must be at least 16 characters")
        return value


class AuthRead(BaseModel):
    """The auth settings without their secrets."""

    type: str
    username: str | None = None
    client_id: str | None = None
    token_url: str | None = None
    scope: str | None = None


class OutboundRead(BaseModel):
    """How the connector's calls to its ITSM fare (write-back, comments, contact look-up)."""

    state: Literal["ok", "failing"] = Field(
        description="`failing`: its ITSM keeps failing, so its jobs wait while one probe at a "
        "time checks it; they drain by themselves, oldest first and paced, once it answers"
    )
    failing_since: datetime | None = Field(None, description="First failure of this outage")
    failing_seconds: float | None = Field(None, description="How long it has been failing")
    last_error: str | None = Field(None, description="The last failure (kept after recovery)")
    last_error_at: datetime | None = None
    jobs_waiting: int = Field(0, description="Outbound jobs pending or running")
    dead_jobs: int = Field(
        0, description="Refused, or out of retry budget: `POST .../retry-dead` runs them again"
    )


class RetryDeadResult(BaseModel):
    retried: int = Field(description="Dead outbound jobs made pending again")


class ConnectorRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    base_url: str
    enabled: bool
    channel: str
    options: KindOptions = Field(description="The options of the connector's kind, and no other")
    auth: AuthRead | None
    webhook_path: str = Field(description="POST deliveries here (relative to the public URL)")
    webhook_secret_set: bool
    poll_watermark: datetime | None
    created_at: datetime
    updated_at: datetime
    outbound: OutboundRead = Field(description="Outbound state: ok, or failing since when")

    @classmethod
    def of(cls, connector: Any, outbound: OutboundRead | None = None) -> ConnectorRead:
        auth = connector.auth or {}
        return cls(
            id=connector.id,
            name=connector.name,
            kind=connector.kind,
            base_url=connector.base_url,
            enabled=connector.enabled,
            channel=connector.channel,
            options=echo(connector.kind, connector.options),
            auth=AuthRead.model_validate({k: auth.get(k) for k in AuthRead.model_fields})
            if auth.get("type")
            else None,
            webhook_path=f"/webhooks/{connector.name}",
            webhook_secret_set=bool(connector.webhook_secret),
            poll_watermark=connector.poll_watermark,
            created_at=connector.created_at,
            updated_at=connector.updated_at,
            outbound=outbound or OutboundRead(state="ok"),
        )


class InboundEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connector_id: uuid.UUID
    delivery_id: str
    status: str
    reason: str | None
    ticket_id: uuid.UUID | None
    received_at: datetime
    processed_at: datetime | None
    replay_count: int


class InboundEventDetail(InboundEventRead):
    headers: dict[str, Any]
    body: str = Field(description="The raw body as received (UTF-8, invalid bytes replaced)")

    @field_validator("body", mode="before")
    @classmethod
    def _decode(cls, value: Any) -> Any:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class WebhookAccepted(BaseModel):
    ticket_id: uuid.UUID
    feedback_request_id: uuid.UUID
    links: dict[str, str] = Field(description="Score -> one-click URL; empty when suppressed")


class WebhookIgnored(BaseModel):
    ignored: str


class CheckRead(BaseModel):
    name: str = Field(
        description="`credentials`, `states:<table>`, `field:<table>.<column>` "
        "(ServiceNow) or `field:<customfield_N>` (Jira)"
    )
    ok: bool
    detail: str


class ConnectorCheck(BaseModel):
    ok: bool = Field(description="Every check passed")
    checks: list[CheckRead]


class ReplayResult(BaseModel):
    event: InboundEventRead
    ticket_id: uuid.UUID | None = None
    feedback_request_id: uuid.UUID | None = None
    links: dict[str, str] | None = None
    ignored: str | None = None


# --- job payloads -------------------------------------------------------------------------


class LookupContact(BaseModel):
    """`connectors.lookup_contact`: find the requester's e-mail through the ITSM API."""

    request_id: uuid.UUID
    ticket: TicketRef
    user_id: str | None


class PollConnector(BaseModel):
    """`connectors.servicenow_poll_one`: one catch-up poll of one connector."""

    connector_id: uuid.UUID
