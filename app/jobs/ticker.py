"""APScheduler only ticks: the worker every few seconds, periodic enqueuers every minute, and
registered ticks (e.g. the scoring drain) on their own intervals."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import utcnow
from app.config import Settings
from app.jobs.registry import PERIODIC, TICKS, Tick
from app.jobs.worker import Worker

log = logging.getLogger("xpulse.ticker")


async def run_periodic(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run every registered periodic task once, each in its own transaction."""
    for name, task in PERIODIC.items():
        try:
            async with sessionmaker() as session:
                await task(session, settings, utcnow())
                await session.commit()
        except Exception:
            log.exception("periodic task failed", extra={"task": name})


async def run_tick(
    name: str, tick: Tick, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    try:
        await tick(sessionmaker, settings)
    except Exception:
        log.exception("tick failed", extra={"task": name})


def start_ticker(
    worker: Worker, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIOScheduler:
    # In-memory job store only: each replica ticks on its own; the jobs table coordinates them.
    scheduler = AsyncIOScheduler(job_defaults={"max_instances": 1, "coalesce": True})
    scheduler.add_job(worker.drain, "interval", seconds=settings.jobs.tick_seconds, id="worker")
    scheduler.add_job(
        run_periodic,
        "interval",
        seconds=settings.jobs.periodic_seconds,
        args=[sessionmaker, settings],
        id="periodic",
    )
    for name, (every, tick) in TICKS.items():
        scheduler.add_job(
            run_tick,
            "interval",
            seconds=every(settings),
            args=[name, tick, sessionmaker, settings],
            id=name,
        )
    scheduler.start()
    return scheduler
