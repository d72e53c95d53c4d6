"""Setup checks: credentials, resolved states against sys_choice, score columns and fields
(respx for the clients; a loopback ITSM behind the admin endpoint)."""

from __future__ import annotations

import httpx
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.registry import KINDS
from tests.connectors.conftest import config, make_connector
from tests.connectors.fake_itsm import FakeITSM

SN = "https://acme.service-now.com"
JIRA = "https://acme.atlassian.net"
INCIDENT_STATES = [("1", "New"), ("2", "In Progress"), ("6", "Resolved"), ("7", "Closed")]
TASK_STATES = [("1", "Open"), ("3", "Closed Complete"), ("4", "Closed Incomplete")]
# The tables this instance has, with the table each extends.
TABLES = {"incident": "task", "sc_req_item": "task", "task": None, "sn_case": "task"}


def choices(table: str, states: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": table, "value": v, "label": label} for v, label in states]


def db_object(request: httpx.Request) -> httpx.Response:
    name = request.url.params["sysparm_query"].removeprefix("name=")
    if name not in TABLES:
        return httpx.Response(200, json={"result": []})
    return httpx.Response(200, json={"result": [{"name": name, "super_class.name": TABLES[name]}]})


def servicenow(choice_rows: list[dict], columns: list[dict]) -> respx.Route:
    respx.get(f"{SN}/api/now/table/sys_user").respond(200, json={"result": [{"sys_id": "u"}]})
    respx.get(f"{SN}/api/now/table/sys_journal_field").respond(200, json={"result": []})
    respx.get(f"{SN}/api/now/table/sys_db_object").mock(side_effect=db_object)
    respx.get(f"{SN}/api/now/table/sys_dictionary").respond(200, json={"result": columns})
    return respx.get(f"{SN}/api/now/table/sys_choice").respond(200, json={"result": choice_rows})


async def run(connector) -> dict[str, tuple[bool, str]]:
    async with httpx.AsyncClient() as http:
        found = await KINDS[connector.kind].check(http, connector)
    return {c.name: (c.ok, c.detail) for c in found}


@respx.mock
async def test_servicenow_states_come_from_the_table_or_the_one_it_extends() -> None:
    route = servicenow(
        choices("incident", INCIDENT_STATES) + choices("task", TASK_STATES),
        [{"name": "task"}],  # the score column added on task serves every task table
    )
    found = await run(config("servicenow"))  # incident and sc_req_item, the defaults
    assert found == {
        "credentials": (True, "the Table API answers and sys_user is readable"),
        "journal": (
            True,
            "sys_journal_field is readable (a retried write-back checks its work notes)",
        ),
        "states:incident": (True, "resolved states: 6 Resolved, 7 Closed"),
        "field:incident.u_experience_score": (True, "incident.u_experience_score exists"),
        "states:sc_req_item": (True, "resolved states: 3 Closed Complete, 4 Closed Incomplete"),
        "field:sc_req_item.u_experience_score": (True, "sc_req_item.u_experience_score exists"),
    }
    query = route.calls[0].request.url.params["sysparm_query"]
    assert query == "nameINincident,task^element=state^inactive=false^language=en"


@respx.mock
async def test_servicenow_names_the_wrong_state_and_the_missing_column() -> None:
    servicenow(choices("incident", INCIDENT_STATES), [])
    connector = config(
        "servicenow", tables=["incident"], resolved_states={"incident": ["resolved", "9"]}
    )
    found = await run(connector)
    ok, detail = found["states:incident"]
    assert not ok
    assert detail == (
        "resolved_states names 9, not states of incident "
        "(its states: 1 New, 2 In Progress, 6 Resolved, 7 Closed)"
    )  # a label, in any case, is a state as well as a value
    ok, detail = found["field:incident.u_experience_score"]
    assert not ok and "add an Integer column, or set score_field to null" in detail


@respx.mock
async def test_servicenow_catches_what_would_silently_survey_nothing() -> None:
    servicenow(choices("incident", INCIDENT_STATES) + choices("task", TASK_STATES), [])
    labels = config("servicenow", tables=["incident"], resolved_states={"incident": ["Resolved"]})
    assert (await run(labels))["states:incident"] == (
        False,
        "the catch-up poll asks for state values, not labels: write 6 for Resolved",
    )
    no_poll = config(
        "servicenow", tables=["incident"], resolved_states={"incident": ["Resolved"]}, poll=False
    )
    assert (await run(no_poll))["states:incident"] == (True, "resolved states: 6 Resolved")

    unknown = await run(config("servicenow", tables=["sn_case"], score_field=None))
    ok, detail = unknown["states:sn_case"]  # no built-in map: nothing would count as resolved
    assert not ok and detail.startswith("XPulse knows no resolved states of sn_case")
    assert "its states: 1 Open, 3 Closed Complete, 4 Closed Incomplete" in detail

    typo = await run(config("servicenow", tables=["incidnet"]))
    assert typo["states:incidnet"] == (False, "this instance has no table incidnet (sys_db_object)")
    assert "field:incidnet.u_experience_score" not in typo


@respx.mock
async def test_servicenow_refused_credentials_stop_the_checks() -> None:
    respx.get(f"{SN}/api/now/table/sys_user").respond(401, json={"error": "User Not Authenticated"})
    found = await run(config("servicenow"))
    assert list(found) == ["credentials"]
    ok, detail = found["credentials"]
    assert not ok and "HTTP 401" in detail


@respx.mock
async def test_jira_credentials_and_score_field() -> None:
    respx.get(f"{JIRA}/rest/api/2/myself").respond(200, json={"displayName": "XPulse bot"})
    respx.get(f"{JIRA}/rest/api/2/field").respond(
        200,
        json=[
            {"id": "summary", "name": "Summary", "schema": {"type": "string"}},
            {"id": "customfield_10050", "name": "XP", "schema": {"type": "number"}},
            {"id": "customfield_10051", "name": "Notes", "schema": {"type": "string"}},
        ],
    )
    assert await run(config("jira", score_custom_field="customfield_10050")) == {
        "credentials": (True, "signed in as XPulse bot"),
        "field:customfield_10050": (True, "customfield_10050 is the number field 'XP'"),
    }
    found = await run(config("jira", score_custom_field="customfield_99999"))
    assert found["field:customfield_99999"][0] is False
    found = await run(config("jira", score_custom_field="customfield_10051"))
    assert found["field:customfield_10051"] == (
        False,
        "customfield_10051 ('Notes') holds string values: the score needs a number field",
    )
    assert await run(config("generic")) == {}  # nothing to ask


async def test_check_endpoint_against_a_loopback_servicenow(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers, read_headers
) -> None:
    with FakeITSM() as itsm:
        itsm.respond("GET", "/api/now/table/sys_user", 200, {"result": [{"sys_id": "u"}]})
        itsm.respond(
            "GET",
            "/api/now/table/sys_db_object",
            200,
            {"result": [{"name": "incident", "super_class.name": ""}]},
        )
        itsm.respond(
            "GET", "/api/now/table/sys_choice", 200, {"result": choices("incident", [("1", "New")])}
        )
        connector = await make_connector(
            session,
            kind="servicenow",
            base_url=itsm.url,
            auth={"type": "basic", "username": "xpulse", "password": "pw"},
            tables=["incident"],
            score_field=None,
        )
        path = f"/api/v1/connectors/{connector.id}/check"
        response = await client.post(path, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    assert [(c["name"], c["ok"]) for c in body["checks"]] == [
        ("credentials", True),
        ("journal", False),  # the stand-in has no sys_journal_field: the account cannot read it
        ("states:incident", False),  # the instance has no state 6 or 7 on incident
    ]
    journal = next(c for c in body["checks"] if c["name"] == "journal")
    assert "sys_journal_field" in journal["detail"]
    [asked] = itsm.requests("GET", "/api/now/table/sys_choice")
    assert asked.headers["authorization"].startswith("Basic ")  # the connector's credentials
    assert (await client.post(path, headers=read_headers)).status_code == 403
    missing = await client.post(
        "/api/v1/connectors/00000000-0000-0000-0000-000000000000/check", headers=admin_headers
    )
    assert missing.status_code == 404
