"""Alert rules: stored rows, and the evaluation pass that matches new and changed answers
against them and queues each action as its own job (docs/actions.md).

The pass runs on a tick, never on the answer request (the feedback click is a hot path). It
reads responses by (updated_at, id) after a stored watermark whose row it locks with SKIP LOCKED,
so one replica evaluates at a time; an `alert_firings` row per (rule, answer, version) makes a
retried or repeated pass act once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, column, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from app.actions import alert_actions, rules
from app.actions.models import (
    XLA_CONDITIONS,
    AlertFiring,
    AlertRule,
    Followup,
    FollowupStatus,
    Watermark,
)
from app.actions.schemas import RuleCreate, RuleFields, RuleUpdate
from app.config import Settings
from app.db import insert_ignore
from app.errors import NotFound, Unprocessable
from app.feedback.models import Response, ResponseFactor
from app.pagination import paginate
from app.scoring.models import XlaTarget
from app.tickets.models import Ticket

RESPONSES = "responses"  # the watermark of the answer pass


class RuleNotFound(NotFound):
    type, title = "alert-rule-not-found", "Alert rule not found"


async def _check_refs(session: AsyncSession, rule: RuleFields) -> None:
    """A named connector or XLA must exist: 404, not a foreign-key failure."""
    if (
        rule.connector_id
        and await session.scalar(
            # connectors lies to the right of actions (work goes to it as jobs): named, not imported
            select(column("id"))
            .select_from(table("connectors"))
            .where(column("id") == rule.connector_id)
        )
        is None
    ):
        raise NotFound(f"No connector {rule.connector_id}")
    if rule.xla_id and await session.get(XlaTarget, rule.xla_id) is None:
        raise NotFound(f"No XLA target {rule.xla_id}")


async def create(session: AsyncSession, data: RuleCreate) -> AlertRule:
    await _check_refs(session, data)
    rule = AlertRule(**data.model_dump(mode="json", exclude={"connector_id", "xla_id"}))
    rule.connector_id, rule.xla_id = data.connector_id, data.xla_id
    session.add(rule)
    await session.flush()
    return rule


async def get(session: AsyncSession, rule_id: uuid.UUID) -> AlertRule:
    rule = await session.get(AlertRule, rule_id)
    if rule is None:
        raise RuleNotFound(f"No alert rule {rule_id}")
    return rule


async def update(session: AsyncSession, rule_id: uuid.UUID, data: RuleUpdate) -> AlertRule:
    rule = await get(session, rule_id)
    merged = {**_fields(rule), **data.model_dump(exclude_unset=True)}
    try:
        valid = RuleFields.model_validate(merged)
    except ValueError as exc:
        raise Unprocessable(str(exc).splitlines()[-1].strip()) from exc
    await _check_refs(session, valid)
    values = valid.model_dump(mode="json")
    values["connector_id"], values["xla_id"] = valid.connector_id, valid.xla_id
    for name, value in values.items():
        setattr(rule, name, value)
    await session.flush()
    return rule


async def delete(session: AsyncSession, rule_id: uuid.UUID) -> None:
    await session.delete(await get(session, rule_id))
    await session.flush()


async def reencrypt_chat_urls(session: AsyncSession) -> int:
    """Write every rule's chat webhook URLs again, encrypted under the first key of
    XPULSE_ENCRYPTION_KEYS (`xpulse secrets rotate`); the number of rules that have any."""
    rules = [r for r in (await session.scalars(select(AlertRule))).all() if r.actions.get("chat")]
    for rule in rules:
        flag_modified(rule, "actions")  # loading decrypted them with any key
    await session.flush()
    return len(rules)


async def page(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> tuple[list[AlertRule], str | None]:
    return await paginate(
        session,
        select(AlertRule),
        time_col=AlertRule.created_at,
        id_col=AlertRule.id,
        cursor=cursor,
        limit=limit,
    )


def _fields(rule: AlertRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RuleFields.model_fields}


async def lock_watermark(session: AsyncSession, name: str) -> Watermark | None:
    """The watermark row, locked for this transaction; None while another replica holds it."""
    stmt = (
        select(Watermark)
        .where(Watermark.name == name)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    found = (await session.scalars(stmt)).one_or_none()
    if found is not None:
        return found
    # Missing, or held: insert only then, as an insert that conflicts with an uncommitted row
    # waits for it, while one that meets a committed row does nothing at once.
    if await insert_ignore(session, Watermark, name=name) is None:
        return None
    return (await session.scalars(stmt)).one_or_none()


async def evaluate_answers(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """One pass: the answers changed since the watermark (and settled), matched and acted on;
    the number read. The caller commits."""
    mark = await lock_watermark(session, RESPONSES)
    if mark is None:
        return 0
    cfg = settings.actions
    cutoff = now - timedelta(seconds=cfg.settle_seconds)
    stmt = (
        select(Response, Ticket)
        .join(Ticket, Ticket.id == Response.ticket_id)
        .where(
            Response.updated_at <= cutoff,
            Response.updated_at >= now - timedelta(hours=cfg.max_age_hours),
        )
        .order_by(Response.updated_at, Response.id)
        .limit(cfg.batch_size)
    )
    if mark.updated_at is not None:
        after = Response.updated_at > mark.updated_at
        if mark.last_id is not None:
            same = and_(Response.updated_at == mark.updated_at, Response.id > mark.last_id)
            after = or_(after, same)
        stmt = stmt.where(after)
    rows = (await session.execute(stmt)).all()
    if not rows:
        return 0
    active = await _answer_rules(session)
    factors = await _factors(session, [resp.id for resp, _ in rows]) if active else {}
    for response, ticket in rows:
        if response.automated or not active:
            continue  # a scanner's click is never counted, so never alerts
        answer = _answer(response, ticket, factors.get(response.id, ()))
        for rule in active:
            if rules.matches(rule, answer):
                await _fire(session, rule, answer, response, ticket, settings, now)
    last = rows[-1][0]
    mark.updated_at, mark.last_id, mark.checked_at = last.updated_at, last.id, now
    return len(rows)


async def _answer_rules(session: AsyncSession) -> list[AlertRule]:
    stmt = select(AlertRule).where(
        AlertRule.enabled.is_(True), AlertRule.condition.not_in(list(XLA_CONDITIONS))
    )
    return list((await session.scalars(stmt)).all())


async def _factors(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
    found: dict[uuid.UUID, list[str]] = {}
    stmt = select(ResponseFactor.response_id, ResponseFactor.factor).where(
        ResponseFactor.response_id.in_(ids)
    )
    for response_id, factor in await session.execute(stmt):
        found.setdefault(response_id, []).append(factor)
    return {k: tuple(sorted(v)) for k, v in found.items()}


def _answer(response: Response, ticket: Ticket, factors: tuple[str, ...]) -> rules.Answer:
    return rules.Answer(
        response_id=response.id,
        updated_at=response.updated_at,
        ticket_id=ticket.id,
        connector_id=ticket.connector_id,
        service=ticket.service,
        assignment_group=ticket.assignment_group,
        score=response.score,
        scale=response.scale,
        lost_minutes=response.lost_minutes,
        factors=factors,
    )


async def _fire(
    session: AsyncSession,
    rule: AlertRule,
    answer: rules.Answer,
    response: Response,
    ticket: Ticket,
    settings: Settings,
    now: datetime,
) -> None:
    key = f"alert:{rule.id}:{answer.response_id}:{rules.version(answer.updated_at)}"
    fired = await insert_ignore(
        session,
        AlertFiring,
        rule_id=rule.id,
        dedupe_key=key,
        response_id=response.id,
        fired_at=now,
    )
    if fired is None:
        return  # this rule already acted on this version of the answer
    if answer.unhappy:  # one follow-up per answer, whichever rule matched first
        await insert_ignore(
            session,
            Followup,
            response_id=response.id,
            ticket_id=ticket.id,
            rule_id=rule.id,
            status=FollowupStatus.open,
            opened_at=now,
            created_at=now,
            updated_at=now,
        )
    await alert_actions.enqueue_for_answer(
        session,
        rule,
        key=key,
        firing_id=fired,
        answer=answer,
        response=response,
        ticket=ticket,
        settings=settings,
        now=now,
    )
