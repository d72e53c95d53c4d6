"""Setup checks an admin runs on demand (POST /api/v1/connectors/{id}/check): do the
credentials work, and do the configured states and score fields exist in the ITSM?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.jobs.registry import PermanentError, TransientError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


class CheckFailed(Exception):
    """What a probe found wrong, in words for the admin."""


async def run(name: str, probe: Callable[[], Awaitable[str]]) -> Check:
    """One probe: its detail when it passes; a refused, failed or unreachable call fails it."""
    try:
        return Check(name, True, await probe())
    except (CheckFailed, PermanentError, TransientError) as exc:
        return Check(name, False, str(exc))
