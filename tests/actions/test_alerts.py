"""An unhappy answer, evaluated by the tick, posts to chat (Slack and Teams shapes), mails the
rule's people and adds one internal note on the ServiceNow and Jira stand-ins; it becomes a
follow-up that is acknowledged and closed through the API, and /api/v1/scores follows."""

from __future__ import annotations

from sqlalchemy import func, select

from app.actions.models import AlertFiring, Followup
from app.jobs.models import Job
from tests.actions.conftest import ChatStandIn, Env, add_connector, answer
from tests.connectors.standins import JiraStandIn, ServiceNowStandIn
from tests.feedback.conftest import SmtpServer

TITLE = "XPulse: unhappy answer on"


async def create_rule(env: Env, chat: ChatStandIn, **fields: object) -> dict:
    body = {
        "name": "Unhappy on the service desk",
        "condition": "unhappy",
        "assignment_group": "Service Desk",
        "actions": {
            "email": ["oncall@example.com"],
            "chat": [
                {"url": f"{chat.url}/slack", "format": "slack"},
                {"url": f"{chat.url}/teams", "format": "teams"},
            ],
            "ticket_note": True,
        },
        **fields,
    }
    created = await env.client.post("/api/v1/alert-rules", json=body, headers=env.admin)
    assert created.status_code == 201, created.text
    return created.json()


async def test_an_unhappy_answer_alerts_every_channel_once_and_becomes_a_followup(
    env: Env, chat: ChatStandIn, smtp_server: SmtpServer
) -> None:
    with ServiceNowStandIn() as sn, JiraStandIn() as jira:
        sn.add_record("incident", "a" * 32, number="INC0010001")
        jira.add_issue("10001", "HELP-1")
        snow = await add_connector(env, kind="servicenow", base_url=sn.url)
        jsm = await add_connector(
            env, kind="jira", base_url=jira.url, options={"comment": "internal"}
        )
        await create_rule(env, chat)
        await answer(
            env,
            snow,
            score=2,
            external_id="a" * 32,
            number="INC0010001",
            group="Service Desk",
            factors=["slow", "not_solved"],
            lost_time="1_2h",
            comment="Third time I asked.",
        )
        await answer(env, jsm, score=3, external_id="10001", number="HELP-1", group="Service Desk")
        # Out of scope (another group) and happy answers alert nobody.
        await answer(env, snow, score=1, external_id="b" * 32, number="INC0010002", group="Network")
        await answer(env, jsm, score=10, external_id="10002", number="HELP-2", group="Service Desk")

        await env.tick()
        await env.tick()  # a second pass (another replica, a retry) acts on nothing again

        notes = [n for n in sn.journal("a" * 32) if TITLE in n]
        assert len(notes) == 1 and "INC0010001" in notes[0] and "Third time I asked." in notes[0]
        assert sn.journal("b" * 32) == []
        comments = [c for c in jira.issues["10001"].comments if TITLE in c["body"]]
        assert len(comments) == 1 and comments[0]["public"] is False  # internal: agents only
        assert jira.requests("POST", "/rest/servicedeskapi/request/10001/comment")

    slack, teams = chat.posts("/slack"), chat.posts("/teams")
    assert len(slack) == 2 and len(teams) == 2  # one per matching answer and webhook
    by_ticket = {p["text"].split()[-1]: p for p in slack}
    assert set(by_ticket) == {"INC0010001", "HELP-1"}
    first = by_ticket["INC0010001"]
    assert first["blocks"][0]["type"] == "header"
    assert "*Lost time:* 90 min" in first["blocks"][1]["text"]["text"]
    assert "> Third time I asked." in first["blocks"][2]["text"]["text"]
    for post in teams:
        assert post["type"] == "message"
        (attachment,) = post["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        assert card["body"][0]["text"].startswith(TITLE)
        assert {"title": "Rule", "value": "Unhappy on the service desk"} in card["body"][1]["facts"]

    mails = smtp_server.inbox.to("oncall@example.com")
    assert sorted(m["Subject"] for m in mails) == [f"{TITLE} HELP-1", f"{TITLE} INC0010001"]
    assert "Factors: not_solved, slow" in mails[0].get_content() + mails[1].get_content()

    async with env.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AlertFiring)) == 2
        assert await session.scalar(select(func.count()).select_from(Followup)) == 2
        dead = await session.scalars(select(Job).where(Job.status == "dead"))
        assert dead.all() == []


async def test_a_followup_is_acknowledged_and_closed_and_the_scores_move(
    env: Env, chat: ChatStandIn
) -> None:
    generic = await add_connector(env, kind="generic", base_url="https://helpdesk.example.com")
    await create_rule(
        env,
        chat,
        assignment_group=None,
        condition="score_at_most",
        threshold=4,
        actions={"email": ["oncall@example.com"]},
    )
    await answer(env, generic, score=2, external_id="T-1", number="HD-1", group="Service Desk")
    other = await add_connector(env, kind="generic", base_url="https://desk2.example.com")
    await answer(env, other, score=4, external_id="T-2", number="HD-2", group="Network")
    await env.tick()

    listed = await env.client.get("/api/v1/followups?status=open", headers=env.admin)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert sorted(i["ticket_number"] for i in items) == ["HD-1", "HD-2"]
    narrowed = await env.client.get(
        "/api/v1/followups", params={"assignment_group": "Network"}, headers=env.admin
    )
    assert [i["ticket_number"] for i in narrowed.json()["items"]] == ["HD-2"]
    page = await env.client.get("/api/v1/followups?limit=1", headers=env.admin)
    rest = await env.client.get(
        f"/api/v1/followups?limit=1&cursor={page.json()['next_cursor']}", headers=env.admin
    )
    assert {page.json()["items"][0]["id"], rest.json()["items"][0]["id"]} == {
        i["id"] for i in items
    }

    async def scores(**params: str) -> dict:
        got = await env.client.get("/api/v1/scores", params=params, headers=env.admin)
        assert got.status_code == 200, got.text
        return got.json()

    async def followup_figures(**params: str) -> dict:
        return (await scores(**params))["followups"]

    before = await followup_figures()
    assert before == {
        "opened": 2,
        "acknowledged": 0,
        "closed": 0,
        "rate": 0.0,
        "median_hours_to_close": None,
    }
    first = next(i for i in items if i["ticket_number"] == "HD-1")
    url = f"/api/v1/followups/{first['id']}"
    acked = await env.client.post(
        f"{url}/acknowledge", json={"note": "Called her back"}, headers=env.admin
    )
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert (await followup_figures())["acknowledged"] == 1
    closed = await env.client.post(
        f"{url}/close", json={"note": "VPN profile replaced"}, headers=env.admin
    )
    assert closed.status_code == 200
    assert closed.json()["closed_note"] == "VPN profile replaced"
    after = await followup_figures()
    assert after["opened"] == 2 and after["closed"] == 1 and after["rate"] == 0.5
    assert after["median_hours_to_close"] == 0.0
    # The dashboard shows the same figures and the follow-up still waiting, with its ticket.
    key = env.admin["Authorization"].removeprefix("Bearer ")
    assert (await env.client.post("/dashboard/login", data={"key": key})).status_code == 303
    board = await env.client.get("/dashboard")
    assert board.status_code == 200
    assert "2 opened · 1 waiting · 0 acknowledged · 1 closed · 50.0% closed" in board.text
    waiting = board.text.split('id="followups"')[1].split("</section>")[0]
    assert "HD-2" in waiting and "HD-1" not in waiting
    # The scope filter holds: the other connector's follow-up is still open.
    assert (await followup_figures(connector_id=str(other.id)))["rate"] == 0.0
    # A group below XPULSE_PRIVACY__MIN_GROUP_RESPONSES shows no follow-up figures either.
    hidden = await scores(assignment_group="Network")
    assert "hidden" in hidden and "followups" not in hidden

    again = await env.client.post(f"{url}/acknowledge", json={"note": "late"}, headers=env.admin)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["type"].endswith("followup-transition")
    missing = await env.client.post(
        "/api/v1/followups/00000000-0000-0000-0000-000000000000/close",
        json={"note": "x"},
        headers=env.admin,
    )
    assert missing.status_code == 404


async def test_rules_are_validated_and_managed_through_the_api(env: Env, chat: ChatStandIn) -> None:
    bad = await env.client.post(
        "/api/v1/alert-rules",
        json={"name": "x", "condition": "score_at_most", "actions": {"email": ["a@example.com"]}},
        headers=env.admin,
    )
    assert bad.status_code == 422 and "threshold" in bad.text
    nothing = await env.client.post(
        "/api/v1/alert-rules",
        json={"name": "x", "condition": "unhappy", "actions": {}},
        headers=env.admin,
    )
    assert nothing.status_code == 422
    unknown = await env.client.post(
        "/api/v1/alert-rules",
        json={
            "name": "x",
            "condition": "unhappy",
            "connector_id": str(__import__("uuid").uuid4()),
            "actions": {"email": ["a@example.com"]},
        },
        headers=env.admin,
    )
    assert unknown.status_code == 404
    rule = await create_rule(env, chat)
    # A webhook URL is a secret: reads show where it goes, not the URL.
    assert [c["url"] for c in rule["actions"]["chat"]] == [f"{chat.url}/…"] * 2
    changed = await env.client.patch(
        f"/api/v1/alert-rules/{rule['id']}", json={"enabled": False}, headers=env.admin
    )
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    wrong = await env.client.patch(
        f"/api/v1/alert-rules/{rule['id']}", json={"condition": "factor"}, headers=env.admin
    )
    assert wrong.status_code == 422
    listed = await env.client.get("/api/v1/alert-rules", headers=env.admin)
    assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    assert (await env.client.get("/api/v1/alert-rules")).status_code == 401
    gone = await env.client.delete(f"/api/v1/alert-rules/{rule['id']}", headers=env.admin)
    assert gone.status_code == 204
    assert (
        await env.client.get(f"/api/v1/alert-rules/{rule['id']}", headers=env.admin)
    ).status_code == 404
