"""An in-process sliding-window limiter for the public feedback endpoints.

Each replica counts on its own, so N replicas allow up to N times the limit; that is enough to
stop one client hammering a token, and needs no shared store (docs/feedback.md)."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    def __init__(self, *, window_seconds: float = 60.0, max_keys: int = 100_000) -> None:
        self.window = window_seconds
        self.max_keys = max_keys
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int, *, at: float | None = None) -> bool:
        """Count a hit for `key`; False when it already had `limit` hits in the window."""
        if limit <= 0:
            return True
        now = time.monotonic() if at is None else at
        hits = self.hits.get(key)
        if hits is None:
            if len(self.hits) >= self.max_keys:
                self._prune(now)
            hits = self.hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def _prune(self, now: float) -> None:
        stale = [k for k, h in self.hits.items() if not h or h[-1] <= now - self.window]
        for key in stale:
            del self.hits[key]
        if len(self.hits) >= self.max_keys:  # still full: forget the oldest half
            for key in list(self.hits)[: self.max_keys // 2]:
                del self.hits[key]
