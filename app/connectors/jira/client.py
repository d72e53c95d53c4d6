"""Jira REST calls (docs/itsm-contracts.md §1.6): the API v2 paths Cloud and Data Center share."""

from __future__ import annotations

from typing import Any

import httpx

from app.connectors import outbound
from app.connectors.base import ConnectorConfig


async def set_property(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, key: str, value: Any
) -> None:
    await outbound.call(
        http,
        connector,
        "PUT",
        f"/rest/api/2/issue/{issue}/properties/{key}",
        what="Jira issue property",
        json=value,
    )


async def get_property(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, key: str
) -> Any:
    """The property's value, or None when the issue has no such property."""
    try:
        response = await outbound.call(
            http,
            connector,
            "GET",
            f"/rest/api/2/issue/{issue}/properties/{key}",
            what="Jira issue property read",
        )
    except outbound.RefusedError as exc:
        if exc.status_code == 404:  # no property yet (a missing issue fails the write next)
            return None
        raise
    data = _json(response)
    return data.get("value") if isinstance(data, dict) else None


async def get_field(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, field: str
) -> Any:
    response = await outbound.call(
        http,
        connector,
        "GET",
        f"/rest/api/2/issue/{issue}",
        what="Jira field read",
        params={"fields": field},
    )
    data = _json(response)
    fields = data.get("fields") if isinstance(data, dict) else None
    return fields.get(field) if isinstance(fields, dict) else None


async def comment_page(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, *, start: int, limit: int
) -> tuple[list[str], int]:
    """(bodies, total) of one page of the issue's comments, newest first. The platform listing
    shows Service Management internal comments too (to the agent XPulse calls as)."""
    response = await outbound.call(
        http,
        connector,
        "GET",
        f"/rest/api/2/issue/{issue}/comment",
        what="Jira comments read",
        params={"orderBy": "-created", "startAt": str(start), "maxResults": str(limit)},
    )
    data = _json(response)
    if not isinstance(data, dict):
        return [], 0
    rows = data.get("comments") if isinstance(data.get("comments"), list) else []
    bodies = [str(c.get("body") or "") for c in rows if isinstance(c, dict)]
    total = data.get("total")
    return bodies, total if isinstance(total, int) else len(bodies)


async def set_field(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, field: str, value: Any
) -> None:
    # notifyUsers=false is ignored without admin rights; harmless to ask.
    await outbound.call(
        http,
        connector,
        "PUT",
        f"/rest/api/2/issue/{issue}",
        what="Jira field",
        params={"notifyUsers": "false"},
        json={"fields": {field: value}},
    )


async def internal_comment(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, text: str, *, public: bool
) -> None:
    """Service Management comment; public=False keeps it from the customer."""
    await outbound.call(
        http,
        connector,
        "POST",
        f"/rest/servicedeskapi/request/{issue}/comment",
        what="Jira Service Management comment",
        json={"body": text, "public": public},
    )


async def platform_comment(
    http: httpx.AsyncClient, connector: ConnectorConfig, issue: str, text: str
) -> None:
    """A plain issue comment (customer-visible on Service Management projects)."""
    await outbound.call(
        http,
        connector,
        "POST",
        f"/rest/api/2/issue/{issue}/comment",
        what="Jira comment",
        json={"body": text},
    )


async def user_email(
    http: httpx.AsyncClient, connector: ConnectorConfig, user_id: str, *, cloud: bool
) -> str | None:
    """Cloud looks users up by accountId, Data Center by username; None when hidden or absent."""
    params = {"accountId": user_id} if cloud else {"username": user_id}
    try:
        response = await outbound.call(
            http, connector, "GET", "/rest/api/2/user", what="Jira user lookup", params=params
        )
    except outbound.RefusedError as exc:
        if exc.status_code == 404:
            return None
        raise
    data = _json(response)
    email = data.get("emailAddress") if isinstance(data, dict) else None
    return str(email) if email else None


async def myself(http: httpx.AsyncClient, connector: ConnectorConfig) -> str:
    """The display name of the account XPulse calls Jira as."""
    response = await outbound.call(http, connector, "GET", "/rest/api/2/myself", what="Jira myself")
    data = _json(response)
    if not isinstance(data, dict):
        return "?"
    return str(data.get("displayName") or data.get("name") or "?")


async def fields(http: httpx.AsyncClient, connector: ConnectorConfig) -> dict[str, dict[str, Any]]:
    """id -> the field (name, schema) of every system and custom field."""
    response = await outbound.call(http, connector, "GET", "/rest/api/2/field", what="Jira fields")
    rows = _json(response)
    if not isinstance(rows, list):
        return {}
    return {str(r["id"]): r for r in rows if isinstance(r, dict) and "id" in r}


def _json(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
