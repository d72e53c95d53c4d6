"""Jira Cloud and Data Center: admin webhooks (signed) and Automation web requests (token)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import ValidationError

from app.connectors import checks, signatures, texts
from app.connectors.base import (
    Check,
    ConnectorConfig,
    ConnectorKind,
    Ignored,
    ParseError,
    SignatureError,
    TicketEvent,
)
from app.connectors.jira import client
from app.connectors.jira.payloads import Issue, Webhook, jira_time, site_of
from app.tickets.events import PostComment, TicketRef, WriteBack
from app.tickets.schemas import TicketData

log = logging.getLogger("xpulse.connectors")


def cycle_of(
    issue: Issue, timestamp_ms: int | None, digest: str
) -> tuple[str, datetime | None, bool]:
    """(cycle key, resolved at, guessed?): `resolutiondate`, else the time the issue entered
    the done category; both survive Resolved -> Closed and change on a reopen (§1.3).

    Without either, a guess from the delivery itself: the webhook's `timestamp`, the issue's
    `updated`, else the body's digest. A guess continues the open cycle, so it only has to
    differ after a reopen, which a fixed key (such as `event:None`) never would."""
    fields = issue.fields
    if resolved := jira_time(fields.resolutiondate):
        return f"resolved:{resolved.isoformat()}", resolved, False
    if done_since := jira_time(fields.statuscategorychangedate):
        return f"done:{done_since.isoformat()}", done_since, False
    if timestamp_ms:
        return f"event:{timestamp_ms}", datetime.fromtimestamp(timestamp_ms / 1000, UTC), True
    if updated := jira_time(fields.updated):
        return f"updated:{updated.isoformat()}", updated, True
    return f"body:{digest}", None, True


def ticket_data(
    issue: Issue, connector: ConnectorConfig, resolved_at: datetime | None
) -> TicketData:
    fields = issue.fields
    reporter = fields.reporter
    site = site_of(issue) or connector.api_base
    return TicketData(
        external_id=issue.id,  # ids survive project moves; keys do not
        number=issue.key,
        title=fields.summary or "",
        table=fields.issuetype.name if fields.issuetype else None,
        url=f"{site}/browse/{issue.key}",
        requester_id=reporter.id if reporter else None,
        requester_email=reporter.email if reporter else None,
        requester_name=reporter.display_name if reporter else None,
        requester_locale=reporter.locale if reporter else None,
        assignee=fields.assignee.display_name if fields.assignee else None,
        assignment_group=fields.project.name if fields.project else None,
        service=fields.components[0].name if fields.components else None,
        priority=fields.priority.name if fields.priority else None,
        opened_at=jira_time(fields.created),
        resolved_at=resolved_at,
        raw={"status": fields.status.name if fields.status else None, "site": site},
    )


def resolution(
    issue: Issue, connector: ConnectorConfig, timestamp: int | None, digest: str
) -> TicketEvent:
    cycle, resolved_at, guess = cycle_of(issue, timestamp, digest)
    return TicketEvent(ticket_data(issue, connector, resolved_at), cycle, guess)


def parse_webhook(data: dict, connector: ConnectorConfig, digest: str) -> TicketEvent | Ignored:
    event = data.get("webhookEvent")
    if event == "jira:issue_created":
        return Ignored("issue created events are never surveyed")
    if event != "jira:issue_updated":
        return Ignored(f"event {event} is not an issue update")
    try:
        hook = Webhook.model_validate(data)
    except ValidationError as exc:
        raise ParseError(f"not a Jira issue webhook: {exc.errors()[0]['msg']}") from exc
    items = hook.changelog.items if hook.changelog else []
    status = next((i for i in items if i.is_field("status")), None)
    if status is None:
        return Ignored("no status change in this update")
    if hook.issue.category != "done":
        # Leaving done (or clearing the resolution) ends the cycle; the next done starts one.
        return Ignored(
            f"status {status.to_string} is not in the done category", reopened=hook.issue.id
        )
    return resolution(hook.issue, connector, hook.timestamp, digest)


def parse_automation(
    issue_data: dict, connector: ConnectorConfig, digest: str
) -> TicketEvent | Ignored:
    """Automation "Send web request": the rule decides when; the body is the issue (or
    `{"issue": …}`), with no changelog."""
    try:
        issue = Issue.model_validate(issue_data)
    except ValidationError as exc:
        raise ParseError(f"not a Jira issue: {exc.errors()[0]['msg']}") from exc
    if issue.category != "done":
        return Ignored(f"issue {issue.key} is not in the done category", reopened=issue.id)
    return resolution(issue, connector, None, digest)


# Cloud accountIds: 24 hex digits, `<number>:<uuid>`, or `qm:…` for JSM customers.
ACCOUNT_ID = re.compile(r"^([0-9a-f]{24}|\d+:[0-9a-f-]{36}|qm:.+)$")


def is_cloud(connector: ConnectorConfig, user_id: str) -> bool:
    """Cloud looks users up by accountId, Data Center by username."""
    host = connector.base_url
    return "atlassian.net" in host or "api.atlassian.com" in host or bool(ACCOUNT_ID.match(user_id))


COMMENT_PAGE = 100
COMMENT_PAGES = 20  # newest first: a note is found on the first page unless 100 followed it


def is_version(document: object, result: WriteBack) -> bool:
    """Whether a stored issue property already carries this answer version."""
    return (
        isinstance(document, dict)
        and document.get("response_id") == str(result.response_id)
        and document.get("ref") == result.version_ref
    )


async def has_note(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, result: WriteBack
) -> bool:
    """Whether a comment on the issue is this answer version's note."""
    start = 0
    for _ in range(COMMENT_PAGES):
        bodies, total = await client.comment_page(
            http, connector, issue, start=start, limit=COMMENT_PAGE
        )
        if any(texts.has_marker(body, result) for body in bodies):
            return True
        start += len(bodies)  # the server may give fewer than asked for
        if not bodies or start >= total:
            return False
    return False


class JiraKind(ConnectorKind):
    kind = "jira"

    def verify(
        self, headers: Mapping[str, str], body: bytes, connector: ConnectorConfig, now: datetime
    ) -> None:
        secret = connector.webhook_secret
        if "x-hub-signature" in headers:
            if not signatures.check_hub_signature(headers, body, secret):
                raise SignatureError("X-Hub-Signature does not match this connector's secret")
            return
        if "authorization" in headers:  # Jira Automation cannot sign: it sends a token
            if not signatures.check_bearer(headers, secret):
                raise SignatureError("The bearer token does not match this connector's secret")
            return
        raise SignatureError("Send X-Hub-Signature (webhook) or Authorization: Bearer (Automation)")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        # Jira retries carry the same identifier; Automation sends none, so the body stands in.
        return (
            headers.get("x-atlassian-webhook-identifier")
            or "sha256:" + hashlib.sha256(body).hexdigest()
        )

    def too_old(self, body: bytes, connector: ConnectorConfig, now: datetime) -> str | None:
        # The signature covers no time: an admin webhook's `timestamp` (epoch ms) bounds a
        # replay. Automation bodies are the rule's own JSON and are not judged by it.
        window = connector.options.replay_window_minutes
        if window is None:
            return None
        try:
            data = json.loads(body)
            stamp = data.get("timestamp") if "webhookEvent" in data else None
            if not isinstance(stamp, int) or isinstance(stamp, bool):
                return None
            sent = datetime.fromtimestamp(stamp / 1000, UTC)
        except Exception:  # a body this odd is not judged here: parse() reports it, and it is kept
            return None
        if sent - now > timedelta(minutes=5):
            log.warning("connector %s: Jira's clock is ahead by %s", connector.name, sent - now)
        if now - sent <= timedelta(minutes=window):
            return None
        return (
            f"sent at {sent.isoformat()}, more than {window} minutes ago "
            "(replay_window_minutes): not applied; replay it if it is genuine"
        )

    def parse(self, body: bytes, connector: ConnectorConfig) -> TicketEvent | Ignored:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ParseError("body is not a JSON object")
        digest = hashlib.sha256(body).hexdigest()[:32]
        if "webhookEvent" in data:
            return parse_webhook(data, connector, digest)
        if isinstance(data.get("issue"), dict):
            return parse_automation(data["issue"], connector, digest)
        if "key" in data and "fields" in data:
            return parse_automation(data, connector, digest)
        raise ParseError("neither a Jira webhook (webhookEvent) nor an Automation issue body")

    async def write_back(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, result: WriteBack
    ) -> None:
        """Write what the issue lacks: the property and field when they do not hold this
        answer version, the comment when none carries its ref (a retry writes nothing twice)."""
        options = connector.options
        issue = result.ticket.external_id
        if options.property_key:
            have = await client.get_property(http, connector, issue, options.property_key)
            if not is_version(have, result):
                document = texts.score_document(result, options.language)
                await client.set_property(http, connector, issue, options.property_key, document)
        if options.score_custom_field:
            field = options.score_custom_field
            if await client.get_field(http, connector, issue, field) != result.score:
                await client.set_field(http, connector, issue, field, result.score)
        if options.comment == "none" or await has_note(http, connector, issue, result):
            return
        note = texts.score_note(result, options.language)
        if options.comment == "internal":
            await client.internal_comment(http, connector, issue, note, public=False)
        else:
            await client.platform_comment(http, connector, issue, note)

    async def post_comment(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, comment: PostComment
    ) -> None:
        issue = comment.ticket.external_id
        if connector.options.comment == "internal":  # a Service Management project
            await client.internal_comment(http, connector, issue, comment.text, public=True)
        else:
            await client.platform_comment(http, connector, issue, comment.text)

    async def lookup_contact(
        self, http: httpx.AsyncClient, connector: ConnectorConfig, ticket: TicketRef, user_id: str
    ) -> str | None:
        return await client.user_email(http, connector, user_id, cloud=is_cloud(connector, user_id))

    async def check(self, http: httpx.AsyncClient, connector: ConnectorConfig) -> list[Check]:
        async def credentials() -> str:
            return f"signed in as {await client.myself(http, connector)}"

        found = [await checks.run("credentials", credentials)]
        field = connector.options.score_custom_field
        if field and found[0].ok:

            async def score_field() -> str:
                known = (await client.fields(http, connector)).get(field)
                if known is None:
                    raise checks.CheckFailed(
                        f"Jira has no field {field}: create a number field, or set "
                        "score_custom_field to null"
                    )
                kind = (known.get("schema") or {}).get("type")
                if kind != "number":
                    raise checks.CheckFailed(
                        f"{field} ({known.get('name')!r}) holds {kind or 'no'} values: the score "
                        "needs a number field"
                    )
                return f"{field} is the number field {known.get('name')!r}"

            found.append(await checks.run(f"field:{field}", score_field))
        return found
