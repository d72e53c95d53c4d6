"""POST /api/v1/privacy/erasure: afterwards no column of any table holds the person's address,
name or comment; every figure is unchanged; their opt-out lives on under a keyed hash."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback import optout_keys
from app.feedback.models import FeedbackRequest, OptOut
from app.scoring.models import TicketScore
from tests.privacy.conftest import ADA, BOB, deliver, dump, resolved_body, trail

FIGURES = [
    ("/api/v1/scores", {}),
    ("/api/v1/scores/breakdown", {"by": "service"}),
    ("/api/v1/scores/trend", {"interval": "day"}),
    ("/api/v1/factors", {}),
]


async def _figures(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict]:
    found = []
    for path, params in FIGURES:
        answer = await client.get(path, params={**params, "tz": "UTC"}, headers=headers)
        assert answer.status_code == 200, answer.text
        found.append(answer.json())
    return found


async def _ticket_scores(session: AsyncSession) -> list[tuple]:
    rows = (await session.scalars(select(TicketScore).order_by(TicketScore.ticket_id))).all()
    return [tuple(getattr(r, c.key) for c in TicketScore.__table__.columns) for r in rows]


async def test_erasure_leaves_no_trace_of_the_person_and_every_figure_unchanged(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
) -> None:
    settings.privacy.min_group_responses = 0  # two responses: show the groups
    await trail(client, session, settings)
    before = await dump(session)
    for trace in (ADA.email.lower(), ADA.name.lower(), ADA.comment.lower()):
        assert trace in before  # the trail really put them there
    figures = await _figures(client, read_headers)
    assert figures[0]["figures"]["responses"] == 2  # both answers counted
    scores = await _ticket_scores(session)

    erased = await client.post(
        "/api/v1/privacy/erasure", json={"email": f"  {ADA.email.upper()} "}, headers=admin_headers
    )
    assert erased.status_code == 200, erased.text
    changed = erased.json()["changed"]
    assert changed["tickets"] == 2  # hers, and Bob's whose title names her
    assert changed["feedback_requests"] == 1 and changed["responses"] == 1
    assert changed["opt_outs"] == 1 and changed["feedback_opens"] >= 1
    # Both deliveries (Bob's names her as a watcher); her mail's job, the error, the comment.
    assert changed["inbound_events"] == 2 and changed["jobs"] >= 3

    after = await dump(session)
    for trace in (ADA.email.lower(), ADA.name.lower(), ADA.comment.lower()):
        assert trace not in after
    for trace in (BOB.email, BOB.name.lower(), BOB.comment.lower()):
        assert trace in after  # nobody else was erased
    assert await _figures(client, read_headers) == figures
    assert await _ticket_scores(session) == scores

    # The opt-out is kept under the keyed hash only, still applied.
    hashed = optout_keys.hashed_key(
        "email:" + ADA.email.lower(), settings.secret_key.get_secret_value()
    )
    assert erased.json()["subject"] == hashed
    row = await session.get(OptOut, hashed, populate_existing=True)
    assert row is not None and row.status == "applied" and row.evidence is None
    assert await optout_keys.applied(
        session, "email:" + ADA.email.lower(), secret=settings.secret_key.get_secret_value()
    )

    audit = await client.get(
        "/api/v1/audit", params={"action": "privacy.erasure"}, headers=admin_headers
    )
    (event,) = audit.json()["items"]
    assert event["target"] == f"subject:{hashed}" and event["detail"]["changed"] == changed


async def test_erasing_someone_unknown_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    erased = await client.post(
        "/api/v1/privacy/erasure", json={"email": "nobody@example.com"}, headers=admin_headers
    )
    assert erased.status_code == 200
    assert set(erased.json()["changed"].values()) == {0}


@pytest.mark.parametrize("body", [{}, {"email": "not-an-address"}, {"email": "a@b", "x": 1}])
async def test_a_malformed_erasure_is_a_422_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict
) -> None:
    answer = await client.post("/api/v1/privacy/erasure", json=body, headers=admin_headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


async def test_erasure_needs_an_admin_key(
    client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/privacy/erasure", json={"email": ADA.email}, headers=read_headers
    )
    assert answer.status_code == 403


async def test_a_new_ticket_for_an_erased_person_who_opted_out_is_still_suppressed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, admin_headers: dict
) -> None:
    connector = await trail(client, session, settings)
    erased = await client.post(
        "/api/v1/privacy/erasure", json={"email": ADA.email}, headers=admin_headers
    )
    assert erased.status_code == 200
    again = await deliver(client, connector, resolved_body(ADA, 3))
    request = await session.get(FeedbackRequest, again["feedback_request_id"])
    assert request is not None
    assert (request.status, request.status_reason) == ("suppressed", "opted_out")
    assert again["links"] == {}
