"""The loopback stand-ins keep state like the real APIs and their faults behave as documented."""

from __future__ import annotations

import httpx
import pytest

from tests.connectors.standins import JiraStandIn, ServiceNowStandIn

SYS_ID = "9d385017c611228701d22104cc95c371"


def test_servicenow_journal_appends_and_reads_back() -> None:
    with ServiceNowStandIn() as sn, httpx.Client(base_url=sn.url) as http:
        sn.add_record("incident", SYS_ID, number="INC0000060", u_experience_score="")
        for note in ("first", "second"):
            answer = http.patch(
                f"/api/now/table/incident/{SYS_ID}",
                params={"sysparm_fields": "sys_id,number"},
                json={"u_experience_score": "9", "work_notes": note},
            )
            assert answer.json() == {"result": {"sys_id": SYS_ID, "number": "INC0000060"}}
        record = http.get(
            f"/api/now/table/incident/{SYS_ID}",
            params={"sysparm_fields": "u_experience_score,work_notes"},
        ).json()["result"]
        assert record == {"u_experience_score": "9", "work_notes": ""}
        rows = http.get(
            "/api/now/table/sys_journal_field",
            params={
                "sysparm_query": f"element_id={SYS_ID}^element=work_notes^ORDERBYDESCsys_id",
                "sysparm_fields": "value,element,name",
            },
        ).json()["result"]
        assert sorted(r["value"] for r in rows) == ["first", "second"]
        assert {(r["element"], r["name"]) for r in rows} == {("work_notes", "incident")}
        assert http.get("/api/now/table/incident/nope").status_code == 404
    assert sn.journal(SYS_ID) == ["first", "second"]


def test_jira_properties_fields_and_comments() -> None:
    with JiraStandIn() as jira, httpx.Client(base_url=jira.url) as http:
        jira.add_issue("10088", "PROJ-12")
        prop = "/rest/api/2/issue/10088/properties/xpulse.experience"
        assert http.get(prop).status_code == 404
        assert http.put(prop, json={"score": 3}).status_code == 201
        assert http.put(prop, json={"score": 4}).status_code == 200
        assert http.get(prop).json() == {"key": "xpulse.experience", "value": {"score": 4}}
        put = http.put("/rest/api/2/issue/PROJ-12", json={"fields": {"customfield_1": 4}})
        assert put.status_code == 204
        assert http.get("/rest/api/2/issue/10088").json()["fields"] == {"customfield_1": 4}
        sd = "/rest/servicedeskapi/request/10088/comment"
        assert http.post(sd, json={"body": "note", "public": False}).status_code == 201
        platform = http.post("/rest/api/2/issue/10088/comment", json={"body": "note"})
        assert platform.status_code == 201
        listing = http.get("/rest/api/2/issue/10088/comment", params={"orderBy": "-created"})
        assert listing.json()["total"] == 2
        assert [c["public"] for c in http.get(sd).json()["values"]] == [False, True]
        assert http.get("/rest/api/2/issue/999/comment").status_code == 404
    assert jira.comments("10088") == ["note", "note"]  # a duplicate stays visible


def test_fail_answers_every_request_until_used_up_without_effect() -> None:
    with ServiceNowStandIn() as sn, httpx.Client(base_url=sn.url) as http:
        sn.add_record("incident", SYS_ID)
        sn.fail(429, {"Retry-After": "2"}, times=2)
        path = f"/api/now/table/incident/{SYS_ID}"
        answers = [http.patch(path, json={"work_notes": "x"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [429, 429, 200]
        assert answers[0].headers["retry-after"] == "2"
        sn.fail(503)
        assert http.get(path).status_code == 503
        sn.heal()
        assert http.get(path).status_code == 200
    assert sn.journal(SYS_ID) == ["x"]
    assert [s.status for s in sn.requests("PATCH")] == [429, 429, 200]


def test_refused_connections_then_heal_on_the_same_port() -> None:
    with JiraStandIn() as jira:
        jira.add_issue("1", "P-1")
        url = jira.url
        jira.refuse_connections()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/rest/api/2/issue/1")
        jira.heal()
        assert jira.url == url
        assert httpx.get(f"{url}/rest/api/2/issue/1").status_code == 200


def test_a_slow_answer_follows_the_effect() -> None:
    """The caller gives up (a timeout) but the note is on the ticket, as on a real instance."""
    with ServiceNowStandIn() as sn:
        sn.add_record("incident", SYS_ID)
        sn.delay(3)
        with pytest.raises(httpx.ReadTimeout):
            httpx.patch(
                f"{sn.url}/api/now/table/incident/{SYS_ID}", json={"work_notes": "n"}, timeout=0.3
            )
        assert sn.journal(SYS_ID) == ["n"]
        sn.heal()


def test_auth_is_checked_when_configured() -> None:
    with JiraStandIn(auth="Bearer t") as jira:
        jira.add_issue("1", "P-1")
        assert httpx.get(f"{jira.url}/rest/api/2/issue/1").status_code == 401
        ok = httpx.get(f"{jira.url}/rest/api/2/issue/1", headers={"authorization": "Bearer t"})
        assert ok.status_code == 200


def test_servicenow_list_reads_the_encoded_query_subset() -> None:
    with ServiceNowStandIn() as sn, httpx.Client(base_url=sn.url) as http:
        sn.add_record("incident", "a", state="6", sys_updated_on="2026-11-20 10:00:00")
        sn.add_record("incident", "b", state="2", sys_updated_on="2026-11-21 10:00:00")
        sn.add_record("incident", "c", state="7", sys_updated_on="2026-11-22 10:00:00")
        sn.add_record("incident", "d", state="7", sys_updated_on="2026-11-19 10:00:00")
        query = "stateIN6,7^sys_updated_on>=2026-11-20 00:00:00^ORDERBYDESCsys_updated_on"
        rows = http.get(
            "/api/now/table/incident", params={"sysparm_query": query, "sysparm_fields": "sys_id"}
        )
        assert rows.json() == {"result": [{"sys_id": "c"}, {"sys_id": "a"}]}
        assert rows.headers["x-total-count"] == "2"
        bad = http.get("/api/now/table/incident", params={"sysparm_query": "state~6"})
        assert bad.status_code == 400
