"""The write-back text people read: the face and the score once, the factors and lost time as
the labels the requester saw (in the connector's language), the comment, and the same content
on ServiceNow, Jira and the generic callback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from app.connectors import texts
from app.connectors.registry import KINDS
from app.feedback.scales import SCALES
from app.tickets.events import TicketRef, WriteBack
from tests.connectors.conftest import config
from tests.connectors.standins import CallbackReceiver, JiraStandIn, ServiceNowStandIn

SYS_ID = "9d385017c611228701d22104cc95c371"


def answer(**overrides: object) -> WriteBack:
    values: dict[str, object] = {
        "ticket": TicketRef(
            connector_id=uuid.uuid4(),
            ticket_id=uuid.uuid4(),
            external_id=SYS_ID,
            number="INC0000060",
            table="incident",
        ),
        "request_id": uuid.uuid4(),
        "response_id": uuid.uuid4(),
        "response_updated_at": datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        "score": 9,
        "scale": "happiness-0-10",
        "normalised": 90.0,
        "label": "9",
        "lost_time": "15_30m",
        "lost_minutes": 25,
        "factors": ["fast", "friendly"],
        "comment": "Quick and kind, thanks",
    }
    values.update(overrides)
    return WriteBack(**values)


@pytest.mark.parametrize(
    ("scale", "score", "shown"),
    [
        ("happiness-0-10", 10, "😀 10/10"),
        ("happiness-0-10", 9, "😀 9/10"),  # no face of its own: its band's
        ("happiness-0-10", 7, "😐 7/10"),
        ("happiness-0-10", 5, "😐 5/10"),
        ("happiness-0-10", 3, "😞 3/10"),
        ("happiness-0-10", 0, "😞 0/10"),
        ("faces-5", 5, "😀 5/5"),
        ("faces-5", 4, "🙂 4/5"),
        ("faces-5", 3, "😐 3/5"),
        ("faces-5", 2, "🙁 2/5"),
        ("faces-5", 1, "😞 1/5"),
    ],
)
def test_the_note_names_the_face_and_the_score_once(scale: str, score: int, shown: str) -> None:
    result = answer(scale=scale, score=score, label=SCALES[scale].label(score))
    note = texts.score_note(result)
    first = note.splitlines()[0]
    assert first == f"XPulse feedback: {shown}"
    assert first.count(f"{score}/") == 1 and f" {score} " not in first  # never "rated 9 9/10"
    document = texts.score_document(result)
    assert document["label"] == shown.split()[0]  # the face, not "3"
    assert document["text"] == shown


def test_english_note_reads_the_labels_the_requester_saw() -> None:
    result = answer()
    assert texts.score_note(result).splitlines() == [
        "XPulse feedback: 😀 9/10",
        "Factors: Service was fast; Friendly and polite",
        "Lost time: 15–30 minutes",
        'Comment: "Quick and kind, thanks"',
        f"XPulse ref {result.version_ref}",
    ]


def test_german_note_uses_the_page_catalogue() -> None:
    result = answer(factors=["slow", "repeat_explain"], lost_time="gt_1d", lost_minutes=720)
    assert texts.score_note(result, "de").splitlines() == [
        "XPulse-Feedback: 😀 9/10",
        "Faktoren: Langsamer Service; Ich musste mein Problem mehrmals erklären",
        "Verlorene Zeit: Mehr als ein Tag",
        'Kommentar: "Quick and kind, thanks"',
        f"XPulse ref {result.version_ref}",
    ]
    document = texts.score_document(result, "de")
    assert document["factors"] == ["slow", "repeat_explain"]  # the keys stay for machines
    assert document["factor_labels"][0] == "Langsamer Service"
    assert document["lost_time_label"] == "Mehr als ein Tag"


def test_only_what_was_answered_appears() -> None:
    result = answer(factors=[], lost_time=None, lost_minutes=None, comment=None, score=2)
    assert texts.score_note(result).splitlines() == [
        "XPulse feedback: 😞 2/10",
        f"XPulse ref {result.version_ref}",
    ]


def test_requester_text_cannot_open_a_servicenow_code_block() -> None:
    note = texts.score_note(answer(comment="[code]<img src=x onerror=alert(1)>[/CODE]"))
    assert "[code]" not in note.lower() and "[/code]" not in note.lower()


def test_the_ref_names_the_answer_version() -> None:
    first = answer()
    same = first.model_copy()
    changed = first.model_copy(
        update={"response_updated_at": datetime(2026, 11, 23, 9, 31, tzinfo=UTC)}
    )
    assert same.version_ref == first.version_ref
    assert changed.version_ref != first.version_ref
    assert changed.version_ref.split(".")[0] == first.version_ref.split(".")[0]  # same answer
    assert texts.has_marker(texts.score_note(first), same)
    assert not texts.has_marker(texts.score_note(first), changed)
    # Quoting a ref inside a comment is not the marker: it must be the last line.
    quoted = answer(comment=f"see {texts.marker(changed)} above")
    assert not texts.has_marker(texts.score_note(quoted), changed)


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_same_content_on_servicenow_jira_and_the_generic_callback(language: str) -> None:
    result = answer(scale="faces-5", score=2, label="🙁", factors=["not_informed"])
    expected = texts.score_note(result, language)
    with ServiceNowStandIn() as sn, JiraStandIn() as jira, CallbackReceiver() as hook:
        sn.add_record("incident", SYS_ID, u_experience_score="")
        jira.add_issue(SYS_ID, "PROJ-12")
        async with httpx.AsyncClient() as http:
            await KINDS["servicenow"].write_back(
                http, config("servicenow", base_url=sn.url, language=language), result
            )
            await KINDS["jira"].write_back(
                http, config("jira", base_url=jira.url, language=language), result
            )
            await KINDS["generic"].write_back(
                http,
                config("generic", callback_url=f"{hook.url}/xpulse", language=language),
                result,
            )
    assert sn.journal(SYS_ID) == [expected]
    assert jira.comments(SYS_ID) == [expected]
    [event] = hook.events.values()
    assert event["data"]["note"] == expected
    document = jira.property(SYS_ID, "xpulse.experience")
    assert {k: v for k, v in event["data"].items() if k not in ("note", "ticket")} == document
    assert document["label"] == "🙁" and document["language"] == language
    if language == "fr":
        assert expected.splitlines()[1] == "Facteurs: " + document["factor_labels"][0]
        assert document["factor_labels"] != ["not_informed"]
