"""ServiceNow Table API calls (docs/itsm-contracts.md §2.2, §2.4)."""

from __future__ import annotations

from typing import Any

import httpx

from app.connectors import outbound
from app.connectors.base import ConnectorConfig, PermanentError

# Fields the catch-up poll asks for: everything parse() reads, requester e-mails dot-walked.
POLL_FIELDS = ",".join(
    [
        "sys_id",
        "number",
        "sys_class_name",
        "short_description",
        "state",
        "caller_id",
        "caller_id.email",
        "requested_for",
        "requested_for.email",
        "opened_by",
        "opened_by.email",
        "assignment_group",
        "assigned_to",
        "business_service",
        "category",
        "priority",
        "contact_type",
        "made_sla",
        "opened_at",
        "resolved_at",
        "closed_at",
        "sys_updated_on",
    ]
)


async def patch_record(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    *,
    table: str,
    sys_id: str,
    values: dict[str, Any],
) -> None:
    """PATCH one record; the ?sysparm_fields keeps the answer small."""
    await outbound.call(
        http,
        connector,
        "PATCH",
        f"/api/now/table/{table}/{sys_id}",
        what=f"ServiceNow PATCH {table}",
        params={"sysparm_fields": "sys_id,number"},
        json=values,
    )


async def record_fields(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    *,
    table: str,
    sys_id: str,
    fields: list[str],
) -> dict[str, Any]:
    """The raw values of some fields of one record (a 404 is a permanent refusal)."""
    response = await outbound.call(
        http,
        connector,
        "GET",
        f"/api/now/table/{table}/{sys_id}",
        what=f"ServiceNow read {table}",
        params={"sysparm_fields": ",".join(fields), "sysparm_display_value": "false"},
    )
    result = _json(response).get("result")
    return result if isinstance(result, dict) else {}


async def journal_values(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    *,
    sys_id: str,
    element: str,
    containing: str,
) -> list[str]:
    """The record's journal entries of one field (`work_notes`) whose text contains
    `containing` (letters, digits, dots and spaces only: it goes into an encoded query)."""
    query = f"element_id={sys_id}^element={element}^valueLIKE{containing}"
    response = await outbound.call(
        http,
        connector,
        "GET",
        "/api/now/table/sys_journal_field",
        # The write-back account needs read access to sys_journal_field (docs/servicenow.md).
        what="ServiceNow journal read (sys_journal_field)",
        params={"sysparm_query": query, "sysparm_fields": "value", "sysparm_limit": "20"},
    )
    result = _json(response).get("result")
    rows = result if isinstance(result, list) else []
    return [str(r.get("value") or "") for r in rows if isinstance(r, dict)]


async def user_email(
    http: httpx.AsyncClient, connector: ConnectorConfig, sys_id: str
) -> str | None:
    """The sys_user's e-mail; None when the user has none or does not exist."""
    try:
        response = await outbound.call(
            http,
            connector,
            "GET",
            f"/api/now/table/sys_user/{sys_id}",
            what="ServiceNow sys_user lookup",
            params={"sysparm_fields": "email"},
        )
    except outbound.RefusedError as exc:
        if exc.status_code == 404:
            return None
        raise
    result = _json(response).get("result") or {}
    email = result.get("email") if isinstance(result, dict) else None
    return str(email) if email else None


async def resolved_records(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    *,
    table: str,
    states: list[str],
    since: str,
    offset: int,
    limit: int,
) -> list[dict[str, Any]]:
    """One page of records in a resolved state updated at or after `since` (UTC), oldest first."""
    query = f"stateIN{','.join(states)}^sys_updated_on>={since}^ORDERBYsys_updated_on"
    response = await outbound.call(
        http,
        connector,
        "GET",
        f"/api/now/table/{table}",
        what=f"ServiceNow poll {table}",
        params={
            "sysparm_query": query,
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true",
            "sysparm_fields": POLL_FIELDS,
            "sysparm_limit": str(limit),
            "sysparm_offset": str(offset),
        },
    )
    result = _json(response).get("result")
    if not isinstance(result, list):
        raise PermanentError("ServiceNow poll: the answer has no `result` list")
    return [r for r in result if isinstance(r, dict)]


async def read_users(http: httpx.AsyncClient, connector: ConnectorConfig) -> None:
    """One sys_user row: the write-back account can read requesters' e-mails."""
    await outbound.call(
        http,
        connector,
        "GET",
        "/api/now/table/sys_user",
        what="ServiceNow sys_user",
        params={"sysparm_fields": "sys_id", "sysparm_limit": "1"},
    )


async def read_journal(http: httpx.AsyncClient, connector: ConnectorConfig) -> None:
    """One sys_journal_field row: a retried write-back reads the work notes it wrote."""
    await outbound.call(
        http,
        connector,
        "GET",
        "/api/now/table/sys_journal_field",
        what="ServiceNow sys_journal_field",
        params={
            "sysparm_query": "element=work_notes",
            "sysparm_fields": "sys_id",
            "sysparm_limit": "1",
        },
    )


async def table_chain(http: httpx.AsyncClient, connector: ConnectorConfig, table: str) -> list[str]:
    """The table and the tables it extends, nearest first (incident, task); [] when the
    instance has no such table."""
    chain: list[str] = []
    name: str | None = table
    while name and name not in chain and len(chain) < 10:
        rows = await _rows(
            http, connector, "sys_db_object", f"name={name}", fields="name,super_class.name"
        )
        if not rows:
            break
        chain.append(name)
        name = rows[0].get("super_class.name") or None
    return chain


async def state_choices(
    http: httpx.AsyncClient, connector: ConnectorConfig, chain: list[str]
) -> dict[str, str]:
    """value -> English label of the active `state` choices of the nearest table in `chain`
    that defines any (a table without its own uses those of the table it extends)."""
    query = f"nameIN{','.join(chain)}^element=state^inactive=false^language=en"
    rows = await _rows(http, connector, "sys_choice", query, fields="name,value,label")
    by_table: dict[str, dict[str, str]] = {}
    for r in rows:
        by_table.setdefault(str(r.get("name")), {})[str(r.get("value"))] = str(r.get("label"))
    return next((by_table[t] for t in chain if t in by_table), {})


async def has_column(
    http: httpx.AsyncClient, connector: ConnectorConfig, chain: list[str], column: str
) -> bool:
    """Whether a table in `chain` (the table or one it extends) has the column."""
    query = f"nameIN{','.join(chain)}^element={column}"
    return bool(await _rows(http, connector, "sys_dictionary", query, fields="name"))


async def _rows(
    http: httpx.AsyncClient, connector: ConnectorConfig, table: str, query: str, *, fields: str
) -> list[dict[str, Any]]:
    response = await outbound.call(
        http,
        connector,
        "GET",
        f"/api/now/table/{table}",
        what=f"ServiceNow {table}",
        params={"sysparm_query": query, "sysparm_fields": fields, "sysparm_limit": "500"},
    )
    result = _json(response).get("result")
    return [r for r in result if isinstance(r, dict)] if isinstance(result, list) else []


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise PermanentError(f"not JSON: {response.text[:200]}") from exc
    return data if isinstance(data, dict) else {}
