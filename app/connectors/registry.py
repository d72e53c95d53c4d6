"""Connector kinds by name: a new kind is one module and one line here."""

from __future__ import annotations

from app.connectors.base import ConnectorKind
from app.connectors.generic.connector import GenericKind
from app.connectors.jira.connector import JiraKind
from app.connectors.servicenow.connector import ServiceNowKind
from app.errors import NotFound

KINDS: dict[str, ConnectorKind] = {
    "servicenow": ServiceNowKind(),
    "jira": JiraKind(),
    "generic": GenericKind(),
}


class UnknownKind(NotFound):
    type, title = "unknown-connector-kind", "Unknown connector kind"


def get_kind(name: str) -> ConnectorKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"No connector kind {name!r}; known: {', '.join(KINDS)}") from None
