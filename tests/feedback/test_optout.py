"""Opt-outs over ASGI: a press is judged like an answer, a suspected scanner's opt-out is kept
and not applied, RFC 8058 one-click works, an opt-out can be undone, the admin API lists them."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.feedback.models import OptOut
from tests.feedback.conftest import BROWSER_HEADERS, make_request, path_of

# What a browser sends when a person presses a plain form's button (no script).
PRESSED = {**BROWSER_HEADERS, "sec-fetch-user": "?1", "sec-fetch-mode": "navigate"}


def _token(links: dict[str, str]) -> str:
    return re.search(r"/f/([^?]+)", next(iter(links.values()))).group(1)  # type: ignore[union-attr]


def _view(html: str) -> str:
    return re.search(r'name="view" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


async def _opt_out(
    client: httpx.AsyncClient, token: str, headers: dict[str, str], **fields: str
) -> str:
    form = await client.get(f"/f/{token}/opt-out", headers=BROWSER_HEADERS)
    assert form.status_code == 200 and "<form" in form.text
    data = {"view": _view(form.text), "signals": "", **fields}
    done = await client.post(f"/f/{token}/opt-out", data=data, headers=headers)
    assert done.status_code == 200
    return done.text


async def test_a_press_without_user_activation_is_kept_as_evidence_not_applied(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, read_headers: dict
) -> None:
    settings.feedback.scanner_min_action_ms = 0  # the test presses at once
    _fb, links = await make_request(session, settings, requester_email="held@example.com")
    shown = await _opt_out(client, _token(links), BROWSER_HEADERS)
    assert "Nothing has changed" in shown and 'name="confirm"' in shown
    row = await session.get(OptOut, "email:held@example.com", populate_existing=True)
    assert row is not None and row.status == "automated"
    assert "no_user_activation" in row.evidence["reasons"]  # type: ignore[index]
    again, _ = await make_request(session, settings, requester_email="held@example.com")
    assert again.status == "sent"  # not opted out
    listed = await client.get(
        "/api/v1/feedback/opt-outs", params={"status": "automated"}, headers=read_headers
    )
    (item,) = [i for i in listed.json()["items"] if i["requester_key"] == row.requester_key]
    assert item["evidence"]["reasons"] == ["no_user_activation"]


async def test_a_persons_press_opts_out_and_the_same_page_undoes_it(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, read_headers: dict
) -> None:
    settings.feedback.scanner_min_action_ms = 0
    _fb, links = await make_request(session, settings, requester_email="opt@example.com")
    token = _token(links)
    shown = await _opt_out(client, token, PRESSED)
    assert "You will not receive feedback requests" in shown and 'value="undo"' in shown
    again, links2 = await make_request(session, settings, requester_email="Opt@Example.com")
    assert again.status == "suppressed" and again.status_reason == "opted_out"
    assert links2 == {}
    listed = await client.get(
        "/api/v1/feedback/opt-outs", params={"requester": "opt@example.com"}, headers=read_headers
    )
    (item,) = listed.json()["items"]
    assert item["status"] == "applied" and item["evidence"]["user_activation"] is True
    # Back on the same page: it shows the undo button, and pressing it takes the opt-out back.
    page = await client.get(f"/f/{token}/opt-out", headers=BROWSER_HEADERS)
    assert 'value="undo"' in page.text
    undone = await _opt_out(client, token, PRESSED, action="undo")
    assert "You will receive feedback requests again" in undone
    row = await session.get(OptOut, "email:opt@example.com", populate_existing=True)
    assert row is not None and row.status == "undone" and row.evidence["undo"]  # type: ignore[index]
    third, _ = await make_request(session, settings, requester_email="opt@example.com")
    assert third.status == "sent"


async def test_a_client_that_just_opened_a_score_link_is_held_until_time_has_passed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    settings.feedback.scanner_min_action_ms = 0
    _fb, links = await make_request(session, settings, requester_email="fast@example.com")
    token = _token(links)
    await client.get(path_of(links["7"]), headers=BROWSER_HEADERS)  # a link follower's path
    shown = await _opt_out(client, token, PRESSED)
    assert "Nothing has changed" in shown
    row = await session.get(OptOut, "email:fast@example.com", populate_existing=True)
    assert row is not None and row.status == "automated"
    assert row.evidence["reasons"] == ["soon_after_score_link"]  # type: ignore[index]
    # Pressed again at once: still held (a scanner presses what the next page offers too).
    assert "Nothing has changed" in await _opt_out(client, token, PRESSED, confirm="1")
    # Half a minute later (the fetches move back instead of sleeping) the press is believed.
    await session.execute(
        text("UPDATE feedback_opens SET opened_at = opened_at - interval '30 seconds'")
    )
    confirmed = await _opt_out(client, token, PRESSED, confirm="1")
    assert "You will not receive feedback requests" in confirmed
    await session.refresh(row)
    assert row.status == "applied" and row.evidence["mode"] == "confirm"  # type: ignore[index]


async def test_rfc_8058_one_click_from_the_mail_provider_opts_out(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _fb, links = await make_request(session, settings, requester_email="list@example.com")
    done = await client.post(f"/f/{_token(links)}/opt-out", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    row = await session.get(OptOut, "email:list@example.com", populate_existing=True)
    assert row is not None and row.status == "applied" and row.source == "list-unsubscribe"
    # A page posting the same body is a browser: judged, not taken as RFC 8058.
    _fb2, links2 = await make_request(session, settings, requester_email="page@example.com")
    await client.post(
        f"/f/{_token(links2)}/opt-out",
        data={"List-Unsubscribe": "One-Click"},
        headers=BROWSER_HEADERS,
    )
    row2 = await session.get(OptOut, "email:page@example.com", populate_existing=True)
    assert row2 is not None and row2.status == "automated"
