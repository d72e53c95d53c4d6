"""The scoring benchmark's generator: the realistic shape has the proportions it promises, the
legacy shape keeps its old one, and both leave the rollup and the bucket sums exact with an empty
queue."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bench import scoring_generate, scoring_realistic
from bench.common import dsn, migrate

pytestmark = pytest.mark.postgres


def generate(url: str, steps: list[tuple[str, str]]) -> dict[str, object]:
    migrate(url)
    asyncio.run(scoring_generate.fill(url, steps))

    async def facts() -> dict[str, object]:
        conn = await asyncpg.connect(dsn(url))
        try:
            one = conn.fetchval
            return {
                "tickets": await one("SELECT count(*) FROM tickets"),
                "scores": await one("SELECT count(*) FROM ticket_scores"),
                "dirty": await one("SELECT count(*) FROM scoring_dirty"),
                "counted": await one("SELECT sum(responses) FROM ticket_scores"),
                "answers": await one("SELECT count(*) FROM responses WHERE NOT automated"),
                "sent": await one("SELECT count(sent_at) FROM feedback_requests"),
                "responses": await one("SELECT count(*) FROM responses"),
                "twice": await one(
                    "SELECT count(*) FROM (SELECT ticket_id FROM feedback_requests "
                    "GROUP BY ticket_id HAVING count(*) = 2) x"
                ),
                "reasons": {
                    (r["status"], r["status_reason"])
                    for r in await conn.fetch(
                        "SELECT DISTINCT status, status_reason FROM feedback_requests "
                        "WHERE status IN ('suppressed', 'failed')"
                    )
                },
                "not_sent": await one("SELECT sum(requests) FROM ticket_not_sent"),
                # the bucket sums, per month over everything and per day by agent
                "bucket_answers": await one(
                    "SELECT sum(responses) FROM score_buckets WHERE dim = '*' AND grain = 3"
                ),
                "bucket_tickets": await one(
                    "SELECT sum(tickets) FROM score_buckets WHERE dim = 'agent' AND grain = 2"
                ),
                "bucket_not_sent": await one(
                    "SELECT sum(requests) FROM not_sent_buckets WHERE dim = '*' AND grain = 1"
                ),
                "suppressed_failed": await one(
                    "SELECT count(*) FROM feedback_requests "
                    "WHERE status IN ('suppressed', 'failed')"
                ),
                "comments": await one("SELECT count(comment) FROM responses"),
                "groups": [
                    r[0]
                    for r in await conn.fetch(
                        "SELECT count(*) FROM tickets GROUP BY assignment_group ORDER BY 1 DESC"
                    )
                ],
                "per_ticket": await one(
                    "SELECT max(n) FROM (SELECT count(*) n FROM responses GROUP BY ticket_id) x"
                ),
            }
        finally:
            await conn.close()

    return asyncio.run(facts())


def test_realistic_shape(blank_pg_url: str) -> None:
    f = generate(blank_pg_url, scoring_realistic.steps(4000, 0.3, 365))
    assert f["tickets"] == f["scores"] == 4000
    assert f["dirty"] == 0
    assert f["counted"] == f["answers"]  # the rebuilt rollup counts every human answer
    assert f["bucket_answers"] == f["answers"] and f["bucket_tickets"] == f["tickets"]
    assert f["bucket_not_sent"] == f["not_sent"]
    assert 0.25 < f["responses"] / f["sent"] < 0.35
    assert 0.01 < f["twice"] / f["tickets"] < 0.05  # reopened and surveyed twice
    assert f["per_ticket"] <= 2
    assert ("suppressed", "fatigue") in f["reasons"] and ("failed", "smtp timeout") in f["reasons"]
    assert f["not_sent"] == f["suppressed_failed"]
    assert 0.08 < f["comments"] / f["responses"] < 0.3
    groups = f["groups"]
    assert len(groups) > 100 and groups[0] > 10 * groups[len(groups) // 2]  # a long tail


def test_legacy_shape(blank_pg_url: str) -> None:
    f = generate(blank_pg_url, scoring_generate.legacy_steps(200))
    assert f["tickets"] == f["scores"] == 200
    assert f["dirty"] == 0
    assert f["responses"] == 2000 and f["per_ticket"] == 10
