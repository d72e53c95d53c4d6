"""The dashboard's session cookie: sign in (a row and a cookie), find the signed-in person,
sign out. The cookie carries only the session's random value, never a key (docs/sign-in.md)."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth import sessions
from app.auth.models import DashboardSession
from app.clock import utcnow
from app.config import Settings

COOKIE = "xpulse_dashboard"
COOKIE_PATH = "/dashboard"


def lifetime(settings: Settings) -> sessions.Lifetime:
    return sessions.Lifetime.from_settings(settings.auth)


def secure(settings: Settings) -> bool:
    """Secure cookies when people reach XPulse over https (behind a TLS proxy the request
    itself may be plain http)."""
    return settings.public_url.lower().startswith("https://")


async def current(session: AsyncSession, request: Request) -> DashboardSession | None:
    """The live session of this browser, or None (no cookie, unknown, revoked or expired)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    settings = request.app.state.settings
    return await sessions.find(session, token, lifetime=lifetime(settings), now=utcnow())


async def sign_in(
    session: AsyncSession, request: Request, response: Response, person: sessions.Person
) -> DashboardSession:
    """Create the session, record the sign-in and set the cookie on `response`."""
    settings: Settings = request.app.state.settings
    now = utcnow()
    row, token = await sessions.create(session, person, lifetime=lifetime(settings), now=now)
    await audit.record(
        session,
        actor=person.actor,
        action="session.sign_in",
        target=str(row.id),
        detail={"method": str(person.method), "role": str(person.role)},
        now=now,
    )
    # Strict: no other site can make the browser send it. The OpenID Connect callback, which
    # arrives from the provider's site, therefore continues through a same-site page
    # (oidc_routes.py) before the dashboard reads this cookie.
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure(settings),
        path=COOKIE_PATH,
        max_age=int(settings.auth.session_max_hours * 3600),
    )
    return row


async def sign_out(session: AsyncSession, request: Request, response: Response) -> None:
    """Revoke this browser's session (if any) and clear its cookie."""
    row = await current(session, request)
    if row is not None:
        now = utcnow()
        await sessions.revoke(session, row.id, now=now)
        await audit.record(
            session, actor=row.actor, action="session.sign_out", target=str(row.id), now=now
        )
    settings: Settings = request.app.state.settings
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure(settings)
    )
