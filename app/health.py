"""/healthz (the process is up), /readyz (database reachable, schema at head), /metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from pydantic import BaseModel
from sqlalchemy import func, select, text

from app.clock import utcnow
from app.errors import RETRY_AFTER_SECONDS
from app.jobs import lanes
from app.jobs.models import Job, JobStatus, LaneState

router = APIRouter(tags=["health"])
# Its own router so create_app can put a read key in front of it (XPULSE_METRICS_PUBLIC).
metrics_router = APIRouter(tags=["health"])
log = logging.getLogger("xpulse.health")
JOBS = Gauge("xpulse_jobs", "Jobs in the queue by state", ["status"])
OUTBOUND = {
    "failing": Gauge(
        "xpulse_connector_outbound_failing",
        "1 while the connector's ITSM keeps failing (its jobs wait for a probe), else 0",
        ["connector"],
    ),
    "failing_seconds": Gauge(
        "xpulse_connector_outbound_failing_seconds",
        "How long the connector's ITSM has been failing (0 when ok)",
        ["connector"],
    ),
    "jobs_waiting": Gauge(
        "xpulse_connector_outbound_jobs_waiting",
        "Outbound jobs of the connector pending or running",
        ["connector"],
    ),
    "dead_jobs": Gauge(
        "xpulse_connector_outbound_dead_jobs",
        "Outbound jobs of the connector that are dead (refused or out of retry budget)",
        ["connector"],
    ),
}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


class Readiness(BaseModel):
    status: str  # "ok" or "unavailable"
    database: str  # "ok" or "unreachable: <error class>"
    migration: str | None = None  # the database's schema revision
    head: str | None = None  # the revision this code expects, when they differ


READY_TIMEOUT_SECONDS = 5.0  # a readiness probe must answer, not wait on a dead database


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Database unreachable or behind"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready: the database answers and its schema is at the migrations' head."""
    expected = request.app.state.head_revision
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with request.app.state.engine.connect() as conn:
                query = text("SELECT version_num FROM alembic_version")
                current = (await conn.execute(query)).scalar()
    except Exception as exc:  # whatever the database did, the answer is "not ready"
        body = {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}
        return JSONResponse(body, status_code=503, headers=retry)
    if current != expected:
        body = {"status": "unavailable", "database": "ok", "migration": current, "head": expected}
        return JSONResponse(body, status_code=503, headers=retry)
    return JSONResponse({"status": "ok", "database": "ok", "migration": current})


@metrics_router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: request counts and latencies, jobs by state, and each
    connector's outbound state (failing, for how long, jobs waiting, dead jobs). Needs a read
    API key unless `XPULSE_METRICS_PUBLIC=true`."""
    try:
        async with request.app.state.sessionmaker() as session:
            rows = (
                await session.execute(select(Job.status, func.count()).group_by(Job.status))
            ).all()
            counts = dict(rows)
            for status in JobStatus:
                JOBS.labels(status.value).set(counts.get(status.value, 0))
            named = await lanes.describe(session, None)
            found = await lanes.states(session, list(named))
        now = utcnow()
        for gauge in OUTBOUND.values():
            gauge.clear()  # a deleted or renamed connector leaves no stale series
        for lane, info in named.items():
            state = found.get(lane)
            failing = state is not None and state.state == LaneState.failing
            since = state.failing_since if state and failing else None
            OUTBOUND["failing"].labels(info.name).set(int(failing))
            OUTBOUND["failing_seconds"].labels(info.name).set(
                (now - since).total_seconds() if since else 0
            )
            OUTBOUND["jobs_waiting"].labels(info.name).set(state.jobs_waiting if state else 0)
            OUTBOUND["dead_jobs"].labels(info.name).set(state.dead_jobs if state else 0)
    except Exception:  # metrics must answer even when the database does not
        log.warning("job counts unavailable for /metrics", exc_info=True)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
