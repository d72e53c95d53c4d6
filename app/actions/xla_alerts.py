"""XLA alert rules: each minute one replica judges the watched XLAs' current periods and fires
a rule once per (XLA, period, status) that it matches."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import alert_actions, rules
from app.actions.alerts import lock_watermark
from app.actions.chat import Alert
from app.actions.models import XLA_CONDITIONS, AlertFiring, AlertRule
from app.config import Settings
from app.db import insert_ignore
from app.scoring import formulas, xla
from app.scoring.models import XlaScope, XlaTarget
from app.scoring.privacy import from_settings

XLAS = "xlas"
EVERY = timedelta(seconds=55)  # about once a minute, whichever replica ticks first


def _in_scope(rule: AlertRule, target: XlaTarget) -> bool:
    if rule.xla_id is not None:
        return rule.xla_id == target.id
    service = target.scope_value if target.scope == XlaScope.service else None
    group = target.scope_value if target.scope == XlaScope.group else None
    return (rule.service is None or rule.service == service) and (
        rule.assignment_group is None or rule.assignment_group == group
    )


async def check(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Fire the XLA rules that match; the number of firings. The caller commits."""
    mark = await lock_watermark(session, XLAS)
    if mark is None or (mark.checked_at and now - mark.checked_at < EVERY):
        return 0
    mark.checked_at = now
    stmt = select(AlertRule).where(
        AlertRule.enabled.is_(True), AlertRule.condition.in_(list(XLA_CONDITIONS))
    )
    watching = list((await session.scalars(stmt)).all())
    if not watching:
        return 0
    privacy = from_settings(settings)
    fired = 0
    for target in (await session.scalars(select(XlaTarget))).all():
        interested = [r for r in watching if _in_scope(r, target)]
        if not interested:
            continue
        status = await xla.status(
            session, target, at=now.date(), tz="UTC", hourly_cost=settings.hourly_cost
        )
        responses = status.figures.responses
        # Under ten responses a period is at risk by rule alone (docs/scoring.md): no alert on
        # that, nor on a group too small to be shown.
        if responses < formulas.LOW_SAMPLE:
            continue
        if target.scope != XlaScope.all and responses < privacy.min_responses:
            continue
        for rule in interested:
            if not rules.xla_matches(rule, status.status):
                continue
            key = f"xla:{rule.id}:{target.id}:{status.period_start}:{status.status}"
            firing = await insert_ignore(
                session,
                AlertFiring,
                rule_id=rule.id,
                dedupe_key=key,
                xla_id=target.id,
                fired_at=now,
            )
            if firing is None:
                continue
            alert = Alert(
                title=f"XPulse: XLA {target.name} is {status.status.replace('_', ' ')}",
                facts=[
                    ("Period", f"{status.period_start} – {status.period_end}"),
                    *(
                        (t.name, f"{t.actual} (target {t.target}): {t.status}")
                        for t in status.targets
                    ),
                    ("Rule", rule.name),
                ],
                link=f"{settings.public_url}/dashboard",
                link_label="Open the dashboard",
            )
            await alert_actions.enqueue_common(
                session, rule, key=key, firing_id=firing, alert=alert, now=now
            )
            fired += 1
    return fired
