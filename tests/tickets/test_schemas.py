"""TicketData keeps every value within its column: free text is cut, identifiers refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import String

from app.tickets.models import Ticket
from app.tickets.schemas import TicketData

COLUMNS = {
    c.name: c.type.length
    for c in Ticket.__table__.columns
    if isinstance(c.type, String) and c.type.length and c.name in TicketData.model_fields
}
IDENTIFIERS = {"external_id", "number", "table", "requester_id"}


def test_every_limited_column_is_a_ticket_field() -> None:
    assert set(COLUMNS) >= IDENTIFIERS | {"title", "url", "requester_email", "priority"}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_no_value_longer_than_its_column_gets_through(name: str) -> None:
    limit = COLUMNS[name]
    values = {"external_id": "sys-1", "number": "INC1", name: "x" * (limit + 1)}
    if name in IDENTIFIERS:  # cutting an identifier could merge two tickets: refused
        with pytest.raises(ValidationError, match=name):
            TicketData(**values)
        return
    kept = getattr(TicketData(**values), name)
    assert kept is None or len(kept) == limit
    exact = getattr(TicketData(**{**values, name: "x" * limit}), name)
    assert exact == "x" * limit  # a value that fits is kept whole


def test_titles_are_cut_and_hints_dropped() -> None:
    data = TicketData(
        external_id="a", number="n", title="t" * 1200, url="u" * 1001, requester_locale="de-" * 6
    )
    assert (len(data.title), data.url, data.requester_locale) == (1000, None, None)
