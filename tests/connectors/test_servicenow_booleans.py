"""True/false fields (`made_sla`) in every shape ServiceNow writes them: the Table API's
`true`/`false`, a business rule's `getValue()` `1`/`0`, and display labels. The old reading
took only `"true"`, so every ticket sent by the documented rule counted as "SLA missed"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.connectors.base import TicketEvent
from app.connectors.registry import get_kind
from app.connectors.servicenow.payloads import BOOLEAN_TEXTS, Record, Shape
from tests.connectors.conftest import config, own_fixture


def rule_body(made_sla: Any) -> bytes:
    """The business rule's payload (docs/servicenow.md), `made_sla` replaced or dropped (None)."""
    data = json.loads(own_fixture("servicenow", "incident_business_rule.json"))
    if made_sla is None:
        data["record"].pop("made_sla", None)
    else:
        data["record"]["made_sla"] = made_sla
    return json.dumps(data).encode()


def sla_met(body: bytes) -> bool | None:
    event = get_kind("servicenow").parse(body, config("servicenow"))
    assert isinstance(event, TicketEvent)
    return event.ticket.sla_met


@pytest.mark.parametrize(
    ("made_sla", "expected"),
    [
        # display_value=all, as the Table API and the fixed rule send it
        ({"value": "true", "display_value": "true"}, True),
        ({"value": "false", "display_value": "false"}, False),
        # the old rule: getValue() is "1"/"0", getDisplayValue() "true"/"false"
        ({"value": "1", "display_value": "true"}, True),
        ({"value": "0", "display_value": "false"}, False),
        # getValue() alone, no display value
        ({"value": "1", "display_value": ""}, True),
        ({"value": "0", "display_value": ""}, False),
        # only a display label, in English and in a user's own language
        ({"value": "", "display_value": "Yes"}, True),
        ({"value": "", "display_value": "Nein"}, False),
        # odd case and white space from a hand-written integration
        ({"value": " TRUE ", "display_value": ""}, True),
        # unknown or missing: never read as missed
        ({"value": "", "display_value": ""}, None),
        ({"value": "maybe", "display_value": "perhaps"}, None),
        (None, None),
    ],
)
def test_made_sla_in_each_shape_of_the_rule(made_sla: Any, expected: bool | None) -> None:
    assert sla_met(rule_body(made_sla)) is expected


@pytest.mark.parametrize(
    ("shape", "fields", "expected"),
    [
        (Shape.raw, {"made_sla": "true"}, True),
        (Shape.raw, {"made_sla": "0"}, False),
        (Shape.raw, {"made_sla": True}, True),  # a JSON boolean from a generic integration
        (Shape.raw, {"made_sla": False}, False),
        (Shape.raw, {"made_sla": 1}, True),
        (Shape.display, {"made_sla": "No"}, False),
        (Shape.display, {"made_sla": "Kyllä"}, True),
        (Shape.all, {"made_sla": {"value": "0", "display_value": "Ja"}}, False),  # value wins
    ],
)
def test_record_boolean_reads_every_shape(
    shape: Shape, fields: dict[str, Any], expected: bool
) -> None:
    assert Record(fields, shape, "incident").boolean("made_sla") is expected


def test_every_known_text_maps_to_one_truth_value() -> None:
    truthy = {text for text, value in BOOLEAN_TEXTS.items() if value}
    falsy = {text for text, value in BOOLEAN_TEXTS.items() if not value}
    assert not truthy & falsy
    assert {"true", "1", "yes"} <= truthy
    assert {"false", "0", "no"} <= falsy


def test_the_readme_rule_sends_booleans_as_true_false_and_catches_failures() -> None:
    """The documented rule is what operators paste: it must not send getValue()'s 1/0 for a
    boolean, and a failed execute() must reach gs.warn rather than throw past it."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "servicenow.md").read_text()
    start = readme.index("(function executeRule(current")
    script = readme[start : readme.index("})(current, previous);", start)]
    assert "getInternalType() == 'boolean'" in script
    assert "'true' : 'false'" in script
    body = script[script.index("try {") :]
    assert body.index("request.execute()") < body.index("} catch (e) {")
    assert "gs.warn(" in body[body.index("} catch (e) {") :]
