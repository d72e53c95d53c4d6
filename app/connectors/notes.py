"""Internal notes on a ticket for alert rules (`connectors.post_note`): a ServiceNow work note
or a Jira comment the requester does not see; a note already carrying its ref is not repeated."""

from __future__ import annotations

import logging

import httpx

from app.connectors.base import ConnectorConfig
from app.connectors.jira import client as jira
from app.connectors.servicenow import client as servicenow
from app.tickets.events import PostNote

log = logging.getLogger("xpulse.connectors")
JIRA_PAGES = 5
JIRA_PAGE = 100


async def post(http: httpx.AsyncClient, connector: ConnectorConfig, note: PostNote) -> bool:
    """Add the note unless the ticket has it; False when this kind takes no internal notes."""
    if connector.kind == "servicenow":
        table, sys_id = note.ticket.table or "incident", note.ticket.external_id
        have = await servicenow.journal_values(
            http, connector, sys_id=sys_id, element="work_notes", containing=note.ref
        )
        if not any(note.ref in value for value in have):
            # work_notes, not comments: comments notify the caller (itsm-contracts.md §2.4).
            values = {"work_notes": note.text}
            await servicenow.patch_record(
                http, connector, table=table, sys_id=sys_id, values=values
            )
        return True
    if connector.kind == "jira":
        issue = note.ticket.external_id
        if await _jira_has(http, connector, issue, note.ref):
            return True
        if connector.options.comment == "none":  # the admin wants no comments from XPulse
            return False
        if connector.options.comment == "internal":  # Service Management: hidden from customers
            await jira.internal_comment(http, connector, issue, note.text, public=False)
        else:  # a software project has no internal comments: agents are its only readers
            await jira.platform_comment(http, connector, issue, note.text)
        return True
    log.info("connector %s (%s) takes no internal notes", connector.name, connector.kind)
    return False


async def _jira_has(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, ref: str
) -> bool:
    start = 0
    for _ in range(JIRA_PAGES):
        bodies, total = await jira.comment_page(
            http, connector, issue, start=start, limit=JIRA_PAGE
        )
        if any(ref in body for body in bodies):
            return True
        start += len(bodies)
        if not bodies or start >= total:
            return False
    return False
