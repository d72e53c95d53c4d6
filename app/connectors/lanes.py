"""A connector's outbound lane: the queue paces its ITSM calls at the connector's
`requests_per_second` and holds them back together while its ITSM is down (app/jobs/lanes.py);
here the lane is named and paced, and its state is read for the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.models import Connector
from app.connectors.options import ConnectorOptions
from app.connectors.schemas import OutboundRead
from app.jobs import lanes, queue
from app.jobs.models import LaneState
from app.jobs.registry import LaneInfo, lane_kind

PREFIX = "connector"


def _connector_id(lane: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(lane.removeprefix(PREFIX + ":"))
    except ValueError:
        return None


@lane_kind(PREFIX)
async def describe(session: AsyncSession, keys: list[str] | None) -> dict[str, LaneInfo]:
    """Each connector's lane: its name (for /metrics) and the pace its ITSM accepts."""
    stmt = select(Connector.id, Connector.name, Connector.options)
    if keys is not None:
        ids = [i for i in map(_connector_id, keys) if i is not None]
        stmt = stmt.where(Connector.id.in_(ids))
    found = {}
    for connector_id, name, options in (await session.execute(stmt)).all():
        rps = ConnectorOptions.model_validate(options or {}).requests_per_second
        found[lanes.connector_lane(connector_id)] = LaneInfo(name, rps)
    return found


async def outbound(
    session: AsyncSession, connector_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, OutboundRead]:
    """The outbound state of each connector (ok when its lane has never been used)."""
    by_lane = {lanes.connector_lane(i): i for i in connector_ids}
    found = await lanes.states(session, list(by_lane))
    result = {}
    for lane, connector_id in by_lane.items():
        status = found.get(lane)
        if status is None:
            result[connector_id] = OutboundRead(state="ok")
            continue
        failing = status.state == LaneState.failing
        result[connector_id] = OutboundRead(
            state=status.state.value,
            failing_since=status.failing_since if failing else None,
            failing_seconds=(now - status.failing_since).total_seconds()
            if failing and status.failing_since
            else None,
            last_error=status.last_error,
            last_error_at=status.last_error_at,
            jobs_waiting=status.jobs_waiting,
            dead_jobs=status.dead_jobs,
        )
    return result


async def retry_dead(session: AsyncSession, connector_id: uuid.UUID, now: datetime) -> int:
    """Run every dead outbound job of the connector again with a fresh budget; the count."""
    return await queue.retry_dead_in_lane(session, lanes.connector_lane(connector_id), now=now)
