"""generic: any tool that can POST the documented JSON signed per Standard Webhooks."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from app.connectors import outbound, signatures, texts
from app.connectors.base import (
    ConnectorConfig,
    ConnectorKind,
    Ignored,
    ParseError,
    SignatureError,
    TicketEvent,
)
from app.connectors.generic.payloads import GenericEvent
from app.tickets.events import PostComment, TicketRef, WriteBack
from app.tickets.schemas import TicketData


def ticket_data(event: GenericEvent) -> TicketData:
    t = event.data
    r = t.requester
    return TicketData(
        external_id=t.id,
        number=t.number,
        title=t.title,
        table=t.type,
        url=t.url,
        requester_id=r.id if r else None,
        requester_email=str(r.email) if r and r.email else None,
        requester_name=r.name if r else None,
        requester_locale=r.locale if r else None,
        assignee=t.assignee,
        assignment_group=t.group,
        service=t.service,
        category=t.category,
        priority=t.priority,
        channel=t.channel,
        opened_at=t.opened_at.astimezone(UTC) if t.opened_at else None,
        resolved_at=t.resolved_at.astimezone(UTC) if t.resolved_at else None,
        sla_met=t.sla_met,
    )


class GenericKind(ConnectorKind):
    kind = "generic"

    def verify(
        self, headers: Mapping[str, str], body: bytes, connector: ConnectorConfig, now: datetime
    ) -> None:
        signatures.check_standard_webhooks(headers, body, connector.webhook_secret, now)

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        msg_id = headers.get("webhook-id")
        if not msg_id:
            raise SignatureError("Missing webhook-id")
        return msg_id

    def parse(self, body: bytes, connector: ConnectorConfig) -> TicketEvent | Ignored:
        try:
            event = GenericEvent.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ParseError(f"not a generic ticket event: {where}: {first['msg']}") from exc
        if event.type == "ticket.reopened":
            return Ignored("ticket reopened", reopened=event.data.id)
        if event.type != "ticket.resolved":
            return Ignored(f"event type {event.type} is not ticket.resolved")
        data = ticket_data(event)
        key = event.data.resolution_id or (
            data.resolved_at.isoformat() if data.resolved_at else None
        )
        if key is None:
            # A guess continues the open cycle; it only has to differ after a reopen, which a
            # fixed `event:None` never would: the body's digest stands in for a timestamp.
            stamp = event.timestamp or "body:" + hashlib.sha256(body).hexdigest()[:32]
            return TicketEvent(data, f"event:{stamp}", cycle_is_guess=True)
        return TicketEvent(data, f"resolution:{key}")

    async def _send(
        self,
        http: httpx.AsyncClient,
        connector: ConnectorConfig,
        type_: str,
        data: Any,
        *,
        msg_id: str | None = None,
    ) -> None:
        """POST a Standard Webhooks event to the callback URL, signed with the same secret."""
        url = connector.options.callback_url
        if not url:
            return
        now = datetime.now(UTC)
        body = json.dumps({"type": type_, "timestamp": now.isoformat(), "data": data}).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        stamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signatures.standard_webhooks_signature(
                connector.webhook_secret, msg_id, stamp, body
            ),
        }
        await outbound.send(
            http,
            connector,
            "POST",
            url,
            what=f"generic callback {type_}",
            headers=headers,
            content=body,
        )

    async def write_back(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, result: WriteBack
    ) -> None:
        # A callback cannot be read back: the webhook-id is the same for every retry of one
        # answer version (and differs for a changed answer), so the receiver dedupes on it.
        language = connector.options.language
        document = {
            "ticket": {"id": result.ticket.external_id, "number": result.ticket.number},
            "note": texts.score_note(result, language),
            **texts.score_document(result, language),
        }
        msg_id = f"msg_xpulse_{result.version_ref.replace('.', '_')}"
        await self._send(http, connector, "feedback.score", document, msg_id=msg_id)

    async def post_comment(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, comment: PostComment
    ) -> None:
        if not connector.options.callback_url:
            raise outbound.PermanentError("generic connector has no callback_url to post to")
        document = {
            "ticket": {"id": comment.ticket.external_id, "number": comment.ticket.number},
            "text": comment.text,
            "links": comment.links,
        }
        await self._send(http, connector, "feedback.comment", document)

    def can_comment(self, connector: ConnectorConfig) -> bool:
        return bool(connector.options.callback_url)  # the only way back to the sender's tool

    async def lookup_contact(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, ticket: TicketRef, user_id: str
    ) -> str | None:
        return None  # no API to ask: the sender includes requester.email or gets the comment
