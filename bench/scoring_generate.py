"""Fill a throwaway PostgreSQL database with scoring data: realistic tickets, or the old shape.

    .venv/bin/python -m bench.scoring_generate [--tickets 1000000] [--response-rate 0.3]
        [--days 365] [--shape realistic|legacy] [--admin-url URL] [--name xpulse_bench_scoring]

`realistic` (default, bench/scoring_realistic.py): N tickets over the period, one request per
resolution cycle, about `--response-rate` of the sent requests answered, long-tailed services,
groups and agents. `legacy`: 100,000 tickets with 10 answered requests each (1,000,000
responses; `--tickets` sets the ticket count). Everything is generated inside PostgreSQL
(generate_series, one INSERT … SELECT per table), so the data never crosses the wire; then
ticket_scores, ticket_not_sent and the bucket sums are rebuilt and the scoring_dirty queue is
left empty. The
random stream is seeded: two runs build the same data set relative to the anchor day (today,
UTC). Prints the generation time and the database URL for bench.scoring_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg

from app.scoring import bucket_sql, rollup
from bench import scoring_realistic
from bench.common import create_database, dsn, migrate

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
NAME = "xpulse_bench_scoring"
TICKETS = 1_000_000
LEGACY_TICKETS = 100_000
RESPONSES_PER_TICKET = 10  # 1,000,000 responses, one per feedback request
SERVICES, GROUPS, AGENTS = 40, 25, 300


def legacy_steps(tickets: int) -> list[tuple[str, str]]:
    """The old shape: `tickets` tickets, each with 10 answered requests and, on 3 in 10, an
    unanswered, a suppressed and a failed one."""
    return [(table, sql.replace("{TICKETS}", str(tickets))) for table, sql in LEGACY_STEPS]


LEGACY_STEPS: list[tuple[str, str]] = [
    (
        "connectors",
        """
        INSERT INTO connectors (id, name, kind, base_url, enabled, webhook_secret, auth, channel,
                                options, created_at, updated_at)
        SELECT gen_random_uuid(), 'bench-' || g, 'generic', 'http://127.0.0.1:9', true, 'x',
               '{}', 'email', '{}', now(), now()
        FROM generate_series(1, 2) g
        """,
    ),
    (
        "tickets",
        f"""
        INSERT INTO tickets (id, connector_id, source, external_id, number, title, service,
                             assignment_group, category, priority, channel, assignee, opened_at,
                             resolved_at, sla_met, raw, created_at, updated_at)
        SELECT gen_random_uuid(),
               (SELECT id FROM connectors ORDER BY name LIMIT 1 OFFSET (g % 2)),
               'generic', 'ext-' || g, 'INC' || lpad(g::text, 7, '0'), 'Ticket ' || g,
               'service-' || (g % {SERVICES}), 'group-' || (g % {GROUPS}),
               (ARRAY['hardware', 'software', 'access', 'network'])[1 + g % 4],
               (ARRAY['1', '2', '3', '4'])[1 + (g / 7) % 4],
               (ARRAY['portal', 'email', 'phone', 'chat'])[1 + (g / 3) % 4],
               'agent-' || (g % {AGENTS}),
               r.resolved - interval '6 hours', r.resolved,
               CASE WHEN random() < 0.05 THEN NULL ELSE random() < 0.9 END,
               '{{}}', now(), now()
        FROM generate_series(1, {{TICKETS}}) g
        CROSS JOIN LATERAL (
            SELECT date_trunc('day', now()) - random() * interval '365 days' + g * interval '0'
                   AS resolved
        ) r
        """,
    ),
    (
        "feedback_requests",
        f"""
        INSERT INTO feedback_requests (id, ticket_id, connector_id, dedupe_key, token_hash,
                                       status, status_reason, channel, scale, sent_at,
                                       expires_at, responded_at, created_at, updated_at)
        SELECT gen_random_uuid(), t.id, t.connector_id, t.id || ':' || k,
               md5(t.id::text || k) || md5(k || t.id::text),
               CASE WHEN k <= {RESPONSES_PER_TICKET} THEN 'responded'
                    WHEN k = {RESPONSES_PER_TICKET} + 1 THEN 'expired'
                    WHEN k = {RESPONSES_PER_TICKET} + 2 THEN 'suppressed' ELSE 'failed' END,
               CASE WHEN k = {RESPONSES_PER_TICKET} + 2 THEN 'fatigue'
                    WHEN k = {RESPONSES_PER_TICKET} + 3 THEN 'smtp 550' END,
               'email',
               CASE WHEN k % 10 = 0 THEN 'faces-5' ELSE 'happiness-0-10' END,
               CASE WHEN k <= {RESPONSES_PER_TICKET} + 1 THEN t.resolved_at + interval '5 min' END,
               t.resolved_at + interval '7 days',
               CASE WHEN k <= {RESPONSES_PER_TICKET} THEN t.resolved_at + interval '1 hour' END,
               t.resolved_at, t.resolved_at
        FROM tickets t
        CROSS JOIN generate_series(1, {RESPONSES_PER_TICKET} + 3) k
        -- about 3 in 10 tickets also have an unanswered, a suppressed and a failed request
        WHERE k <= {RESPONSES_PER_TICKET} OR abs(hashtext(t.id::text) % 10) < 3
        """,
    ),
    (
        "responses",
        """
        INSERT INTO responses (id, request_id, ticket_id, score, scale, lost_time, lost_minutes,
                               automated, evidence, answered_at, created_at, updated_at)
        SELECT gen_random_uuid(), fr.id, fr.ticket_id, s.score, fr.scale, l.key, l.minutes,
               random() < 0.01, '{}', fr.responded_at, fr.responded_at, fr.responded_at
        FROM feedback_requests fr
        CROSS JOIN LATERAL (
            SELECT CASE WHEN fr.scale = 'faces-5' THEN 1 + floor(random() * 5)::int
                        ELSE least(10, floor(random() * 14)::int) END AS score,
                   floor(random() * 11)::int AS bucket
            FROM (SELECT fr.id) AS dependent  -- re-evaluated per row
        ) s
        LEFT JOIN (VALUES (0, 'none', 0), (1, 'lt_15m', 10), (2, '15_30m', 25),
                          (3, '30_60m', 45), (4, '1_2h', 90), (5, '2_4h', 180),
                          (6, '4_8h', 360), (7, 'gt_1d', 720)) AS l (bucket, key, minutes)
               ON l.bucket = s.bucket
        WHERE fr.status = 'responded'
        """,
    ),
    (
        "response_factors",
        """
        INSERT INTO response_factors (response_id, factor, polarity)
        SELECT DISTINCT r.id, f.factor, f.polarity
        FROM responses r
        CROSS JOIN LATERAL (
            SELECT (ARRAY['fast', 'friendly', 'first_contact', 'informed', 'learned',
                          'expert'])[1 + floor(random() * 6)::int] AS factor, 'positive' AS polarity
            FROM generate_series(1, 2) WHERE r.score >= (CASE r.scale WHEN 'faces-5' THEN 3
                                                               ELSE 7 END)
                                          AND random() < 0.6
            UNION ALL
            SELECT (ARRAY['slow', 'repeat_explain', 'not_informed', 'closed_unasked',
                          'not_solved', 'hard_to_reach', 'unfriendly'])
                       [1 + floor(random() * 7)::int], 'negative'
            FROM generate_series(1, 2) WHERE r.score <= (CASE r.scale WHEN 'faces-5' THEN 3
                                                               ELSE 8 END)
                                          AND random() < 0.6
        ) f
        """,
    ),
]


async def fill(url: str, steps: list[tuple[str, str]]) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("SELECT setseed(0.42)")
        # Bulk load with the rollup triggers off (they would queue a ticket per row), then
        # build ticket_scores in one statement, as after any bulk import; the rebuild empties
        # the queue first, so nothing is left to drain.
        await conn.execute("SET session_replication_role = replica")
        clear, gone, scores, clear_not_sent, not_sent = rollup.rebuild_all()
        steps = [
            *steps,
            ("ticket_scores", f"{clear}; {gone}; {scores}"),
            ("ticket_not_sent", f"{clear_not_sent}; {not_sent}"),
            *((table, "; ".join(part)) for table, part in bucket_sql.fill("postgresql")),
        ]
        for table, sql in steps:
            started = time.monotonic()
            await conn.execute(sql)
            count = await conn.fetchval(f"SELECT count(*) FROM {table}")
            took = time.monotonic() - started
            print(f"  {table:<18} {count:>9,} rows  {took:6.1f} s", flush=True)
        await conn.execute("SET session_replication_role = origin")
        left = await conn.fetchval("SELECT count(*) FROM scoring_dirty")
        assert left == 0, f"{left} tickets left in scoring_dirty"
        started = time.monotonic()
        await conn.execute("VACUUM ANALYZE")  # visibility map for index-only scans, statistics
        print(f"  vacuum analyze              {time.monotonic() - started:6.1f} s", flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--name", default=NAME)
    parser.add_argument("--shape", choices=("realistic", "legacy"), default="realistic")
    parser.add_argument(
        "--tickets", type=int, help=f"default {TICKETS:,} ({LEGACY_TICKETS:,} legacy)"
    )
    parser.add_argument("--response-rate", type=float, default=0.3, help="of the sent requests")
    parser.add_argument("--days", type=int, default=365, help="the period, ending today")
    args = parser.parse_args()
    if args.shape == "legacy":
        steps = legacy_steps(args.tickets or LEGACY_TICKETS)
    else:
        steps = scoring_realistic.steps(args.tickets or TICKETS, args.response_rate, args.days)
    started = time.monotonic()
    url = asyncio.run(create_database(args.name, admin_url=args.admin_url, replace=True))
    migrate(url)
    print(f"migrated {args.name}", flush=True)
    asyncio.run(fill(url, steps))
    print(f"generated {args.shape} data in {time.monotonic() - started:.0f} s: {url}")


if __name__ == "__main__":
    main()
