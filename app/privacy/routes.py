"""/api/v1/privacy: erase or export one person's data (admin key); both are audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

import app.privacy.jobs  # noqa: F401  (registers the retention job with the app's routes)
from app.audit import service as audit
from app.auth.deps import AdminKey
from app.clock import utcnow
from app.db import SessionDep
from app.feedback import optout_keys
from app.feedback.service import email_key
from app.privacy import erasure
from app.privacy import export as exports
from app.privacy.schemas import EMAIL, ErasureRequest, ErasureResult, Export
from app.privacy.subject import normalise

router = APIRouter(prefix="/privacy", tags=["privacy"])


@router.post("/erasure", response_model=ErasureResult)
async def erase(
    data: ErasureRequest, request: Request, session: SessionDep, key: AdminKey
) -> ErasureResult:
    """Erase one person's identity, comments and the stored payloads naming them; figures stay."""
    secret = request.app.state.settings.secret_key.get_secret_value()
    now = utcnow()
    subject, changed = await erasure.erase(session, email=data.email, secret=secret, now=now)
    # The audit row names the person by the keyed hash only: the log keeps no address.
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action="privacy.erasure",
        target=f"subject:{subject}",
        detail={"changed": changed},
        now=now,
    )
    return ErasureResult(subject=subject, changed=changed)


@router.get("/export", response_model=Export)
async def export(
    request: Request,
    session: SessionDep,
    key: AdminKey,
    email: Annotated[str, Query(min_length=3, max_length=320, pattern=EMAIL)],
) -> Export:
    """Everything held about one person, as JSON (a subject access request)."""
    now = utcnow()
    result = await exports.export(session, email=email, now=now)
    secret = request.app.state.settings.secret_key.get_secret_value()
    subject = optout_keys.hashed_key(email_key(normalise(email)), secret)
    counts = {
        name: len(getattr(result, name))
        for name in ("tickets", "feedback_requests", "responses", "inbound_events", "jobs")
    }
    await audit.record(
        session,
        actor=audit.actor_of_key(key),
        action="privacy.export",
        target=f"subject:{subject}",
        detail={"rows": counts},
        now=now,
    )
    return result
