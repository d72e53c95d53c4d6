"""Every payload, shared (../shared/fixtures) and our own (tests/fixtures), parsed to the exact
normalised ticket, ignore reason or parse error written down by reading the payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.connectors.base import Ignored, ParseError, TicketEvent
from app.connectors.registry import KINDS
from tests.conftest import SHARED, shared_fixture
from tests.connectors.conftest import FIXTURES, config


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# (kind, file, connector options) -> expected: a dict of ticket fields (+ "cycle", "guess"),
# or ("ignored", reason fragment, reopened external id) or ("error", message fragment).
SHARED_CASES: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {
    ("jira", "cloud_issue_created.json"): ({}, ("ignored", "created", None)),
    ("jira", "cloud_issue_updated_components_no_email.json"): (
        {},
        ("ignored", "no status change", None),
    ),
    ("jira", "cloud_issue_updated_reopened.json"): (
        {},
        ("ignored", "To Do is not in the done category", "10040"),
    ),
    ("jira", "cloud_issue_updated_resolved_done.json"): (
        {},
        {
            "external_id": "10040",
            "number": "TES-41",
            "title": "Unit test summary 1",
            "table": "Story",
            "url": "https://some-instance-test.atlassian.net/browse/TES-41",
            "requester_id": "5c5f880629be9642ba529340",
            "requester_email": "some-instance-test@gmail.com",
            "requester_name": "Test User",
            "assignee": None,
            "assignment_group": "test1",
            "service": "COMP-1",
            "priority": "High",
            "opened_at": utc(2019, 2, 16, 3, 1, 52, 971000),  # 19:01:52.971-0800
            "resolved_at": utc(2019, 2, 16, 3, 15, 40, 470000),  # resolutiondate
            "cycle": "resolved:2019-02-16T03:15:40.470000+00:00",
            "guess": False,
        },
    ),
    ("jira", "server_issue_updated_in_progress.json"): (
        {},
        ("ignored", "In Progress is not in the done category", "10300"),
    ),
    ("jira", "server_issue_updated_resolved.json"): (
        {},
        {
            "external_id": "10300",
            "number": "TES-4",
            "title": "Unit test summary 1",
            "table": "Bug",
            "url": "http://some-instance-test.centralus.cloudapp.azure.com:8080/browse/TES-4",
            "requester_id": "admin",  # Data Center: name, no accountId
            "requester_email": "admin@admin.com",
            "requester_name": "admin",
            "assignee": None,
            "assignment_group": "Mattermost TEST",
            "service": None,
            "priority": "Medium",
            "opened_at": utc(2019, 8, 12, 22, 14, 23, 580000),  # 06:14:23.580+0800
            "resolved_at": utc(2019, 8, 12, 23, 23, 1, 890000),
            "cycle": "resolved:2019-08-12T23:23:01.890000+00:00",
            "guess": False,
        },
    ),
    ("servicenow", "incident_INC0000060_display_value_all.json"): (
        {},
        {
            "external_id": "1c741bd70b2322007518478d83673af3",
            "number": "INC0000060",
            "title": "Unable to connect to email",
            "table": "incident",
            "requester_id": "681ccaf9c0a8016400b98a06818d57c7",  # caller_id, no e-mail
            "requester_email": None,
            "requester_name": "Joe Employee",
            "assignee": "David Loo",
            "assignment_group": "Network",
            "service": "Email",
            "category": "Inquiry / Help",
            "priority": "3 - Moderate",
            "channel": "Self-service",
            "sla_met": True,
            "opened_at": utc(2016, 12, 12, 15, 19, 57),  # value (UTC), not display (Pacific)
            "resolved_at": utc(2016, 12, 13, 21, 43, 14),
            "cycle": "resolved_at:2016-12-13 21:43:14",
            "guess": False,
        },
    ),
    ("servicenow", "change_task_CTASK0010008_display_value_all.json"): (
        {},
        ("ignored", "table change_task is not surveyed", None),
    ),
}

# The change_task record again, with change_task surveyed: state 3 is Closed on this table.
EXTRA_SHARED_CASES = [
    (
        "servicenow",
        "change_task_CTASK0010008_display_value_all.json",
        {"tables": ["change_task"]},
        {
            "external_id": "d740c636c0a8016700d4f00b16f9c997",
            "number": "CTASK0010008",
            "title": "Shut down all databases using the Oracle home",
            "table": "change_task",
            "requester_id": "glide.maint",  # opened_by: change tasks have no caller
            "requester_email": None,
            "assignee": "Don Goodliffe",
            "assignment_group": None,
            "priority": "2 - High",
            "channel": "Phone",
            "opened_at": utc(2016, 11, 10, 5, 23, 45),
            "resolved_at": utc(2016, 11, 11, 11, 51, 16),  # no closed_at: last update
            "cycle": "updated:2016-11-11 11:51:16",
            "guess": True,
        },
    ),
]

OWN_CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    (
        "servicenow",
        "incident_resolved_display_false.json",
        {},
        {
            "external_id": "9d385017c611228701d22104cc95c371",
            "number": "INC0010042",
            "requester_id": "62826bf03710200044e0bfc8bcbe5df1",
            "requester_email": "abel.tuter@example.com",  # dot-walked caller_id.email
            "assignment_group": "287ebd7da9fe198100f92cc8d1d2154e",  # raw shape: sys_id only
            "priority": "2",
            "sla_met": False,
            "opened_at": utc(2026, 11, 20, 8, 15),
            "resolved_at": utc(2026, 11, 21, 16, 2, 33),
            "cycle": "resolved_at:2026-11-21 16:02:33",
            "guess": False,
        },
    ),
    (
        "servicenow",
        "incident_business_rule.json",  # exactly what the business rule of docs/servicenow.md sends
        {},
        {
            "external_id": "9d385017c611228701d22104cc95c371",
            "number": "INC0010042",
            "title": "VPN drops every hour",
            "table": "incident",
            "requester_id": "62826bf03710200044e0bfc8bcbe5df1",
            "requester_email": "abel.tuter@example.com",
            "requester_name": "Abel Tuter",
            "assignee": "David Loo",
            "assignment_group": "Network",
            "service": "VPN",
            "category": "Network",
            "priority": "2 - High",
            "channel": "Email",
            "sla_met": True,
            "opened_at": utc(2026, 11, 20, 8, 15),  # value (UTC), not the display (Pacific)
            "resolved_at": utc(2026, 11, 21, 16, 2, 33),
            "cycle": "resolved_at:2026-11-21 16:02:33",
            "guess": False,
        },
    ),
    (
        "servicenow",
        "incident_closed_display_false.json",
        {},
        {"number": "INC0010042", "cycle": "resolved_at:2026-11-21 16:02:33", "guess": False},
    ),
    (
        "servicenow",
        "incident_resolved_display_true.json",
        {},
        {
            "number": "INC0000015",
            "table": "incident",  # from the label "Incident"
            "requester_id": None,  # a display name is not a sys_id
            "requester_name": "Fred Luddy",
            "assignment_group": "Network",
            "priority": "1 - Critical",
            "opened_at": None,  # local-zone display strings are never parsed
            "resolved_at": None,
            # Local display time: never the UTC key the poll sees, so only a guess.
            "cycle": "local:resolved_at:11/21/2026 10:02:09",
            "guess": True,
        },
    ),
    (
        "servicenow",
        "sc_req_item_closed_wrapper.json",
        {},
        {
            "number": "RITM0010001",
            "table": "sc_req_item",
            "requester_id": "681ccaf9c0a8016400b98a06818d57c7",  # requested_for
            "resolved_at": utc(2026, 11, 22, 12, 30),
            "cycle": "closed_at:2026-11-22 12:30:00",
            "guess": False,
        },
    ),
    (
        "servicenow",
        "incident_in_progress.json",
        {},
        ("ignored", "state 2 is not resolved", "9d385017c611228701d22104cc95c371"),
    ),
    ("servicenow", "malformed_no_sys_id.json", {}, ("error", "no sys_id")),
    (
        "jira",
        "automation_issue_done.json",
        {},
        {
            "external_id": "10087",  # a number in Automation format
            "number": "ITS-7",
            "requester_email": "ana@example.com",
            "requester_name": "Ana Customer",
            "assignee": "Sam Agent",
            "assignment_group": "IT Support",
            "table": "Service Request",
            "resolved_at": utc(2026, 11, 21, 16, 4, 12),
            "cycle": "resolved:2026-11-21T16:04:12+00:00",
            "guess": False,
        },
    ),
    (
        "jira",
        "cloud_resolved_hidden_email.json",
        {},
        {
            "number": "ITS-8",
            "requester_id": "712020:4d2b1c3e-aaaa-bbbb-cccc-0123456789ab",
            "requester_email": None,
            "service": "Email",
            "cycle": "resolved:2026-11-21T10:00:00+00:00",
        },
    ),
    (
        "jira",
        "cloud_resolved_to_closed.json",
        {},
        {"number": "ITS-8", "cycle": "resolved:2026-11-21T10:00:00+00:00"},
    ),
    ("jira", "not_jira.json", {}, ("error", "neither a Jira webhook")),
    (
        "generic",
        "resolved.json",
        {},
        {
            "external_id": "T-1001",
            "number": "HD-1001",
            "requester_email": "kim@example.com",
            "requester_locale": "de",
            "assignment_group": "Service Desk",
            "service": "Identity",
            "opened_at": utc(2026, 11, 21, 7, 0),
            "resolved_at": utc(2026, 11, 21, 10, 0),
            "sla_met": True,
            "cycle": "resolution:2026-11-21T10:00:00+00:00",
        },
    ),
    ("generic", "updated_ignored.json", {}, ("ignored", "ticket.updated", None)),
    ("generic", "malformed_no_number.json", {}, ("error", "data.number")),
]


def check(kind: str, body: bytes, options: dict[str, Any], expected: Any) -> None:
    connector = config(kind, **options)
    if isinstance(expected, tuple) and expected[0] == "error":
        with pytest.raises(ParseError, match=expected[1]):
            KINDS[kind].parse(body, connector)
        return
    result = KINDS[kind].parse(body, connector)
    if isinstance(expected, tuple):
        assert isinstance(result, Ignored), result
        assert expected[1] in result.reason
        assert result.reopened == expected[2]
        return
    assert isinstance(result, TicketEvent), result
    expected = dict(expected)
    assert result.cycle == expected.pop("cycle")
    if "guess" in expected:
        assert result.cycle_is_guess is expected.pop("guess")
    actual = {key: getattr(result.ticket, key) for key in expected}
    assert actual == expected


@pytest.mark.parametrize(("kind", "name"), sorted(SHARED_CASES), ids=lambda v: str(v))
def test_shared_fixture(kind: str, name: str) -> None:
    options, expected = SHARED_CASES[(kind, name)]
    check(kind, shared_fixture(kind, name).read_bytes(), options, expected)


@pytest.mark.parametrize(("kind", "name", "options", "expected"), EXTRA_SHARED_CASES)
def test_shared_fixture_with_options(
    kind: str, name: str, options: dict[str, Any], expected: Any
) -> None:
    check(kind, shared_fixture(kind, name).read_bytes(), options, expected)


def test_every_shared_fixture_has_an_expectation() -> None:
    folder = SHARED / "fixtures"
    if not folder.exists():
        shared_fixture("jira")  # skips (or fails under CI) with the reason
    files = {(p.parent.name, p.name) for p in folder.glob("*/*.json")}
    assert files == set(SHARED_CASES)


@pytest.mark.parametrize(
    ("kind", "name", "options", "expected"), OWN_CASES, ids=[c[1] for c in OWN_CASES]
)
def test_own_fixture(kind: str, name: str, options: dict[str, Any], expected: Any) -> None:
    check(kind, (FIXTURES / kind / name).read_bytes(), options, expected)


def test_every_own_fixture_has_an_expectation() -> None:
    files = {(p.parent.name, p.name) for p in FIXTURES.glob("*/*.json")}
    assert files == {(c[0], c[1]) for c in OWN_CASES}


def test_state_labels_count_as_resolved() -> None:
    """sysparm_display_value=true sends "Closed Complete" for a request item."""
    record = {"sys_id": "a1", "number": "RITM1", "state": "Closed Complete"}
    body = json.dumps({"table": "sc_req_item", "record": record}).encode()
    result = KINDS["servicenow"].parse(body, config("servicenow"))
    assert isinstance(result, TicketEvent) and result.ticket.table == "sc_req_item"


def test_resolved_states_are_configurable_per_table() -> None:
    body = b'{"sys_class_name": "incident", "sys_id": "a1", "number": "INC1", "state": "6"}'
    result = KINDS["servicenow"].parse(
        body, config("servicenow", resolved_states={"incident": ["7"]})
    )
    assert isinstance(result, Ignored) and "state 6 is not resolved" in result.reason
