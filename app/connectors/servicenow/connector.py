"""ServiceNow: records POSTed by a business rule, a catch-up poll, PATCH write-back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from app.connectors import signatures, texts
from app.connectors.base import (
    Check,
    ConnectorConfig,
    ConnectorKind,
    Ignored,
    ParseError,
    SignatureError,
    TicketEvent,
)
from app.connectors.servicenow import client, setup
from app.connectors.servicenow.payloads import (
    REQUESTER_FIELDS,
    SN_DATETIME,
    Record,
    Shape,
    parse_record,
    resolved_states,
)
from app.tickets.events import PostComment, TicketRef, WriteBack
from app.tickets.schemas import TicketData

POLL_PAGE = 100
POLL_MAX_PAGES = 20  # per table and run; the watermark carries the rest to the next run


def is_resolved(record: Record, states: Mapping[str, str]) -> bool:
    """True when the state is one of the table's resolved values or their labels."""
    state = record.value("state") or ""
    label = (record.display("state") or state).lower()
    return state in states or label in {s.lower() for s in states.values()}


def cycle_of(record: Record) -> tuple[str, bool]:
    """The resolution cycle key: the resolution time, which Resolved -> Closed keeps and a
    reopen clears; the close time or last update (a guess) on tables without one.

    In the `true` shape the times are local display strings that never match the UTC values
    the poll and the other shapes carry, so the key is a guess there: it continues the
    ticket's open cycle (and a later exact key continues the guessed one) instead of
    starting a second survey for the same resolution."""
    if record.shape == Shape.display:
        for name in ("resolved_at", "closed_at", "sys_updated_on"):
            if value := record.value(name):
                return f"local:{name}:{value}", True
        return f"local:{record.value('sys_id')}", True
    for name in ("resolved_at", "closed_at"):
        if value := record.value(name):
            return f"{name}:{value}", False
    return f"updated:{record.value('sys_updated_on') or record.value('sys_id')}", True


def ticket_data(record: Record, connector: ConnectorConfig) -> TicketData:
    requester = next(
        (f for f in REQUESTER_FIELDS.get(record.table, ("opened_by",)) if record.value(f)),
        None,
    )
    requester_id = requester_name = requester_email = None
    if requester:
        # In the `true` shape a reference is a display name: no sys_id to look the user up by.
        requester_id = record.value(requester) if record.shape != Shape.display else None
        requester_name = record.display(requester)
        requester_email = record.value(f"{requester}.email")
    sys_id = record.value("sys_id") or ""
    resolved_at = record.utc("resolved_at") or record.utc("closed_at")
    if resolved_at is None and record.shape != Shape.display:
        resolved_at = record.utc("sys_updated_on")
    return TicketData(
        external_id=sys_id,
        number=record.value("number") or "",
        title=record.display("short_description") or "",
        table=record.table,
        url=f"{connector.api_base}/nav_to.do?uri={record.table}.do?sys_id={sys_id}",
        requester_id=requester_id,
        requester_email=requester_email,
        requester_name=requester_name,
        assignee=record.name_of("assigned_to"),
        assignment_group=record.name_of("assignment_group"),
        service=record.name_of("business_service"),
        category=record.name_of("category"),
        priority=record.name_of("priority"),
        channel=record.name_of("contact_type"),
        opened_at=record.utc("opened_at"),
        resolved_at=resolved_at,
        sla_met=record.boolean("made_sla"),
        raw={"table": record.table, "shape": record.shape.value, "state": record.value("state")},
    )


class ServiceNowKind(ConnectorKind):
    kind = "servicenow"
    polls = True

    def verify(
        self, headers: Mapping[str, str], body: bytes, connector: ConnectorConfig, now: datetime
    ) -> None:
        secret = connector.webhook_secret
        if signatures.has_standard_webhooks_headers(headers):
            signatures.check_standard_webhooks(headers, body, secret, now)
            return
        if "authorization" not in headers:
            raise SignatureError("Send `Authorization: Bearer <secret>` or Standard Webhooks")
        if not signatures.check_bearer(headers, secret):
            raise SignatureError("The bearer token does not match this connector's secret")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        # A business rule firing twice sends the same bytes: the body hash is its identity.
        return headers.get("webhook-id") or "sha256:" + hashlib.sha256(body).hexdigest()

    def parse(self, body: bytes, connector: ConnectorConfig) -> TicketEvent | Ignored:
        record = parse_record(body)
        if record.table not in connector.options.tables:
            return Ignored(f"table {record.table} is not surveyed by this connector")
        states = resolved_states(record.table, connector.options.resolved_states)
        if not states:
            return Ignored(f"no resolved states known for table {record.table}")
        if not is_resolved(record, states):
            state = record.display("state") or record.value("state")
            return Ignored(
                f"{record.table} state {state} is not resolved",
                reopened=record.value("sys_id"),
            )
        cycle, guess = cycle_of(record)
        return TicketEvent(ticket_data(record, connector), cycle, guess)

    async def write_back(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, result: WriteBack
    ) -> None:
        """Write what the ticket lacks: a retry after a crash or a lost answer finds the score
        and this version's work note already there and writes nothing twice."""
        options = connector.options
        table, sys_id = result.ticket.table or "incident", result.ticket.external_id
        values: dict[str, str] = {}
        if options.score_field:
            have = await client.record_fields(
                http, connector, table=table, sys_id=sys_id, fields=[options.score_field]
            )
            if str(have.get(options.score_field) or "") != str(result.score):
                values[options.score_field] = str(result.score)
        if options.work_note:
            notes = await client.journal_values(
                http, connector, sys_id=sys_id, element="work_notes", containing=result.version_ref
            )
            if not any(texts.has_marker(note, result) for note in notes):
                # work_notes, not comments: comments notify the caller (itsm-contracts.md §2.4).
                values["work_notes"] = texts.score_note(result, options.language)
        if values:
            await client.patch_record(http, connector, table=table, sys_id=sys_id, values=values)

    async def post_comment(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, comment: PostComment
    ) -> None:
        # `comments` is the customer-visible journal: the requester sees the links there.
        await client.patch_record(
            http,
            connector,
            table=comment.ticket.table or "incident",
            sys_id=comment.ticket.external_id,
            values={"comments": comment.text},
        )

    async def lookup_contact(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, ticket: TicketRef, user_id: str
    ) -> str | None:
        return await client.user_email(http, connector, user_id)

    async def check(self, http: httpx.AsyncClient, connector: ConnectorConfig) -> list[Check]:
        return await setup.check(http, connector)

    async def poll_resolved(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, since: datetime, now: datetime
    ) -> tuple[list[tuple[str, bytes]], datetime | None]:
        found: list[tuple[str, bytes]] = []
        newest: datetime | None = None  # over every table
        capped: list[datetime | None] = []  # the newest of each table that hit the page cap
        since_text = since.strftime(SN_DATETIME)
        for table in connector.options.tables:
            known = resolved_states(table, connector.options.resolved_states)
            states = [s for s in known if s.lstrip("-").isdigit()]  # the query needs values
            if not states:
                continue
            table_newest: datetime | None = None
            for page in range(POLL_MAX_PAGES):
                rows = await client.resolved_records(
                    http,
                    connector,
                    table=table,
                    states=states,
                    since=since_text,
                    offset=page * POLL_PAGE,
                    limit=POLL_PAGE,
                )
                for row in rows:
                    body = json.dumps({"table": table, "record": row}, sort_keys=True).encode()
                    try:
                        record = parse_record(body)
                        updated = record.utc("sys_updated_on")
                    except ParseError:  # kept as a failed event by the job; the poll goes on
                        digest = hashlib.sha256(body).hexdigest()
                        found.append((f"poll:{table}:sha256:{digest}", body))
                        continue
                    if updated is not None and (table_newest is None or updated > table_newest):
                        table_newest = updated
                    found.append((f"poll:{table}:{record.value('sys_id')}:{updated}", body))
                if len(rows) < POLL_PAGE:
                    break
            else:  # the cap stopped this table: its later records wait for the next run
                capped.append(table_newest)
            if table_newest is not None and (newest is None or table_newest > newest):
                newest = table_newest
        if capped:
            # Never past a capped table's last record read, or its unread ones would be
            # jumped over for ever; records read again next run are idempotent.
            newest = None if None in capped else min(t for t in capped if t is not None)
        # Never move the watermark past `now` minus a little: late commits on the instance.
        if newest is not None:
            newest = min(newest, now - timedelta(seconds=1))
        return found, newest
