"""Job handlers by name, each with the Pydantic payload it accepts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings

P = TypeVar("P", bound=BaseModel)


@dataclass
class JobContext:
    """What a handler gets: the session (committed by the worker when it returns), the shared
    httpx client, settings, the clock reading, and the job's attempt number."""

    session: AsyncSession
    http: httpx.AsyncClient
    settings: Settings
    now: datetime
    attempt: int
    job_id: int


class TransientError(Exception):
    """Retry later (timeouts, 408, 429, 5xx); `retry_after` in seconds overrides backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help (4xx other than 408/429): the job goes dead at once."""


Handler = Callable[[JobContext, Any], Awaitable[None]]


@dataclass(frozen=True)
class Registered:
    name: str
    payload: type[BaseModel]
    func: Handler
    max_attempts: int | None


HANDLERS: dict[str, Registered] = {}


def handler(
    name: str, *, payload: type[P], max_attempts: int | None = None
) -> Callable[
    [Callable[[JobContext, P], Awaitable[None]]], Callable[[JobContext, P], Awaitable[None]]
]:
    """Register `func` as the handler of job `name`."""

    def register(
        func: Callable[[JobContext, P], Awaitable[None]],
    ) -> Callable[[JobContext, P], Awaitable[None]]:
        if name in HANDLERS and HANDLERS[name].func is not func:
            raise ValueError(f"job handler {name!r} registered twice")
        HANDLERS[name] = Registered(name, payload, func, max_attempts)
        return func

    return register


Periodic = Callable[[AsyncSession, Settings, datetime], Awaitable[None]]
PERIODIC: dict[str, Periodic] = {}


def periodic(name: str) -> Callable[[Periodic], Periodic]:
    """Register a "find due rows and enqueue" task; every replica runs it each minute, so it
    must enqueue with dedupe keys (e.g. `reminder:{request_id}`) and do no slow work itself."""

    def register(func: Periodic) -> Periodic:
        PERIODIC[name] = func
        return func

    return register


# A task the ticker runs on its own interval (seconds, from the settings), faster than the
# periodic minute: it opens its own transactions, and must be safe on every replica at once.
Tick = Callable[[async_sessionmaker[AsyncSession], Settings], Awaitable[Any]]
TICKS: dict[str, tuple[Callable[[Settings], float], Tick]] = {}


def ticking(name: str, *, every: Callable[[Settings], float]) -> Callable[[Tick], Tick]:
    def register(func: Tick) -> Tick:
        TICKS[name] = (every, func)
        return func

    return register


@dataclass(frozen=True)
class LaneInfo:
    """What the domain that owns a lane says about it: a name for /metrics, and the pace its
    outside system accepts (None: no pacing)."""

    name: str
    requests_per_second: float | None


# Given lane keys (or None: every lane of the kind), their info; a missing key has none.
DescribeLanes = Callable[[AsyncSession, list[str] | None], Awaitable[dict[str, LaneInfo]]]
LANE_KINDS: dict[str, DescribeLanes] = {}


def lane_kind(prefix: str) -> Callable[[DescribeLanes], DescribeLanes]:
    """Register how the lanes named `<prefix>:<key>` are named and paced; the queue stays
    ignorant of what a lane stands for."""

    def register(func: DescribeLanes) -> DescribeLanes:
        LANE_KINDS[prefix] = func
        return func

    return register
