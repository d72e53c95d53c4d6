"""ServiceNow Table API records in each `sysparm_display_value` shape (docs/itsm-contracts.md §2.2).

- `false`: raw values (`"state": "6"`); references `{"link", "value"}` or a bare sys_id;
- `true`: labels (`"state": "Resolved"`), references by display name, datetimes in the
  sender's zone and format (never parsed: we cannot know the zone);
- `all`: `{"display_value", "value"}` per field; `value` datetimes are UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.connectors.base import ParseError

SN_DATETIME = "%Y-%m-%d %H:%M:%S"

# State values that mean resolved/closed, per table (state numbers are per table: incident 3 is
# On Hold, change_task 3 is Closed). docs/itsm-contracts.md §2.3; overridable per connector.
RESOLVED_STATES: dict[str, dict[str, str]] = {
    "incident": {"6": "Resolved", "7": "Closed"},
    "sc_req_item": {"3": "Closed Complete", "4": "Closed Incomplete"},
    "sc_task": {"3": "Closed Complete", "4": "Closed Incomplete"},
    "problem": {"106": "Resolved", "107": "Closed"},
    "change_task": {"3": "Closed"},
}
TABLE_LABELS = {
    "incident": "Incident",
    "sc_req_item": "Requested Item",
    "sc_task": "Catalog Task",
    "problem": "Problem",
    "change_task": "Change Task",
}
NUMBER_PREFIXES = {
    "INC": "incident",
    "RITM": "sc_req_item",
    "SCTASK": "sc_task",
    "PRB": "problem",
    "CTASK": "change_task",
}
# Who asked for the work, per table; `opened_by` where the table has no requester of its own.
REQUESTER_FIELDS = {
    "incident": ("caller_id", "opened_by"),
    "sc_req_item": ("requested_for", "opened_by"),
    "sc_task": ("request_item.requested_for", "opened_by"),
}


# How ServiceNow writes a boolean: the stored value (`true`/`false`), getValue() in a business
# rule (`1`/`0`), and the display value, which follows the user's language (`Yes`/`No` in
# English; German, French, Spanish, Finnish and Swedish labels for the languages XPulse speaks).
BOOLEAN_TEXTS = {
    **dict.fromkeys(("true", "1", "yes", "ja", "oui", "sí", "si", "kyllä", "on"), True),
    **dict.fromkeys(("false", "0", "no", "nein", "non", "ei", "nej", "off"), False),
}


class Shape(StrEnum):
    raw = "false"
    display = "true"
    all = "all"


@dataclass(frozen=True)
class Record:
    """One record with shape-aware accessors."""

    fields: dict[str, Any]
    shape: Shape
    table: str

    def value(self, name: str) -> str | None:
        """The raw value (a label in the `true` shape); None when empty."""
        item = self.fields.get(name)
        if isinstance(item, dict):
            item = item.get("value")
        if item is None or item == "":
            return None
        return str(item)

    def display(self, name: str) -> str | None:
        """The display value where the shape carries one, else the value."""
        item = self.fields.get(name)
        if isinstance(item, dict) and item.get("display_value") not in (None, ""):
            return str(item["display_value"])
        if self.shape == Shape.all:
            return None if isinstance(item, dict) else self.value(name)
        if isinstance(item, dict):
            return None  # a `false`-shape reference: only the sys_id, no name
        return self.value(name)

    def name_of(self, name: str) -> str | None:
        """A human name for a reference or choice: display value, else the raw value."""
        return self.display(name) or self.value(name)

    def boolean(self, name: str) -> bool | None:
        """A true/false field in any shape: `true`/`false` (a Table API value), `1`/`0` (what
        a business rule's `getValue()` gives) or the display labels; None when empty or unknown."""
        for text in (self.value(name), self.display(name)):
            if text is not None and (known := BOOLEAN_TEXTS.get(text.strip().lower())) is not None:
                return known
        return None

    def utc(self, name: str) -> datetime | None:
        """A datetime read from the raw UTC value; None in the `true` shape or when empty."""
        if self.shape == Shape.display:
            return None
        value = self.value(name)
        if value is None:
            return None
        try:
            return datetime.strptime(value, SN_DATETIME).replace(tzinfo=UTC)
        except ValueError as exc:
            raise ParseError(f"{name} is not a UTC datetime: {value!r}") from exc


def load(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The record and the table named by a `{"table", "record"}` wrapper (or None)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError("body is not a JSON object")
    if isinstance(data.get("record"), dict):
        table = data.get("table")
        return data["record"], str(table) if table else None
    if isinstance(data.get("result"), dict):  # a Table API GET response, pasted as is
        return data["result"], None
    return data, None


def detect_shape(fields: dict[str, Any]) -> Shape:
    for name in ("state", "number", "sys_id"):
        item = fields.get(name)
        if isinstance(item, dict) and "display_value" in item:
            return Shape.all
    state = fields.get("state")
    if isinstance(state, dict):
        state = state.get("value")
    if state is None or str(state).lstrip("-").isdigit():
        return Shape.raw
    return Shape.display


def table_of(fields: dict[str, Any], wrapper_table: str | None, shape: Shape) -> str:
    if wrapper_table:
        return wrapper_table
    item = fields.get("sys_class_name")
    name = item.get("value") if isinstance(item, dict) else item
    if name:
        name = str(name)
        for table, label in TABLE_LABELS.items():  # the `true` shape sends the label
            if name.lower() == label.lower():
                return table
        return name
    number = fields.get("number")
    number = number.get("value") if isinstance(number, dict) else number
    for prefix, table in sorted(NUMBER_PREFIXES.items(), key=lambda kv: -len(kv[0])):
        if isinstance(number, str) and number.startswith(prefix):
            return table
    raise ParseError("cannot tell the table: no `table`, `sys_class_name` or known number")


def parse_record(body: bytes) -> Record:
    fields, wrapper_table = load(body)
    shape = detect_shape(fields)
    record = Record(fields, shape, table_of(fields, wrapper_table, shape))
    if not record.value("sys_id") or not record.value("number"):
        raise ParseError("record has no sys_id or number")
    if record.value("state") is None:
        raise ParseError("record has no state")
    return record


def resolved_states(table: str, overrides: dict[str, list[str]]) -> dict[str, str]:
    """value -> label of the states that mean resolved; a connector's override replaces the map."""
    builtin = RESOLVED_STATES.get(table, {})
    if table not in overrides:
        return dict(builtin)
    return {value: builtin.get(value, value) for value in overrides[table]}
