"""/api/v1 alert rules, follow-ups and digests (docs/actions.md)."""

from __future__ import annotations

import uuid
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, status

from app.actions import alerts, digests, followups
from app.actions.jobs import enqueue_send
from app.actions.models import FollowupStatus
from app.actions.schemas import (
    DigestCreate,
    DigestQueued,
    DigestRead,
    FollowupNote,
    FollowupRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
)
from app.auth.deps import AdminKey, ReadKey
from app.clock import utcnow
from app.db import SessionDep
from app.pagination import Page

router = APIRouter()
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=100)]
CONFLICT = {409: {"description": "The follow-up is past this step (open → acknowledged → closed)"}}


# --- alert rules ------------------------------------------------------------------------------


@router.get("/alert-rules", response_model=Page[RuleRead], tags=["alerts"])
async def list_rules(
    session: SessionDep, _: ReadKey, cursor: Cursor = None, limit: Limit = 50
) -> Page[RuleRead]:
    """List alert rules, newest first."""
    rows, next_cursor = await alerts.page(session, cursor=cursor, limit=limit)
    return Page[RuleRead](items=[RuleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/alert-rules", response_model=RuleRead, status_code=status.HTTP_201_CREATED, tags=["alerts"]
)
async def create_rule(body: RuleCreate, session: SessionDep, _: AdminKey) -> RuleRead:
    """Create an alert rule: a scope, a condition on an answer or an XLA, and actions."""
    return RuleRead.model_validate(await alerts.create(session, body))


@router.get("/alert-rules/{rule_id}", response_model=RuleRead, tags=["alerts"])
async def get_rule(rule_id: uuid.UUID, session: SessionDep, _: ReadKey) -> RuleRead:
    """Get an alert rule."""
    return RuleRead.model_validate(await alerts.get(session, rule_id))


@router.patch("/alert-rules/{rule_id}", response_model=RuleRead, tags=["alerts"])
async def update_rule(
    rule_id: uuid.UUID, body: RuleUpdate, session: SessionDep, _: AdminKey
) -> RuleRead:
    """Change an alert rule (the fields given)."""
    return RuleRead.model_validate(await alerts.update(session, rule_id, body))


@router.delete("/alert-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["alerts"])
async def delete_rule(rule_id: uuid.UUID, session: SessionDep, _: AdminKey) -> None:
    """Delete an alert rule; its follow-ups stay."""
    await alerts.delete(session, rule_id)


# --- follow-ups -------------------------------------------------------------------------------


@router.get("/followups", response_model=Page[FollowupRead], tags=["followups"])
async def list_followups(
    session: SessionDep,
    _: ReadKey,
    status_: Annotated[FollowupStatus | None, Query(alias="status")] = None,
    service: str | None = None,
    assignment_group: str | None = None,
    connector_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[FollowupRead]:
    """List follow-ups of unhappy answers, newest first."""
    items, next_cursor = await followups.page(
        session,
        status=status_,
        service=service,
        assignment_group=assignment_group,
        connector_id=connector_id,
        cursor=cursor,
        limit=limit,
    )
    return Page[FollowupRead](items=items, next_cursor=next_cursor)


@router.get("/followups/{followup_id}", response_model=FollowupRead, tags=["followups"])
async def get_followup(followup_id: uuid.UUID, session: SessionDep, _: ReadKey) -> FollowupRead:
    """Get a follow-up."""
    return await followups.get(session, followup_id)


@router.post(
    "/followups/{followup_id}/acknowledge",
    response_model=FollowupRead,
    responses=CONFLICT,
    tags=["followups"],
)
async def acknowledge_followup(
    followup_id: uuid.UUID, body: FollowupNote, session: SessionDep, _: AdminKey
) -> FollowupRead:
    """Acknowledge an open follow-up, with a note."""
    return await followups.step(
        session, followup_id, action="acknowledge", note=body.note, now=utcnow()
    )


@router.post(
    "/followups/{followup_id}/close",
    response_model=FollowupRead,
    responses=CONFLICT,
    tags=["followups"],
)
async def close_followup(
    followup_id: uuid.UUID, body: FollowupNote, session: SessionDep, _: AdminKey
) -> FollowupRead:
    """Close an open or acknowledged follow-up, with a note."""
    return await followups.step(session, followup_id, action="close", note=body.note, now=utcnow())


# --- digests ----------------------------------------------------------------------------------


@router.get("/digests", response_model=Page[DigestRead], tags=["digests"])
async def list_digests(
    session: SessionDep, _: ReadKey, cursor: Cursor = None, limit: Limit = 50
) -> Page[DigestRead]:
    """List digest subscriptions, newest first."""
    rows, next_cursor = await digests.page(session, cursor=cursor, limit=limit)
    return Page[DigestRead](
        items=[await digests.read(session, r) for r in rows], next_cursor=next_cursor
    )


@router.post(
    "/digests", response_model=DigestRead, status_code=status.HTTP_201_CREATED, tags=["digests"]
)
async def create_digest(body: DigestCreate, session: SessionDep, _: AdminKey) -> DigestRead:
    """Subscribe recipients to a weekly or monthly digest of one group, one service or all."""
    return await digests.read(session, await digests.create(session, body))


@router.get("/digests/{digest_id}", response_model=DigestRead, tags=["digests"])
async def get_digest(digest_id: uuid.UUID, session: SessionDep, _: ReadKey) -> DigestRead:
    """Get a digest subscription."""
    return await digests.read(session, await digests.get(session, digest_id))


@router.delete("/digests/{digest_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["digests"])
async def delete_digest(digest_id: uuid.UUID, session: SessionDep, _: AdminKey) -> None:
    """Delete a digest subscription."""
    await digests.delete(session, digest_id)


@router.post(
    "/digests/{digest_id}/send",
    response_model=DigestQueued,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["digests"],
)
async def send_digest(digest_id: uuid.UUID, session: SessionDep, _: AdminKey) -> DigestQueued:
    """Send the digest of the last complete period now, as a preview (queued at once)."""
    digest = await digests.get(session, digest_id)
    now = utcnow()
    start, end = digests.last_period(digest.frequency, now.astimezone(ZoneInfo(digest.tz)).date())
    job_id = await enqueue_send(session, digest.id, start, end, now=now, preview=True)
    return DigestQueued(digest_id=digest.id, period_start=start, period_end=end, job_id=job_id)
