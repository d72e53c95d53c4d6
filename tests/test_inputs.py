"""No 500 for any input: NUL characters, lone surrogates, over-deep JSON and integers beyond a
column answer 422 naming the field, or, in a webhook's ticket data, are cleaned so the ticket is
still surveyed; a stored failure reason names the column, never the SQL or the value."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app import db_errors, inputs
from app.auth.models import ApiKey
from app.clock import utcnow
from app.connectors.models import InboundEvent
from app.feedback.models import FeedbackRequest
from app.jobs.models import Job
from app.tickets.models import Ticket
from app.tickets.schemas import TicketData
from tests.connectors.conftest import bearer, make_connector, own_fixture, std_headers

PROBLEM = "application/problem+json"


def assert_names(response: httpx.Response, field: str, type_: str | None = None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["field"] == field
    if type_:
        assert error["type"] == type_


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/scores", "service"),
        ("/api/v1/scores/breakdown", "assignment_group"),
        ("/api/v1/scores/trend", "category"),
        ("/api/v1/insights/watermelon", "priority"),
        ("/api/v1/factors", "agent"),
        ("/api/v1/feedback/requests", "requester"),
        ("/api/v1/feedback/responses", "requester"),
        ("/api/v1/exports/responses.csv", "service"),
        ("/api/v1/exports/responses.jsonl", "channel"),
        ("/api/v1/jobs", "cursor"),
        ("/dashboard", "service"),
    ],
)
async def test_nul_in_a_query_filter_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str, param: str
) -> None:
    response = await client.get(f"{path}?{param}=a%00b", headers=admin_headers)
    # The export answers before it streams: a 422, not a 200 that aborts mid-body.
    assert_names(response, f"query.{param}", "nul_character")


async def test_nul_in_the_path_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    assert_names(await client.get("/api/v1/xlas/a%00b", headers=admin_headers), "path")
    assert_names(await client.get("/f/tok%00en"), "path")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/xlas", {"name": "a\x00b", "scope": "all", "min_happiness": 50}, "name"),
        ("/api/v1/api-keys", {"name": "a\ud800b"}, "name"),
        (
            "/api/v1/connectors",
            {
                "name": "nul",
                "kind": "generic",
                "base_url": "https://helpdesk.example.com",
                "webhook_secret": "0123456789abcdef\x00",
            },
            "webhook_secret",
        ),
        (
            "/api/v1/connectors",
            {"name": "x", "options": {"tables": ["ok", "a\x00"]}},
            "options.tables.1",
        ),
        ("/api/v1/api-keys", {"name\x00": "x"}, "body"),
    ],
)
async def test_unstorable_text_in_a_json_body_is_422_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str, body: dict, field: str
) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii: "\u0000" and "\ud800" escapes on the wire
    headers = {**admin_headers, "content-type": "application/json"}
    assert_names(await client.post(path, content=raw, headers=headers), field)


async def test_feedback_answer_with_nul_comment_is_422(client: httpx.AsyncClient) -> None:
    form = await client.post(
        "/f/some-token",
        content=b"score=9&comment=a%00b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_names(form, "comment", "nul_character")
    as_json = await client.post(
        "/f/some-token",
        content=json.dumps({"score": 9, "comment": "a\ud800"}),
        headers={"accept": "application/json", "content-type": "application/json"},
    )
    assert_names(as_json, "comment", "lone_surrogate")


async def test_ten_thousand_levels_of_json_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    headers = {"content-type": "application/json"}
    assert_names(await client.post("/f/some-token", content=deep, headers=headers), "body")
    headers |= admin_headers
    assert_names(await client.post("/api/v1/xlas", content=deep, headers=headers), "body")
    shallow_but_deep = json.dumps({"name": "x", "options": _nested(80)}).encode()
    response = await client.post("/api/v1/connectors", content=shallow_but_deep, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_too_deep"


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_the_database_guard_names_the_column_never_the_value(session: AsyncSession) -> None:
    """The last guard, for text that reached the database by another way (multipart forms,
    values a connector derived): the column's name, and nothing of the value."""
    with pytest.raises(db_errors.UnstorableValue) as caught:
        async with session.begin_nested():
            session.add(ApiKey(name="secret\x00value", prefix="p", key_hash="h", scope="read"))
            await session.flush()
    bad = db_errors.unstorable(caught.value)
    assert (bad.column, bad.kind) == ("name", "nul_character")
    assert "secret" not in db_errors.describe(caught.value)
    with pytest.raises(db_errors.UnstorableValue) as caught:
        await session.scalar(select(Job).where(Job.id == 2**70))
    assert db_errors.unstorable(caught.value).column == "id"
    with pytest.raises(db_errors.UnstorableValue) as caught:
        async with session.begin_nested():
            session.add(
                Job(name="x", payload={"note": "a\x00b"}, status="pending", run_after=utcnow())
            )
            await session.flush()
    assert db_errors.unstorable(caught.value).column == "payload"


async def test_the_database_guard_reads_every_row_of_a_bulk_insert(session: AsyncSession) -> None:
    """One flush of several rows is one multi-row INSERT: good rows pass, a bad one is named."""

    def key(name: str) -> ApiKey:
        return ApiKey(name=name, prefix=name[:8], key_hash=f"h-{uuid.uuid4()}", scope="read")

    async with session.begin_nested():
        session.add_all([key(f"bulk-{i}") for i in range(5)])
        await session.flush()
    with pytest.raises(db_errors.UnstorableValue) as caught:
        async with session.begin_nested():
            session.add_all([key("bulk-a"), key("bulk-b"), key("bulk\ud800c")])
            await session.flush()
    assert (caught.value.column, caught.value.kind) == ("name", "lone_surrogate")
    jobs = [Job(name="x", payload={1: ["a", {"b": "c"}]}, status="pending", run_after=utcnow())]
    async with session.begin_nested():  # JSON with non-text keys is walked, not refused
        session.add_all(jobs)
        await session.flush()


async def test_a_database_refusal_is_described_without_sql_or_value(session: AsyncSession) -> None:
    too_long = "secret-" + "x" * 300  # over api_keys.name
    with pytest.raises(DBAPIError) as caught:
        async with session.begin_nested():
            session.add(ApiKey(name=too_long, prefix="p", key_hash="h", scope="read"))
            await session.flush()
    reason = db_errors.describe(caught.value)
    assert reason.startswith("StringDataRightTruncationError (SQLSTATE 22001)")
    assert "secret" not in reason and "INSERT" not in reason


def test_cleaning_keeps_text_and_drops_what_cannot_be_stored() -> None:
    assert inputs.clean_text("VPN\x00 drops \ud800 hourly") == "VPN drops \ufffd hourly"
    assert inputs.clean_text("plain ✓ 😀") == "plain ✓ 😀"
    data = TicketData(external_id="a\x00", number="INC1", title="t\ud83d", raw={"k\x00": ["v\x00"]})
    assert (data.external_id, data.title, data.raw) == ("a", "t\ufffd", {"k": ["v"]})
    body = json.dumps({"t": "a\x00\ud800", "ok": "😀"}).encode()
    assert json.loads(inputs.clean_json_bytes(body)) == {"t": "a\ufffd", "ok": "😀"}


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
async def test_a_servicenow_ticket_with_unstorable_text_is_cleaned_and_surveyed(
    client: httpx.AsyncClient, session: AsyncSession, bad: str
) -> None:
    connector = await make_connector(session, kind="servicenow")
    record = json.loads(own_fixture("servicenow", "incident_resolved_display_false.json"))
    record["short_description"] = f"VPN{bad} drops"
    record["u_notes"] = {"deep": [f"x{bad}"]}  # kept in the ticket's raw JSON
    response = await client.post(
        f"/webhooks/{connector.name}", content=json.dumps(record).encode(), headers=bearer()
    )
    assert response.status_code == 202, response.text
    ticket = await session.get(Ticket, uuid.UUID(response.json()["ticket_id"]))
    assert ticket.title == ("VPN drops" if bad == "\x00" else "VPN\ufffd drops")
    assert await session.scalar(
        select(FeedbackRequest).where(FeedbackRequest.ticket_id == ticket.id)
    )


async def test_a_generic_ticket_with_a_lone_surrogate_is_surveyed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """pydantic's JSON parser refuses a lone surrogate escape outright: the body it parses is
    cleaned first (the stored body stays as sent)."""
    connector = await make_connector(session, kind="generic")
    body = own_fixture("generic", "resolved.json").replace(b"Password reset", b"Pass\\ud800word")
    response = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert response.status_code == 202, response.text
    ticket = await session.get(Ticket, uuid.UUID(response.json()["ticket_id"]))
    assert ticket.title == "Pass\ufffdword"
    event = await session.scalar(
        select(InboundEvent).where(InboundEvent.connector_id == connector.id)
    )
    assert event.body == body


async def test_a_failed_delivery_reason_names_the_field_not_the_value(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    connector = await make_connector(session, kind="generic")
    secret_like = "leaked-" + "x" * 300  # an id over its column's 255 characters
    body = own_fixture("generic", "resolved.json").replace(b'"T-1001"', f'"{secret_like}"'.encode())
    response = await client.post(
        f"/webhooks/{connector.name}", content=body, headers=std_headers(body)
    )
    assert response.status_code == 422
    event = await session.scalar(
        select(InboundEvent).where(InboundEvent.connector_id == connector.id)
    )
    assert event.status == "failed"
    assert "leaked" not in event.reason and "INSERT" not in event.reason
    assert "id" in event.reason


async def test_a_time_zone_name_too_long_for_a_file_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """ZoneInfo raises OSError (ENAMETOOLONG) for it: neither a 500 nor a 'database away' 503."""
    response = await client.get(f"/api/v1/xlas?tz={'Zone' * 100}", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.tz"


def test_only_the_driver_s_os_errors_mean_the_database_is_away() -> None:
    try:
        raise OSError(36, "File name too long")
    except OSError as exc:
        assert not db_errors.is_unavailable(exc)
