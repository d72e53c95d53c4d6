"""The public page over ASGI: one-click recording, answers, errors, headers, languages."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback.models import FeedbackRequest, ResponseFactor
from tests.feedback.conftest import BROWSER_HEADERS, jobs_named, make_request, path_of, response_of

JSON = {**BROWSER_HEADERS, "accept": "application/json"}


async def test_plain_get_and_head_record_nothing(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    for url in links.values():
        assert (await client.get(path_of(url))).status_code == 200
        assert (await client.head(path_of(url))).status_code == 200
    assert await response_of(session, fb.id) is None
    assert (await session.get(FeedbackRequest, fb.id)).status == "sent"  # type: ignore[union-attr]


async def test_one_click_beacon_records_a_counted_score(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    page = await client.get(path_of(links["8"]), headers=BROWSER_HEADERS)
    assert page.status_code == 200
    answer = await client.post(f"/f/{_token(links)}", data={"score": "8"}, headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counted"] is True
    response = await response_of(session, fb.id)
    assert response is not None and response.score == 8 and not response.automated
    await session.refresh(fb)
    assert fb.status == "responded" and fb.responded_at is not None
    write_backs = await jobs_named(session, "connectors.write_back")
    assert [j.payload["score"] for j in write_backs] == [8]
    assert write_backs[0].dedupe_key == (
        f"write_back:{response.id}:{response.updated_at.isoformat()}"
    )


async def test_every_option_opened_at_once_is_automated_and_a_later_person_counts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    token = _token(links)
    for url in links.values():  # a scanner that runs the page's script opens them all
        await client.get(path_of(url), headers=BROWSER_HEADERS)
    for score in links:
        await client.post(f"/f/{token}", data={"score": score}, headers=JSON)
    response = await response_of(session, fb.id)
    assert response is not None and response.automated
    assert "several_options_opened" in response.evidence["reasons"]
    assert await jobs_named(session, "connectors.write_back") == []
    await session.refresh(fb)
    assert fb.status == "sent"
    # An hour later (the recorded fetches move back instead of sleeping) the person clicks.
    await session.execute(text("UPDATE feedback_opens SET opened_at = opened_at - interval '1h'"))
    await client.get(path_of(links["3"]), headers=BROWSER_HEADERS)
    await client.post(f"/f/{token}", data={"score": "3"}, headers=JSON)
    response = await response_of(session, fb.id)
    assert response is not None and response.score == 3 and not response.automated


async def test_a_counted_click_is_reconsidered_when_other_options_follow(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A button-clicking scanner can post before its other fetches land: they still count."""
    fb, links = await make_request(session, settings)
    await client.get(path_of(links["0"]), headers=BROWSER_HEADERS)
    await client.post(f"/f/{_token(links)}", data={"score": "0"}, headers=JSON)
    assert not (await response_of(session, fb.id)).automated  # type: ignore[union-attr]
    assert len(await jobs_named(session, "connectors.write_back")) == 1
    await client.get(path_of(links["1"]), headers=BROWSER_HEADERS)
    response = await response_of(session, fb.id)
    assert response is not None and response.automated
    await session.refresh(fb)
    assert fb.status == "sent" and fb.responded_at is None
    (job,) = await jobs_named(session, "connectors.write_back")
    assert job.status == "done" and job.last_error == "superseded by a newer answer"


async def test_trap_link_and_scanner_user_agent_make_clicks_automated(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    token = _token(links)
    assert (await client.get(f"/f/{token}/go")).status_code == 200
    await client.post(f"/f/{token}", data={"score": "9"}, headers=JSON)
    response = await response_of(session, fb.id)
    assert response is not None and response.automated
    assert "trap_link" in response.evidence["reasons"]

    fb2, links2 = await make_request(session, settings)
    ua = {**JSON, "user-agent": "Mozilla/5.0 (compatible; Mimecast URL Protect)"}
    await client.post(f"/f/{_token(links2)}", data={"score": "9"}, headers=ua)
    response = await response_of(session, fb2.id)
    assert response is not None and response.automated
    assert "scanner_user_agent" in response.evidence["reasons"]


async def test_form_post_saves_each_answer_and_answers_303(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    token = _token(links)
    form = {"score": "2", "factors": ["slow", "not_solved"], "lost_time": "1_2h", "comment": "Hi"}
    answer = await client.post(f"/f/{token}", data=form, headers=BROWSER_HEADERS)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/f/{token}")
    response = await response_of(session, fb.id)
    assert response is not None
    assert (response.score, response.lost_time, response.lost_minutes, response.comment) == (
        2,
        "1_2h",
        90,
        "Hi",
    )
    rows = await session.scalars(
        select(ResponseFactor).where(ResponseFactor.response_id == response.id)
    )
    assert sorted((r.factor, r.polarity) for r in rows) == [
        ("not_solved", "negative"),
        ("slow", "negative"),
    ]
    # Only the comment changes; a factor of the other polarity is refused for this band.
    await client.post(f"/f/{token}", data={"comment": "Fixed now"}, headers=JSON)
    bad = await client.post(f"/f/{token}", data={"lost_time": "forever"}, headers=JSON)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "lost_time"
    friendly = await client.post(f"/f/{token}", data={"score": "99"}, headers=BROWSER_HEADERS)
    assert friendly.status_code == 422 and "text/html" in friendly.headers["content-type"]
    response = await response_of(session, fb.id)
    assert response is not None and response.comment == "Fixed now" and response.score == 2
    # Changing to a happy score drops the negative factors (the page offers positive ones).
    changed = await client.post(
        f"/f/{token}", json={"score": 10, "factors": ["fast"]}, headers=JSON
    )
    assert changed.json()["factors"] == ["fast"] and changed.json()["score"] == 10


async def test_answers_need_a_score_first(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    fb, links = await make_request(session, settings)
    fb_id = fb.id  # the failed request rolls back, expiring loaded objects
    answer = await client.post(f"/f/{_token(links)}", data={"comment": "x"}, headers=JSON)
    assert answer.status_code == 422
    assert await response_of(session, fb_id) is None


async def test_unknown_404_and_expired_410_are_friendly_pages(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    unknown = await client.get("/f/" + "A" * 43 + "?s=3", headers=BROWSER_HEADERS)
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]
    assert "not valid" in unknown.text
    fb, links = await make_request(session, settings, now=utcnow() - timedelta(days=8))
    expired = await client.get(path_of(links["3"]), headers=BROWSER_HEADERS)
    assert expired.status_code == 410 and "closed" in expired.text
    assert fb.id.hex not in expired.text and "HD-" not in expired.text
    post = await client.post(f"/f/{_token(links)}", data={"score": "3"}, headers=JSON)
    assert post.status_code == 410 and post.json()["status"] == 410


async def test_page_is_localised_and_has_a_strict_csp(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    _fb, links = await make_request(session, settings, requester_locale="de-CH")
    page = await client.get(path_of(links["9"]), headers=BROWSER_HEADERS)
    assert '<html lang="de">' in page.text and "Vielen Dank" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert "<script>" not in page.text and "style=" not in page.text
    switched = await client.get(path_of(links["9"]) + "&lang=sv", headers=BROWSER_HEADERS)
    assert '<html lang="sv">' in switched.text
    _fb2, links2 = await make_request(session, settings)
    french = await client.get(
        path_of(links2["9"]), headers={**BROWSER_HEADERS, "accept-language": "fr-CA,fr;q=0.9"}
    )
    assert '<html lang="fr">' in french.text
    for asset in ("page.js", "page.css"):
        assert (await client.get(f"/f/-/{asset}")).status_code == 200


async def test_rate_limited_per_token(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    settings.feedback.rate_limit_per_minute = 3
    settings.feedback.rate_limit_per_address_per_minute = 100
    _fb, links = await make_request(session, settings)
    codes = [(await client.get(path_of(links["5"]))).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    as_json = await client.get(path_of(links["5"]), headers={"Accept": "application/json"})
    assert as_json.status_code == 429
    assert as_json.headers["content-type"] == "application/problem+json"
    assert as_json.headers["retry-after"] == "60"
    _other, links2 = await make_request(session, settings)
    assert (await client.get(path_of(links2["5"]))).status_code == 200


def _token(links: dict[str, str]) -> str:
    return re.search(r"/f/([^?]+)", next(iter(links.values()))).group(1)  # type: ignore[union-attr]


async def test_time_of_click_protection_on_the_clicked_link_does_not_block_a_person(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """Safe Links fetches the clicked URL (HEAD or GET, its own UA) just before the browser."""
    fb, links = await make_request(session, settings)
    scanner = {"user-agent": "Mozilla/5.0 (compatible; Microsoft Office SafeLinks)"}
    await client.head(path_of(links["6"]), headers=scanner)
    await client.get(path_of(links["6"]), headers=scanner)
    await client.get(path_of(links["6"]), headers=BROWSER_HEADERS)
    await client.post(f"/f/{_token(links)}", data={"score": "6"}, headers=JSON)
    response = await response_of(session, fb.id)
    assert response is not None and not response.automated
    assert response.evidence["reasons"] == []
    assert {"head_request_nearby", "scanner_fetch_nearby"} <= set(response.evidence["weak"])


async def test_the_five_face_scale(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    settings.feedback.scale = "faces-5"
    fb, links = await make_request(session, settings)
    assert sorted(links) == ["1", "2", "3", "4", "5"]
    page = await client.get(path_of(links["4"]), headers=BROWSER_HEADERS)
    assert page.text.count('class="score t') == 5 and "🙂" in page.text
    answer = await client.post(
        f"/f/{_token(links)}", data={"score": "3", "factors": ["fast", "slow"]}, headers=JSON
    )
    assert answer.json()["factors"] == ["fast", "slow"]  # neutral: both polarities
    response = await response_of(session, fb.id)
    assert response is not None and response.scale == "faces-5"


async def test_a_person_after_a_time_of_click_post_carries_their_own_evidence(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A time-of-click sandbox that ran the script posted the same option first: the person's
    answer replaces it with the person's evidence, not the sandbox's."""
    fb, links = await make_request(session, settings)
    token = _token(links)
    sandbox = {**JSON, "user-agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36"}
    auto = '{"mode": "auto", "trusted": null, "visible": true, "since_ms": 1500}'
    for headers in (sandbox, JSON):
        await client.get(path_of(links["6"]), headers=headers)
        answer = await client.post(
            f"/f/{token}", data={"score": "6", "signals": auto}, headers=headers
        )
        assert answer.json()["counted"] is True
    response = await response_of(session, fb.id)
    assert response is not None and not response.automated
    assert response.evidence["user_agent"] == JSON["user-agent"]


async def test_without_script_a_not_counted_answer_says_so_and_its_button_counts(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    settings.feedback.scanner_min_action_ms = 0  # the test presses at once
    fb, links = await make_request(session, settings)
    token = _token(links)
    for score in ("2", "9"):  # a scanner opened two options a moment ago
        await client.get(path_of(links[score]), headers={"user-agent": "scanner-pool"})
    page = await client.get(path_of(links["2"]), headers=BROWSER_HEADERS)
    view = re.search(r'name="view" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    pressed = {**BROWSER_HEADERS, "sec-fetch-user": "?1", "sec-fetch-mode": "navigate"}
    saved = await client.post(
        f"/f/{token}", data={"score": "2", "view": view, "lang": "en"}, headers=pressed
    )
    assert saved.status_code == 303 and "unconfirmed=2" in saved.headers["location"]
    notice = await client.get(saved.headers["location"], headers=BROWSER_HEADERS)
    assert "Your score 2 is not counted yet." in notice.text
    assert 'name="confirm" value="1"' in notice.text and "Count my score" in notice.text
    assert (await response_of(session, fb.id)).automated  # type: ignore[union-attr]
    view = re.search(r'name="view" value="([^"]+)"', notice.text).group(1)  # type: ignore[union-attr]
    confirmed = await client.post(
        f"/f/{token}", data={"score": "2", "confirm": "1", "view": view}, headers=pressed
    )
    assert confirmed.status_code == 303 and "unconfirmed" not in confirmed.headers["location"]
    response = await response_of(session, fb.id)
    assert response is not None and not response.automated and response.score == 2
    assert response.evidence["mode"] == "confirm" and response.evidence["user_activation"]
    # A forged view stamp is no view: the server's clock cannot vouch for it.
    forged = await client.post(
        f"/f/{token}",
        data={"score": "3", "confirm": "1", "view": view[:-1] + "x"},
        headers={**pressed, "accept": "application/json"},
    )
    assert forged.json()["counted"] is False
