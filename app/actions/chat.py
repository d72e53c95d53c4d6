"""Chat webhooks: the Slack incoming-webhook and Microsoft Teams Workflows message shapes, and
the POST that delivers one (retried on 408/429/5xx and timeouts, given up on other 4xx)."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

from app.jobs.registry import PermanentError, TransientError


class Alert(BaseModel):
    """What any channel says about a firing: a title, fact lines, an optional link."""

    title: str
    facts: list[tuple[str, str]]
    text: str | None = None  # the requester's comment, quoted
    link: str | None = None
    link_label: str = "Open the ticket"


def slack(alert: Alert) -> dict[str, Any]:
    """Slack incoming webhook: `text` for notifications, `blocks` for the message itself."""
    facts = "\n".join(f"*{name}:* {value}" for name, value in alert.facts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts or " "}},
    ]
    if alert.text:
        quoted = "\n".join(f"> {line}" for line in alert.text.splitlines())
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quoted[:2900]}})
    if alert.link:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{alert.link}|{alert.link_label}>"},
            }
        )
    return {"text": alert.title, "blocks": blocks}


def teams(alert: Alert) -> dict[str, Any]:
    """Teams Workflows ("When a Teams webhook request is received"): a message whose one
    attachment is an Adaptive Card (schema 1.4)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": alert.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": n, "value": v} for n, v in alert.facts]},
    ]
    if alert.text:
        body.append({"type": "TextBlock", "text": alert.text, "wrap": True, "isSubtle": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if alert.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": alert.link_label, "url": alert.link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


FORMATS = {"slack": slack, "teams": teams}
RETRYABLE = {408, 425, 429}


async def post(http: httpx.AsyncClient, url: str, fmt: str, alert: Alert) -> None:
    try:
        response = await http.post(url, json=FORMATS[fmt](alert))
    except httpx.TimeoutException as exc:
        raise TransientError(f"chat webhook: timeout ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"chat webhook: {type(exc).__name__}") from exc
    status = response.status_code
    if status < 400:
        return
    message = f"chat webhook: HTTP {status} {response.text[:200]}"
    if status in RETRYABLE or status >= 500:
        after = response.headers.get("retry-after")
        raise TransientError(
            message, retry_after=float(after) if after and after.isdigit() else None
        )
    raise PermanentError(message)
