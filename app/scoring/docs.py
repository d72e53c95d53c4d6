"""Short quotes of docs/scoring.md, placed in each endpoint's OpenAPI description."""

from __future__ import annotations

DOC = "docs/scoring.md"

DEFINITIONS: dict[str, str] = {
    "sent": "**requests sent**: feedback requests delivered in scope (suppressed and failed "
    "ones are counted separately, by reason).",
    "rate": "**response rate** = responses ÷ requests sent, for requests whose ticket falls "
    "in scope.",
    "happiness": "**happiness** (0–10 responses only) = (n_happy − n_unhappy) ÷ N × 100, from "
    "−100 to +100, rounded to one decimal. Its 95% margin is "
    "1.96 × √((p + q − (p − q)²) ÷ N) × 100; a value from fewer than 10 responses is flagged "
    "`low_sample`. Bands: happy 9–10, neutral 7–8, unhappy 0–6.",
    "csat": "**CSAT %** (1–5 responses only) = responses scoring 4–5 ÷ N × 100.",
    "mean": "**mean normalised score**: the mean of normalised scores "
    "((score − min) ÷ (max − min) × 100) over all responses in scope, whatever their scale.",
    "lost": "**lost time**: mean and median minutes over responses that answered it, total "
    "hours, and cost = total hours × `XPULSE_HOURLY_COST`.",
    "factor": "**factor share**: for each factor, the responses that picked it ÷ responses "
    "that picked any factor of the same polarity.",
    "sla": "**SLA attainment** = tickets with SLA met ÷ tickets whose SLA outcome is known.",
    "empty": "Empty scope: counts are 0 and every ratio is `null`, never 0. Automated "
    "(scanner) clicks are never counted.",
    "time": "A response belongs to the period of its ticket's **resolution time**, computed in "
    "the time zone `tz` (IANA name, default UTC). Weeks start on Monday (ISO weeks).",
    "xla": "**XLA status**: **met** when every target is met; **at_risk** when a target is "
    "missed by no more than its margin (5 happiness points, 10% of the lost-time target, "
    "2 points of response rate) or the period has fewer than 10 responses; **breached** "
    "otherwise. (XPulse reads the fewer-than-10 rule as overriding: such a period is "
    "`at_risk` even if its figures meet the targets.)",
    "watermelon": "A **watermelon group** (service or assignment group) has SLA attainment ≥ "
    "`sla_min` (default 0.9) while happiness ≤ `happiness_max` (default 30) over at least "
    "`min_responses` (default 10) responses. A **watermelon ticket** met its SLA and got an "
    "unhappy score.",
    "export": "One row per counted response (automated clicks excluded) with its ticket; "
    "filtered like `/scores` (a response belongs to its ticket's resolution day in `tz`). "
    "`band` and `normalised_score` follow the scales of docs/scoring.md.",
}


def described(*keys: str) -> str:
    """Markdown for an endpoint: the definitions it reports, quoted from docs/scoring.md."""
    lines = [f"> {DEFINITIONS[k]}" for k in keys]
    return f"Definitions from `{DOC}`:\n\n" + "\n>\n".join(lines)
