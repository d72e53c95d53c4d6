"""One effect per answer on the ticket: a retried write-back reads what it already wrote
(against stand-ins that keep records, journal, properties and comments) and writes only what
is missing; a changed answer gets its own note once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.connectors import texts
from app.connectors.base import TransientError
from app.connectors.registry import KINDS
from tests.connectors.conftest import config
from tests.connectors.standins import CallbackReceiver, JiraStandIn, ServiceNowStandIn
from tests.connectors.test_writeback_text import SYS_ID, answer

ISSUE = SYS_ID  # the same ticket ref serves both kinds in these tests
PROPERTY = "xpulse.experience"


def changed(result, score: int):
    """The requester changed their answer: a new version of the same response."""
    later = result.response_updated_at + timedelta(minutes=3)
    return result.model_copy(update={"score": score, "response_updated_at": later})


def servicenow(sn: ServiceNowStandIn, **options):
    return config("servicenow", base_url=sn.url, **options)


def jira_config(jira: JiraStandIn, **options):
    return config("jira", base_url=jira.url, score_custom_field="customfield_10050", **options)


async def test_servicenow_retry_after_a_lost_answer_writes_nothing_twice() -> None:
    result = answer()
    with ServiceNowStandIn() as sn:
        sn.add_record("incident", SYS_ID, u_experience_score="")
        sn.delay(3, method="PATCH")  # the PATCH takes effect, its answer comes too late
        async with httpx.AsyncClient(timeout=0.5) as http:
            with pytest.raises(TransientError, match="timeout"):
                await KINDS["servicenow"].write_back(http, servicenow(sn), result)
            sn.heal()
            await KINDS["servicenow"].write_back(http, servicenow(sn), result)
    assert len(sn.requests("PATCH")) == 1
    assert sn.journal(SYS_ID) == [texts.score_note(result)]
    assert sn.record("incident", SYS_ID)["u_experience_score"] == "9"


@pytest.mark.parametrize(
    ("score_there", "note_there", "patched"),
    [
        ("9", False, {"work_notes"}),
        ("4", True, {"u_experience_score"}),  # someone changed the field: it is set again
        ("9", True, None),
    ],
)
async def test_servicenow_patches_only_the_missing_parts(
    score_there: str, note_there: bool, patched: set[str] | None
) -> None:
    result = answer()
    with ServiceNowStandIn() as sn:
        sn.add_record("incident", SYS_ID, u_experience_score=score_there)
        if note_there:
            sn._append_journal("incident", SYS_ID, "work_notes", texts.score_note(result))
        async with httpx.AsyncClient() as http:
            await KINDS["servicenow"].write_back(http, servicenow(sn), result)
    patches = sn.requests("PATCH")
    assert (set(patches[0].json()) if patches else None) == patched
    assert sn.journal(SYS_ID) == [texts.score_note(result)]
    assert sn.record("incident", SYS_ID)["u_experience_score"] == "9"


async def test_servicenow_a_changed_answer_gets_its_own_note_once() -> None:
    first = answer()
    second = changed(first, 3)
    with ServiceNowStandIn() as sn:
        sn.add_record("incident", SYS_ID, u_experience_score="")
        async with httpx.AsyncClient() as http:
            for result in (first, first, second, second):
                await KINDS["servicenow"].write_back(http, servicenow(sn), result)
    assert sn.journal(SYS_ID) == [texts.score_note(first), texts.score_note(second)]
    assert sn.record("incident", SYS_ID)["u_experience_score"] == "3"
    assert len(sn.requests("PATCH")) == 2


async def test_servicenow_without_score_field_or_note_reads_nothing() -> None:
    with ServiceNowStandIn() as sn:
        async with httpx.AsyncClient() as http:
            options = {"score_field": None, "work_note": False}
            await KINDS["servicenow"].write_back(http, servicenow(sn, **options), answer())
    assert sn.seen == []


@pytest.mark.parametrize("comment", ["internal", "platform"])
async def test_jira_retry_after_a_lost_comment_answer_writes_nothing_twice(comment: str) -> None:
    result = answer()
    with JiraStandIn() as jira:
        jira.add_issue(ISSUE, "PROJ-12")
        jira.delay(3, method="POST")
        connector = jira_config(jira, comment=comment)
        async with httpx.AsyncClient(timeout=0.5) as http:
            with pytest.raises(TransientError, match="timeout"):
                await KINDS["jira"].write_back(http, connector, result)
            jira.heal()
            await KINDS["jira"].write_back(http, connector, result)
    writes = [s for s in jira.seen if s.method in ("PUT", "POST")]
    assert [s.method for s in writes] == ["PUT", "PUT", "POST"]  # property, field, comment
    assert jira.comments(ISSUE) == [texts.score_note(result)]
    assert jira.property(ISSUE, PROPERTY)["ref"] == result.version_ref
    assert jira.issues[ISSUE].fields["customfield_10050"] == 9


async def test_jira_finds_its_note_behind_many_later_comments() -> None:
    result = answer()
    with JiraStandIn() as jira:
        jira.add_issue(ISSUE, "PROJ-12")
        jira.max_results = 40  # fewer per page than XPulse asks for
        async with httpx.AsyncClient() as http:
            await KINDS["jira"].write_back(http, jira_config(jira), result)
            for n in range(250):  # the conversation went on
                jira.issues[ISSUE].comments.append({"id": f"x{n}", "body": f"reply {n}"})
            await KINDS["jira"].write_back(http, jira_config(jira), result)
    assert sum(1 for body in jira.comments(ISSUE) if texts.has_marker(body, result)) == 1
    assert len(jira.requests("GET", f"/rest/api/2/issue/{ISSUE}/comment")) == 1 + 7


async def test_jira_a_changed_answer_updates_the_property_and_comments_once() -> None:
    first = answer()
    second = changed(first, 2)
    with JiraStandIn() as jira:
        jira.add_issue(ISSUE, "PROJ-12")
        async with httpx.AsyncClient() as http:
            for result in (first, first, second, second):
                await KINDS["jira"].write_back(http, jira_config(jira), result)
    assert jira.comments(ISSUE) == [texts.score_note(first), texts.score_note(second)]
    document = jira.property(ISSUE, PROPERTY)
    assert document["score"] == 2 and document["ref"] == second.version_ref
    assert jira.issues[ISSUE].fields["customfield_10050"] == 2
    puts = [s.path for s in jira.requests("PUT")]
    assert len(puts) == 4  # property and field once per version


async def test_generic_callback_keeps_one_webhook_id_per_answer_version() -> None:
    first = answer()
    second = changed(first, 1)
    with CallbackReceiver() as hook:
        connector = config("generic", callback_url=f"{hook.url}/xpulse")
        async with httpx.AsyncClient() as http:
            for result in (first, first, second):
                await KINDS["generic"].write_back(http, connector, result)
    ids = [s.headers["webhook-id"] for s in hook.seen]
    assert ids[0] == ids[1] != ids[2]
    assert [e["data"]["score"] for e in hook.events.values()] == [9, 1]  # deduped by the receiver
