"""A chat webhook URL is a credential (whoever has it posts to the channel): no table holds it in
any encoding, reads of the rule mask it, and the alert still reaches it."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.actions.models import AlertRule
from tests.actions.conftest import ChatStandIn, Env
from tests.support.leaks import encodings, where_found


async def test_no_table_holds_a_chat_webhook_url_in_any_encoding(
    env: Env, chat: ChatStandIn
) -> None:
    tag = uuid.uuid4().hex
    first, second = f"{chat.url}/services/T1/B1/{tag}", f"{chat.url}/workflows/{tag}-teams"
    created = await env.client.post(
        "/api/v1/alert-rules",
        json={
            "name": "Unhappy anywhere",
            "condition": "unhappy",
            "actions": {"chat": [{"url": first, "format": "slack"}]},
        },
        headers=env.admin,
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    # A changed list is stored encrypted too.
    changed = await env.client.patch(
        f"/api/v1/alert-rules/{rule_id}",
        json={
            "actions": {
                "chat": [
                    {"url": first, "format": "slack"},
                    {"url": second, "format": "teams"},
                ]
            }
        },
        headers=env.admin,
    )
    assert changed.status_code == 200, changed.text
    assert [c["url"] for c in changed.json()["actions"]["chat"]] == [f"{chat.url}/…"] * 2

    async with env.sessionmaker() as session:
        assert await where_found(session, encodings(tag)) == []
        # The search finds what is stored in plain form: the rule's name beside the URLs.
        assert "alert_rules.name (Unhappy anywhere)" in await where_found(
            session, {"Unhappy anywhere"}
        )
        rule = await session.scalar(select(AlertRule).where(AlertRule.id == uuid.UUID(rule_id)))
        assert rule is not None
        assert [t["url"] for t in rule.actions["chat"]] == [first, second]
