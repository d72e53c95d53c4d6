"""Does a rule match an answer? Pure: data in, a yes or no out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.actions.models import XLA_CONDITIONS, AlertRule, Condition
from app.feedback.scales import SCALES, Band


@dataclass(frozen=True)
class Answer:
    """A counted response with what a rule's scope and condition read of its ticket."""

    response_id: uuid.UUID
    updated_at: datetime
    ticket_id: uuid.UUID
    connector_id: uuid.UUID
    service: str | None
    assignment_group: str | None
    score: int
    scale: str
    lost_minutes: int | None
    factors: tuple[str, ...]

    @property
    def band(self) -> Band:
        return SCALES[self.scale].band(self.score)

    @property
    def unhappy(self) -> bool:
        return self.band == Band.unhappy


def in_scope(
    rule: AlertRule,
    *,
    connector_id: uuid.UUID | None,
    service: str | None,
    assignment_group: str | None,
) -> bool:
    return (
        (rule.connector_id is None or rule.connector_id == connector_id)
        and (rule.service is None or rule.service == service)
        and (rule.assignment_group is None or rule.assignment_group == assignment_group)
    )


def matches(rule: AlertRule, answer: Answer) -> bool:
    if not rule.enabled or rule.condition in XLA_CONDITIONS:
        return False
    if not in_scope(
        rule,
        connector_id=answer.connector_id,
        service=answer.service,
        assignment_group=answer.assignment_group,
    ):
        return False
    condition = Condition(rule.condition)
    if condition == Condition.unhappy:
        return answer.unhappy
    if condition == Condition.score_at_most:
        return rule.threshold is not None and answer.score <= rule.threshold
    if condition == Condition.lost_minutes_at_least:
        return (
            rule.threshold is not None
            and answer.lost_minutes is not None
            and answer.lost_minutes >= rule.threshold
        )
    if condition == Condition.factor:
        return rule.factor in answer.factors
    return False


def xla_matches(rule: AlertRule, status: str) -> bool:
    """xla_at_risk fires on at_risk or worse; xla_breached on breached only."""
    if not rule.enabled:
        return False
    if rule.condition == Condition.xla_at_risk:
        return status in ("at_risk", "breached")
    if rule.condition == Condition.xla_breached:
        return status == "breached"
    return False


def version(updated_at: datetime) -> str:
    """An answer version for dedupe keys: its updated_at in microseconds."""
    return str(int(updated_at.timestamp() * 1_000_000))
