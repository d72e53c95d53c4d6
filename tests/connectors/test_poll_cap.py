"""The catch-up poll's watermark never jumps over records a page cap left unread, and a record
the poll cannot read does not stop the others (loopback Table API stand-in)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from app.connectors.servicenow import connector as sn
from tests.connectors.conftest import config, record_body
from tests.connectors.fake_itsm import FakeITSM

RAW = json.loads(record_body())
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def row(sys_id: str, number: str, updated: str) -> dict:
    return {**RAW, "sys_id": sys_id, "number": number, "sys_updated_on": updated}


async def poll(itsm: FakeITSM) -> tuple[list[tuple[str, bytes]], datetime | None]:
    async with httpx.AsyncClient() as http:
        kind = sn.ServiceNowKind()
        return await kind.poll_resolved(http, config("servicenow", base_url=itsm.url), SINCE, NOW)


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sn, "POLL_PAGE", 2)
    monkeypatch.setattr(sn, "POLL_MAX_PAGES", 1)


async def test_a_capped_table_holds_the_watermark_back(small_pages: None) -> None:
    with FakeITSM() as itsm:
        # incident fills its one allowed page (more wait behind it); sc_req_item is newer.
        incidents = [
            row("i1", "INC1", "2026-11-21 10:00:00"),
            row("i2", "INC2", "2026-11-21 10:05:00"),
        ]
        itsm.respond("GET", "/api/now/table/incident", 200, {"result": incidents})
        items = [row("r1", "RITM1", "2026-11-22 11:00:00")]
        itsm.respond("GET", "/api/now/table/sc_req_item", 200, {"result": items})
        found, newest = await poll(itsm)
        [first, second] = itsm.requests("GET")
    assert first.query["sysparm_limit"] == ["2"] and first.query["sysparm_offset"] == ["0"]
    assert second.path == "/api/now/table/sc_req_item"  # no second incident page this run
    assert len(found) == 3
    # Not 2026-11-22 11:00: the next run must read incidents after 10:05 again.
    assert newest == datetime(2026, 11, 21, 10, 5, tzinfo=UTC)


async def test_without_a_cap_the_watermark_is_the_newest_record(small_pages: None) -> None:
    with FakeITSM() as itsm:
        itsm.respond(
            "GET",
            "/api/now/table/incident",
            200,
            {"result": [row("i1", "INC1", "2026-11-21 10:00:00")]},
        )
        itsm.respond(
            "GET",
            "/api/now/table/sc_req_item",
            200,
            {"result": [row("r1", "RITM1", "2026-11-22 11:00:00")]},
        )
        _, newest = await poll(itsm)
    assert newest == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)


async def test_an_unreadable_record_is_passed_on_not_fatal(small_pages: None) -> None:
    broken = {**RAW, "sys_id": "", "sys_updated_on": "2026-11-21 09:00:00"}
    with FakeITSM() as itsm:
        itsm.respond("GET", "/api/now/table/incident", 200, {"result": [broken]})
        itsm.respond(
            "GET",
            "/api/now/table/sc_req_item",
            200,
            {"result": [row("r1", "RITM1", "2026-11-22 11:00:00")]},
        )
        found, newest = await poll(itsm)
    assert [d.split(":")[2] for d, _ in found] == ["sha256", "r1"]  # stored failed by the job
    assert newest == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
