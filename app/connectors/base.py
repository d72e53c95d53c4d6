"""The connector interface: what every kind (servicenow, jira, generic) implements."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from app.connectors.checks import Check
from app.connectors.options import ConnectorOptions
from app.errors import AppError
from app.jobs.registry import PermanentError, TransientError
from app.tickets.events import PostComment, TicketRef, WriteBack
from app.tickets.schemas import TicketData

__all__ = [
    "ConnectorConfig",
    "ConnectorKind",
    "Ignored",
    "ParseError",
    "PermanentError",
    "SignatureError",
    "TicketEvent",
    "TransientError",
]


class SignatureError(AppError):
    status, type, title = 401, "invalid-signature", "Webhook authentication failed"


class ParseError(Exception):
    """The authentic body is not a payload this kind understands (stored as a failed event)."""


@dataclass(frozen=True)
class ConnectorConfig:
    """A configured instance as the kind sees it: plain data, secrets included, no ORM."""

    id: uuid.UUID
    name: str
    kind: str
    base_url: str
    webhook_secret: str = field(repr=False)
    auth: Mapping[str, Any] = field(repr=False)
    channel: str
    options: ConnectorOptions

    @property
    def api_base(self) -> str:
        return self.base_url.rstrip("/")


@dataclass(frozen=True)
class TicketEvent:
    """A resolution: the ticket as it now is, and the key of its resolution cycle."""

    ticket: TicketData
    cycle: str  # identical for every event of one resolution (Resolved -> Closed included)
    cycle_is_guess: bool = False  # no resolution time in the payload: continue the open cycle


@dataclass(frozen=True)
class Ignored:
    """Not a resolution; `reason` is stored on the inbox row and answered to the sender."""

    reason: str
    reopened: str | None = None  # external id of a ticket whose cycle this event ended


class ConnectorKind(ABC):
    kind: ClassVar[str]
    polls: ClassVar[bool] = False  # has a scheduled catch-up poll (ServiceNow)

    @abstractmethod
    def verify(
        self, headers: Mapping[str, str], body: bytes, connector: ConnectorConfig, now: datetime
    ) -> None:
        """Raise SignatureError unless the raw body is authentic for this connector."""

    @abstractmethod
    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The sender's id for this delivery, identical on retries."""

    def too_old(self, body: bytes, connector: ConnectorConfig, now: datetime) -> str | None:
        """Why an authentic delivery is too old to apply (a replay of a captured body), or None
        when it is fresh or the kind's signature already bounds its age."""
        return None

    @abstractmethod
    def parse(self, body: bytes, connector: ConnectorConfig) -> TicketEvent | Ignored:
        """Normalise the payload; raise ParseError when it is not this kind's shape."""

    @abstractmethod
    async def write_back(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, result: WriteBack
    ) -> None:
        """Put the score on the ticket; raise TransientError or PermanentError."""

    @abstractmethod
    async def post_comment(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, comment: PostComment
    ) -> None:
        """Post the one-click links as a comment the requester sees."""

    def can_comment(self, connector: ConnectorConfig) -> bool:
        """Whether post_comment can reach the requester with this configuration."""
        return True

    async def check(self, http: httpx.AsyncClient, connector: ConnectorConfig) -> list[Check]:
        """Setup checks against the ITSM API; none where there is nothing to ask."""
        return []

    @abstractmethod
    async def lookup_contact(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, ticket: TicketRef, user_id: str
    ) -> str | None:
        """The requester's e-mail address from the ITSM API, or None where it has none."""

    async def poll_resolved(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, since: datetime, now: datetime
    ) -> tuple[list[tuple[str, bytes]], datetime | None]:
        """Catch-up poll: (delivery id, record body) pairs resolved since `since`, new watermark."""
        raise PermanentError(f"{self.kind} connectors do not poll")
