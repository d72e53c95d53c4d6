"""Failed sign-ins per client address: after `limit` failures in a minute the address is locked
out until the oldest of them is a minute old, whatever it sends (a right key included).

Counted in this process, like the feedback limiter: N replicas allow up to N times the limit,
which still turns a brute force of millions of guesses into a handful a minute
(docs/operations.md). Only failures are kept, so a busy honest client costs nothing."""

from __future__ import annotations

import logging
import math
import time
from collections import deque

from fastapi import Request

from app.errors import RateLimited

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 100_000  # beyond this, addresses whose failures are all stale are forgotten
security_log = logging.getLogger("xpulse.security")


class FailureThrottle:
    def __init__(self, *, window_seconds: float = WINDOW_SECONDS) -> None:
        self.window = window_seconds
        self.failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str, limit: int, *, at: float | None = None) -> int | None:
        """Seconds until `address` may try again, or None when it is not locked out."""
        hits = self.failures.get(address)
        if limit <= 0 or not hits:
            return None
        now = time.monotonic() if at is None else at
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < limit:
            return None
        return max(1, math.ceil(hits[-limit] + self.window - now))

    def fail(self, address: str, *, at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        if address not in self.failures and len(self.failures) >= MAX_ADDRESSES:
            self._prune(now)
        self.failures.setdefault(address, deque()).append(now)

    def _prune(self, now: float) -> None:
        for address in [a for a, h in self.failures.items() if not h or h[-1] <= now - self.window]:
            del self.failures[address]
        if len(self.failures) >= MAX_ADDRESSES:  # still full: forget the oldest half
            for address in list(self.failures)[: MAX_ADDRESSES // 2]:
                del self.failures[address]


def client_address(request: Request) -> str:
    """uvicorn already took it from X-Forwarded-For when the peer is a trusted proxy."""
    return request.client.host if request.client else "unknown"


def _throttle(request: Request) -> FailureThrottle:
    throttle = getattr(request.app.state, "auth_throttle", None)
    if throttle is None:
        throttle = request.app.state.auth_throttle = FailureThrottle()
    return throttle


def _limit(request: Request) -> int:
    return request.app.state.settings.auth.max_failures_per_minute


def locked_out(request: Request) -> int | None:
    """Retry-After seconds when this client is locked out (the attempt is logged), else None."""
    address = client_address(request)
    wait = _throttle(request).retry_after(address, _limit(request))
    if wait is not None:
        security_log.warning(
            "sign-in attempt refused: too many failures from this address",
            extra={"event": "auth_throttled", "client_address": address, "path": request.url.path},
        )
    return wait


def check(request: Request) -> None:
    """Raise 429 problem+json with Retry-After when this client is locked out."""
    if (wait := locked_out(request)) is not None:
        raise RateLimited(
            f"Too many failed sign-ins from this address; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def record_failure(request: Request) -> None:
    """Count a failed key or login and log it as a security event (never the value tried)."""
    address = client_address(request)
    _throttle(request).fail(address)
    security_log.warning(
        "sign-in failed",
        extra={"event": "auth_failed", "client_address": address, "path": request.url.path},
    )
