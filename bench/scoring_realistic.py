"""The realistic shape of bench.scoring_generate: N tickets over a period, one feedback request per
resolution cycle, a response rate, long-tailed services, groups and agents.

Every step is one INSERT … SELECT run inside PostgreSQL. Distributions (chosen to be plausible
for a service desk, not measured from one):
- services 80, assignment groups 150, categories 12: index = floor(n × u^k), so a few large
  ones and a long tail of small ones; agents belong to a group, large groups have more of them;
- priority 1/2/3/4 at 2/8/45/45%; channel portal/email/phone/chat at 45/30/15/10%;
  connector A 70%, B 30%; resolved on a uniformly random day of the period, 07:00–18:00 UTC;
- 3% of tickets were reopened and resolved twice: a request for each cycle;
- per request: 6% suppressed (fatigue, sampling, opt-out, no contact), 1% failed (SMTP), the rest
  sent; of those `rate` answered (up to 3 days later), the others expired (or still open when
  sent in the last 7 days); 15% on the faces-5 scale;
- each group has a mood (from its name's hash) moving its share of unhappy answers by ±15
  points; about one group in ten keeps its SLA and disappoints (a watermelon);
- lost time left blank on 30% of answers, else long-tailed, heavier for unhappy answers; factors
  by band; comments on 10% (happy) to 35% (unhappy) of answers; 1% automated.
"""

from __future__ import annotations

SERVICES, GROUPS, CATEGORIES = 80, 150, 12
REOPENED = 0.03
SUPPRESSED, FAILED = 0.06, 0.01

# A group's mood in [-0.15, 0.15]: added to its share of unhappy answers.
MOOD = "((abs(hashtext(t.assignment_group)) % 31) - 15) / 100.0"
# Roughly one group in ten: SLA kept, people disappointed.
MELON = "abs(hashtext(t.assignment_group || 'melon')) % 10 = 0"


def steps(tickets: int, rate: float, days: int) -> list[tuple[str, str]]:
    """(table, SQL) in order; connectors first."""
    return [
        (
            "connectors",
            """
            INSERT INTO connectors (id, name, kind, base_url, enabled, webhook_secret, auth,
                                    channel, options, created_at, updated_at)
            SELECT gen_random_uuid(), 'bench-' || g, 'generic', 'http://127.0.0.1:9', true, 'x',
                   '{}', 'email', '{}', now(), now()
            FROM generate_series(1, 2) g
            """,
        ),
        ("tickets", _tickets(tickets, days)),
        ("feedback_requests", _requests(rate)),
        ("responses", _responses()),
        ("response_factors", _factors()),
    ]


def _tickets(n: int, days: int) -> str:
    categories = ", ".join(
        f"'{c}'"
        for c in (
            "access",
            "software",
            "hardware",
            "network",
            "email",
            "printing",
            "telephony",
            "onboarding",
            "security",
            "database",
            "facilities",
            "other",
        )
    )
    return f"""
    INSERT INTO tickets (id, connector_id, source, external_id, number, title, service,
                         assignment_group, category, priority, channel, assignee, opened_at,
                         resolved_at, sla_met, raw, created_at, updated_at)
    SELECT gen_random_uuid(), (c.ids)[CASE WHEN x.u_conn < 0.7 THEN 1 ELSE 2 END],
           'generic', 'ext-' || g, 'INC' || lpad(g::text, 8, '0'), 'Ticket ' || g,
           'service-' || floor({SERVICES} * power(random(), 2.5))::int,
           'group-' || x.grp,
           (ARRAY[{categories}])[1 + floor({CATEGORIES} * power(random(), 1.8))::int],
           x.priority,
           CASE WHEN x.u_chan < 0.45 THEN 'portal' WHEN x.u_chan < 0.75 THEN 'email'
                WHEN x.u_chan < 0.90 THEN 'phone' ELSE 'chat' END,
           -- a group of rank r has about 2 + 40 / (1 + r / 4) agents, most tickets on a few
           'agent-' || x.grp || '-'
               || floor(power(random(), 1.5) * (2 + 40 / (1 + x.grp / 4)))::int,
           x.resolved - (interval '10 min' + power(random(), 2) * interval '5 days'),
           x.resolved,
           CASE WHEN random() < 0.05 THEN NULL
                ELSE random() < CASE x.priority WHEN '1' THEN 0.80 WHEN '2' THEN 0.85
                                               ELSE 0.92 END END,
           '{{}}', now(), now()
    FROM generate_series(1, {n}) g
    CROSS JOIN (SELECT array_agg(id ORDER BY name) AS ids FROM connectors) c
    CROSS JOIN LATERAL (
        SELECT floor({GROUPS} * power(random(), 3))::int AS grp,
               random() AS u_conn, random() AS u_chan,
               CASE WHEN y.u_prio < 0.02 THEN '1' WHEN y.u_prio < 0.10 THEN '2'
                    WHEN y.u_prio < 0.55 THEN '3' ELSE '4' END AS priority,
               date_trunc('day', now()) - floor(random() * {days}) * interval '1 day'
                   + interval '7 hours' + random() * interval '11 hours' AS resolved
        FROM (SELECT random() AS u_prio, g AS per_row) y
    ) x
    """


def _requests(rate: float) -> str:
    return f"""
    INSERT INTO feedback_requests (id, ticket_id, connector_id, dedupe_key, token_hash,
                                   status, status_reason, channel, scale, locale, sent_at,
                                   expires_at, responded_at, created_at, updated_at)
    SELECT gen_random_uuid(), t.id, t.connector_id, t.id || ':' || d.k,
           md5(t.id::text || d.k) || md5(d.k || t.id::text),
           CASE WHEN d.u < {SUPPRESSED} THEN 'suppressed'
                WHEN d.u < {SUPPRESSED + FAILED} THEN 'failed'
                WHEN d.answered AND d.at + d.delay < now() THEN 'responded'
                WHEN d.at + interval '7 days' < now() THEN 'expired' ELSE 'sent' END,
           CASE WHEN d.u < {SUPPRESSED} THEN (ARRAY['fatigue', 'fatigue', 'sampling',
                                                   'opted out', 'no contact'])
                                                  [1 + floor(random() * 5)::int]
                WHEN d.u < {SUPPRESSED + FAILED} THEN (ARRAY['smtp 550 mailbox unavailable',
                                                            'smtp timeout'])
                                                           [1 + floor(random() * 2)::int] END,
           'email',
           CASE WHEN random() < 0.15 THEN 'faces-5' ELSE 'happiness-0-10' END,
           'en',
           CASE WHEN d.u >= {SUPPRESSED + FAILED} THEN d.at + interval '2 min' END,
           d.at + interval '7 days',
           CASE WHEN d.u >= {SUPPRESSED + FAILED} AND d.answered AND d.at + d.delay < now()
                THEN d.at + d.delay END,
           d.at, d.at
    FROM tickets t
    CROSS JOIN LATERAL (
        SELECT k,
               CASE WHEN k = 1 THEN t.resolved_at
                    ELSE t.resolved_at - (1 + floor(random() * 10)) * interval '1 day' END AS at,
               random() AS u,
               random() < {rate} AS answered,
               interval '5 min' + power(random(), 3) * interval '3 days' AS delay
        FROM generate_series(1, CASE WHEN abs(hashtext(t.id::text)) % 1000
                                          < {int(REOPENED * 1000)} THEN 2 ELSE 1 END) k
    ) d
    """


def _responses() -> str:
    comments = {
        "happy": ["Quick and friendly, thank you!", "Solved in minutes.", "Great help."],
        "neutral": ["Fine in the end.", "Took a while but it works.", "OK."],
        "unhappy": [
            "I had to explain everything twice.",
            "Closed without asking me, still broken.",
            "Nobody answered for three days.",
        ],
    }

    def texts(band: str) -> str:
        return "ARRAY[" + ", ".join(f"'{c}'" for c in comments[band]) + "]"

    return f"""
    INSERT INTO responses (id, request_id, ticket_id, score, scale, lost_time, lost_minutes,
                           comment, locale, automated, evidence, answered_at, created_at,
                           updated_at)
    SELECT gen_random_uuid(), fr.id, fr.ticket_id,
           CASE WHEN fr.scale = 'faces-5' THEN
                CASE s.band WHEN 'unhappy' THEN 1 + floor(random() * 2)::int
                            WHEN 'neutral' THEN 3 ELSE 4 + floor(random() * 2)::int END
           ELSE CASE s.band WHEN 'unhappy' THEN floor(random() * 7)::int
                            WHEN 'neutral' THEN 7 + floor(random() * 2)::int
                            ELSE 9 + floor(random() * 2)::int END END,
           fr.scale, l.key, l.minutes,
           CASE WHEN random() < CASE s.band WHEN 'happy' THEN 0.10 WHEN 'neutral' THEN 0.20
                                            ELSE 0.35 END
                THEN (CASE s.band WHEN 'happy' THEN {texts("happy")}
                                  WHEN 'neutral' THEN {texts("neutral")}
                                  ELSE {texts("unhappy")} END)[1 + floor(random() * 3)::int]
           END,
           'en', random() < 0.01, '{{}}', fr.responded_at, fr.responded_at, fr.responded_at
    FROM feedback_requests fr
    JOIN tickets t ON t.id = fr.ticket_id
    CROSS JOIN LATERAL (
        SELECT CASE WHEN u < 0.12 + {MOOD} + CASE WHEN {MELON} THEN 0.25 ELSE 0 END
                    THEN 'unhappy'
                    WHEN u < 0.32 + {MOOD} + CASE WHEN {MELON} THEN 0.25 ELSE 0 END
                    THEN 'neutral' ELSE 'happy' END AS band,
               random() < 0.3 AS blank
        FROM (SELECT random() AS u, fr.id AS per_row) r
    ) s
    CROSS JOIN LATERAL (
        SELECT floor(8 * power(random(), CASE s.band WHEN 'happy' THEN 5 WHEN 'neutral' THEN 2.5
                                                     ELSE 1.2 END))::int AS bucket,
               fr.id AS per_row
    ) b
    LEFT JOIN (VALUES (0, 'none', 0), (1, 'lt_15m', 10), (2, '15_30m', 25),
                      (3, '30_60m', 45), (4, '1_2h', 90), (5, '2_4h', 180),
                      (6, '4_8h', 360), (7, 'gt_1d', 720)) AS l (bucket, key, minutes)
           ON l.bucket = b.bucket AND NOT s.blank
    WHERE fr.status = 'responded'
    """


def _factors() -> str:
    happy = "r.score >= CASE r.scale WHEN 'faces-5' THEN 4 ELSE 9 END"
    unhappy = "r.score < CASE r.scale WHEN 'faces-5' THEN 3 ELSE 7 END"
    return f"""
    INSERT INTO response_factors (response_id, factor, polarity)
    SELECT DISTINCT r.id, f.factor, f.polarity
    FROM responses r
    CROSS JOIN LATERAL (
        SELECT (ARRAY['fast', 'friendly', 'first_contact', 'informed', 'learned', 'expert'])
                   [1 + floor(6 * power(random(), 1.6))::int] AS factor,
               'positive' AS polarity
        FROM generate_series(1, 2) n
        WHERE NOT ({unhappy}) AND random() < CASE WHEN {happy} THEN 0.75 ELSE 0.4 END / n
        UNION ALL
        SELECT (ARRAY['slow', 'not_solved', 'not_informed', 'repeat_explain', 'hard_to_reach',
                      'closed_unasked', 'unfriendly'])[1 + floor(7 * power(random(), 1.4))::int],
               'negative'
        FROM generate_series(1, 3) n
        WHERE NOT ({happy}) AND random() < CASE WHEN {unhappy} THEN 0.85 ELSE 0.4 END / n
    ) f
    """
