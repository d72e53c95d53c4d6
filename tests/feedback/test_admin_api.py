"""Admin API: list and get requests and responses with filters and cursors, resend, cancel."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback.answers import Answer, Click, record_response
from tests.feedback.conftest import BROWSER_HEADERS, jobs_named, make_request, path_of

HUMAN = Click(user_agent=BROWSER_HEADERS["user-agent"], headers=BROWSER_HEADERS)
API = "/api/v1/feedback"
JSON = {**BROWSER_HEADERS, "accept": "application/json"}


async def test_list_requests_with_filters_and_cursor(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, read_headers: dict
) -> None:
    now = utcnow()
    old, _ = await make_request(session, settings, now=now - timedelta(days=3))
    mine, _ = await make_request(session, settings, requester_email="Ann@Example.com")
    skipped, _ = await make_request(session, settings, sampling_percent=0)
    page = await client.get(
        f"{API}/requests", params={"requester": "ann@example.com"}, headers=read_headers
    )
    assert [r["id"] for r in page.json()["items"]] == [str(mine.id)]
    suppressed = await client.get(
        f"{API}/requests",
        params={"status": "suppressed", "connector_id": str(skipped.connector_id)},
        headers=read_headers,
    )
    (item,) = suppressed.json()["items"]
    assert item["status_reason"] == "sampling" and item["links"] == {}
    ranged = await client.get(
        f"{API}/requests",
        params={"created_to": (now - timedelta(days=1)).isoformat()},
        headers=read_headers,
    )
    assert str(old.id) in [r["id"] for r in ranged.json()["items"]]
    assert str(mine.id) not in [r["id"] for r in ranged.json()["items"]]
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"{API}/requests", params=params, headers=read_headers)).json()
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert {str(old.id), str(mine.id), str(skipped.id)} <= set(seen)
    assert len(seen) == len(set(seen))
    one = await client.get(f"{API}/requests/{mine.id}", headers=read_headers)
    assert len(one.json()["links"]) == 11
    missing = await client.get(f"{API}/requests/{skipped.ticket_id}", headers=read_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_list_and_get_responses(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, read_headers: dict
) -> None:
    fb, _ = await make_request(session, settings)
    scanned, _ = await make_request(session, settings)
    now = utcnow()
    answer = Answer(score=3, factors=["slow", "fast"], lost_time="gt_1d")
    saved = await record_response(
        session, request=fb, answer=answer, click=HUMAN, settings=settings, now=now
    )
    response = saved.response
    await record_response(
        session,
        request=scanned,
        answer=Answer(score=10),
        click=Click(user_agent="Proofpoint URL Defense", headers={}),
        settings=settings,
        now=now,
    )
    counted = await client.get(
        f"{API}/responses", params={"status": "counted"}, headers=read_headers
    )
    ids = [r["id"] for r in counted.json()["items"]]
    assert str(response.id) in ids
    automated = await client.get(
        f"{API}/responses", params={"status": "automated"}, headers=read_headers
    )
    (bot,) = [r for r in automated.json()["items"] if r["request_id"] == str(scanned.id)]
    assert bot["automated"] and "scanner_user_agent" in bot["evidence"]["reasons"]
    one = (await client.get(f"{API}/responses/{response.id}", headers=read_headers)).json()
    # 3 is unhappy on 0-10: only negative factors are offered, so "fast" is not kept.
    assert one["factors"] == ["slow"] and one["band"] == "unhappy"
    assert one["lost_minutes"] == 720 and one["normalised"] == 30.0


async def test_resend_and_cancel(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    admin_headers: dict,
    read_headers: dict,
) -> None:
    fb, links = await make_request(session, settings)
    fb_id = fb.id  # error answers roll back and expire loaded rows
    forbidden = await client.post(f"{API}/requests/{fb_id}/resend", headers=read_headers)
    assert forbidden.status_code == 403
    for _ in range(2):
        resent = await client.post(f"{API}/requests/{fb_id}/resend", headers=admin_headers)
        assert resent.status_code == 202
    jobs = await jobs_named(session, "feedback.send_email")
    (job,) = [j for j in jobs if j.payload["kind"] == "resend"]
    assert job.dedupe_key == f"resend:{fb_id}:1" and job.payload["kind"] == "resend"
    cancelled = await client.post(f"{API}/requests/{fb_id}/cancel", headers=admin_headers)
    assert cancelled.json()["status"] == "cancelled"
    gone = await client.get(path_of(links["5"]), headers=BROWSER_HEADERS)
    assert gone.status_code == 410
    again = await client.post(f"{API}/requests/{fb_id}/cancel", headers=admin_headers)
    assert again.status_code == 409
    answered, _ = await make_request(session, settings)
    answered_id = answered.id
    await record_response(
        session,
        request=answered,
        answer=Answer(score=9),
        click=HUMAN,
        settings=settings,
        now=utcnow(),
    )
    refused = await client.post(f"{API}/requests/{answered_id}/resend", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("feedback-request-not-resendable")


async def test_scanner_stats_count_automated_clicks_by_connector_day_and_reason(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, read_headers: dict
) -> None:
    fb, links = await make_request(session, settings)
    token = links["0"].split("/f/")[1].split("?")[0]
    for url in links.values():  # a scanner opens every option; the page's script posts each
        await client.get(path_of(url), headers=BROWSER_HEADERS)
    for score in ("0", "1", "2"):
        await client.post(f"/f/{token}", data={"score": score}, headers=JSON)
    await client.post(f"/f/{token}", data={"score": "3"}, headers={"accept": "application/json"})
    stats = await client.get(
        f"{API}/scanner-stats", params={"connector_id": str(fb.connector_id)}, headers=read_headers
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    today = utcnow().date().isoformat()
    by_reason = {(i["day"], i["reason"]): i["clicks"] for i in body["items"]}
    assert by_reason == {
        (today, "several_options_opened"): 4,
        (today, "link_crawl"): 3,  # the page fetches came from the posts' own client
        (today, "no_browser_fetch_metadata"): 1,
    }
    assert {i["connector_id"] for i in body["items"]} == {str(fb.connector_id)}
    assert body["automated"] == 4 and body["counted"] == 0
    other = await client.get(
        f"{API}/scanner-stats",
        params={"from": "2020-01-01", "to": "2020-01-31"},
        headers=read_headers,
    )
    assert other.json() == {"items": [], "automated": 0, "counted": 0}
