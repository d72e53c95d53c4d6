"""What a firing does: each action of the rule queued as its own job, keyed by the firing, so
replicas and retries queue it once; the texts the e-mail, chat post and ticket note carry."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import rules
from app.actions.chat import Alert
from app.actions.models import AlertRule
from app.config import Settings
from app.feedback.models import Response
from app.feedback.scales import SCALES
from app.jobs import lanes, queue
from app.tickets.events import PostNote
from app.tickets.models import Ticket
from app.tickets.service import ref_of

EMAIL_JOB = "actions.send_alert_email"
CHAT_JOB = "actions.post_chat"
NOTE_JOB = "connectors.post_note"


class AlertEmail(BaseModel):
    """`actions.send_alert_email`: one alert to the rule's people."""

    firing_id: uuid.UUID
    to: list[str]
    alert: Alert


class ChatPost(BaseModel):
    """`actions.post_chat`: one alert to one of the rule's chat webhooks. The URL (a secret)
    stays on the rule: the job names the rule and the webhook's position."""

    rule_id: uuid.UUID
    index: int
    alert: Alert


def answer_alert(
    rule: AlertRule, answer: rules.Answer, response: Response, ticket: Ticket
) -> Alert:
    scale = SCALES[answer.scale]
    facts = [
        ("Ticket", f"{ticket.number} {ticket.title}".strip()),
        ("Score", f"{answer.score} of {scale.min}–{scale.max} ({answer.band.value})"),
    ]
    if ticket.service:
        facts.append(("Service", ticket.service))
    if ticket.assignment_group:
        facts.append(("Assignment group", ticket.assignment_group))
    if answer.lost_minutes is not None:
        facts.append(("Lost time", f"{answer.lost_minutes} min"))
    if answer.factors:
        facts.append(("Factors", ", ".join(answer.factors)))
    facts.append(("Rule", rule.name))
    return Alert(
        title=f"XPulse: {answer.band.value} answer on {ticket.number}",
        facts=facts,
        text=response.comment,
        link=ticket.url,
    )


def note_text(alert: Alert, ref: str) -> str:
    lines = [alert.title, *(f"{name}: {value}" for name, value in alert.facts)]
    if alert.text:
        lines.append(f"Comment: {alert.text}")
    lines.append(f"Ref {ref}")
    return "\n".join(lines)


async def enqueue_for_answer(
    session: AsyncSession,
    rule: AlertRule,
    *,
    key: str,
    firing_id: uuid.UUID,
    answer: rules.Answer,
    response: Response,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
) -> None:
    alert = answer_alert(rule, answer, response, ticket)
    await enqueue_common(session, rule, key=key, firing_id=firing_id, alert=alert, now=now)
    if rule.actions.get("ticket_note"):
        ref = f"XPulse{firing_id.hex[:12]}"  # letters and digits: ServiceNow queries it
        note = PostNote(ticket=ref_of(ticket), ref=ref, text=note_text(alert, ref))
        await queue.enqueue(
            session,
            NOTE_JOB,
            note,
            dedupe_key=f"{key}:note",
            run_after=now,
            lane=lanes.connector_lane(ticket.connector_id),
        )


async def enqueue_common(
    session: AsyncSession,
    rule: AlertRule,
    *,
    key: str,
    firing_id: uuid.UUID,
    alert: Alert,
    now: datetime,
) -> None:
    """The e-mail and chat actions, which answers and XLAs share."""
    to = list(rule.actions.get("email") or [])
    if to:
        payload = AlertEmail(firing_id=firing_id, to=to, alert=alert)
        await queue.enqueue(session, EMAIL_JOB, payload, dedupe_key=f"{key}:email", run_after=now)
    for index, _ in enumerate(rule.actions.get("chat") or []):
        post = ChatPost(rule_id=rule.id, index=index, alert=alert)
        await queue.enqueue(
            session, CHAT_JOB, post, dedupe_key=f"{key}:chat:{index}", run_after=now
        )
