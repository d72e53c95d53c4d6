"""An ITSM outage longer than the old retry budget (8 attempts with backoff): ServiceNow answers
503, then 429 with Retry-After, then refuses connections. The connector counts as down, its
write-backs wait for one probe at a time, and when the ITSM is back every write-back lands
within two minutes, once each, oldest first and paced; no job is dead.

Real parts throughout: the app served on loopback (connector API, webhooks, /metrics), the real
worker ticking as the scheduler does, PostgreSQL, and a stateful ServiceNow stand-in (records
and their work-note journal). Backoff and budget are scaled down; the phases take ~20 s."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.config import Settings
from app.connectors import outbound
from app.connectors.outbound import RefusedError
from app.db import make_sessionmaker
from app.feedback import writeback
from app.feedback.models import FeedbackRequest, Response
from app.http import make_http_client
from app.jobs.models import Job, JobStatus
from app.jobs.registry import TransientError
from app.jobs.worker import Worker
from tests.conftest import make_settings
from tests.connectors.conftest import SECRET, bearer, record_body
from tests.connectors.standins import Seen, ServiceNowStandIn

RECORDS = 12
RPS = 4.0  # the connector's requests_per_second
RECOVERY_BUDGET = 120.0  # seconds from recovery until every write-back must have landed
JOBS = {
    "enabled": False,
    "tick_seconds": 0.5,
    "lease_seconds": 30,
    "backoff_base_seconds": 0.2,
    "backoff_max_seconds": 2.0,
    "probe_max_seconds": 1.0,
    "retry_budget_hours": 1 / 60,  # one minute: longer than the outage, as 72 h is in life
}
OLD_ATTEMPTS = 8
RECORD_PATH = "/api/now/table/incident/"


def old_budget_seconds() -> float:
    """The longest an 8-attempt job could have lasted with these backoff settings."""
    base, cap = JOBS["backoff_base_seconds"], JOBS["backoff_max_seconds"]
    return sum(min(cap, base * 2 ** (n - 1)) for n in range(1, OLD_ATTEMPTS))


class TimedServiceNow(ServiceNowStandIn):
    """The stand-in, noting when each request arrived (for order and pace)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, Seen]] = []
        super().__init__()

    def _serve(self, seen: Seen):  # type: ignore[no-untyped-def]
        reply = super()._serve(seen)
        with self.lock:
            self.arrivals.append((time.monotonic(), seen))
        return reply

    def answered(self, since: float = 0.0) -> list[tuple[float, Seen]]:
        with self.lock:
            return [(t, s) for t, s in self.arrivals if t >= since]


@asynccontextmanager
async def ticking(worker: Worker) -> AsyncIterator[None]:
    """The worker as the scheduler runs it: drain, pause, drain… until the block ends."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            await worker.drain()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.2)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        await task


async def wait_until(check, *, budget: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + budget
    while not await check():
        assert time.monotonic() < deadline, f"not within {budget:.0f} s: {what}"
        await asyncio.sleep(0.2)


async def answer(
    sm: async_sessionmaker[AsyncSession], settings: Settings, request_id: str, score: int
) -> None:
    """A counted answer, queued for write-back as the answer page queues it."""
    async with sm() as session:
        request = await session.get(FeedbackRequest, uuid.UUID(request_id))
        now = utcnow()
        response = Response(
            request_id=request.id,
            ticket_id=request.ticket_id,
            score=score,
            scale=request.scale,
            answered_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(response)
        await session.flush()
        await writeback.enqueue(session, request, response, [], settings, now)
        await session.commit()


async def test_write_backs_survive_an_outage_longer_than_the_old_budget(
    committed: AsyncEngine, pg_url: str, live_server_factory
) -> None:
    sm = make_sessionmaker(committed)
    settings = make_settings(pg_url, jobs=JOBS, feedback={"writeback_delay_seconds": 0})
    async with sm() as session:
        _, key = await auth_service.create_key(
            session, name="outage", scope=Scope.admin, now=utcnow()
        )
        await session.commit()
    admin = {"Authorization": f"Bearer {key}"}
    sys_ids = [f"{n:032x}" for n in range(1, RECORDS + 1)]
    scores = {sys_id: n % 11 for n, sys_id in enumerate(sys_ids)}

    with (
        TimedServiceNow() as sn,
        live_server_factory(jobs=JOBS) as server,
    ):
        for n, sys_id in enumerate(sys_ids):
            sn.add_record("incident", sys_id, number=f"INC{n:07d}", u_experience_score="")
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=30) as api,
            make_http_client(settings) as http,
        ):
            created = await api.post(
                "/api/v1/connectors",
                headers=admin,
                json={
                    "name": "sn-outage",
                    "kind": "servicenow",
                    "base_url": sn.url,
                    "webhook_secret": SECRET,
                    "auth": {"type": "basic", "username": "xpulse", "password": "pw"},
                    "channel": "none",
                    "options": {"requests_per_second": RPS},
                },
            )
            assert created.status_code == 201, created.text
            assert created.json()["outbound"]["state"] == "ok"
            connector_url = f"/api/v1/connectors/{created.json()['id']}"
            requests = []
            for n, sys_id in enumerate(sys_ids):
                body = record_body(sys_id=sys_id, number=f"INC{n:07d}")
                hook = await api.post("/webhooks/sn-outage", content=body, headers=bearer())
                assert hook.status_code == 202, hook.text
                requests.append(hook.json()["feedback_request_id"])

            async def outbound_state() -> dict:
                got = await api.get(connector_url, headers=admin)
                assert got.status_code == 200
                return got.json()["outbound"]

            worker = Worker(sm, http, settings)
            async with ticking(worker):
                # --- the outage: 503, then 429 with Retry-After, then refused connections
                sn.fail(503)
                outage_started = time.monotonic()
                for sys_id, request_id in zip(sys_ids, requests, strict=True):
                    await answer(sm, settings, request_id, scores[sys_id])

                async def down() -> bool:
                    return (await outbound_state())["state"] == "failing"

                await wait_until(down, budget=30, what="the connector counts as failing")
                state = await outbound_state()
                assert state["jobs_waiting"] == RECORDS and state["dead_jobs"] == 0
                assert state["failing_since"] and "HTTP 503" in state["last_error"]
                metrics = (await api.get("/metrics", headers=admin)).text
                assert 'xpulse_connector_outbound_failing{connector="sn-outage"} 1.0' in metrics
                assert (
                    f'xpulse_connector_outbound_jobs_waiting{{connector="sn-outage"}} {RECORDS}.0'
                    in metrics
                )

                await asyncio.sleep(7)
                sn.fail(429, {"Retry-After": "2"})
                await asyncio.sleep(6)
                sn.refuse_connections()
                await asyncio.sleep(7)
                healed_at = time.monotonic()
                sn.heal()
                outage = healed_at - outage_started
                assert outage > old_budget_seconds()  # every old job would have gone dead

                async def all_written() -> bool:
                    return all(sn.journal(s) for s in sys_ids)

                await wait_until(
                    all_written, budget=RECOVERY_BUDGET, what="every write-back delivered"
                )
                assert time.monotonic() - healed_at < RECOVERY_BUDGET

            state = await outbound_state()
            assert state["state"] == "ok" and state["failing_since"] is None
            assert state["jobs_waiting"] == 0 and state["dead_jobs"] == 0
            assert state["last_error"]  # what happened stays visible

        # --- once each, right value, nothing dead
        for sys_id in sys_ids:
            assert len(sn.journal(sys_id)) == 1, sn.journal(sys_id)
            assert sn.record("incident", sys_id)["u_experience_score"] == str(scores[sys_id])
        async with sm() as session:
            jobs = (await session.scalars(select(Job))).all()
        assert [j.status for j in jobs if j.status == JobStatus.dead] == []
        write_backs = [j for j in jobs if j.name == "connectors.write_back"]
        assert len(write_backs) == RECORDS
        assert {j.status for j in write_backs} == {JobStatus.done}

        # --- while down, jobs waited for the probe instead of each spending its tries
        failed = [s for _, s in sn.answered() if s.status in (429, 503)]
        assert any(s.status == 429 for s in failed) and any(s.status == 503 for s in failed)
        assert len(failed) < RECORDS * OLD_ATTEMPTS / 2

        # --- the backlog drained by itself, oldest first (after the probe), at the set pace
        after = sn.answered(healed_at)
        starts: dict[str, float] = {}  # a write-back's first call reads its record
        for t, s in after:
            if s.method == "GET" and s.status == 200 and s.path.startswith(RECORD_PATH):
                starts.setdefault(s.path.removeprefix(RECORD_PATH), t)
        order = sorted(starts, key=starts.__getitem__)
        assert sorted(order) == sorted(sys_ids)
        probe, rest = order[0], order[1:]
        assert rest == [s for s in sys_ids if s != probe]
        # Paced jobs start 1/rps apart: the rest cannot have started faster than that.
        span = starts[rest[-1]] - starts[rest[0]]
        assert span >= (len(rest) - 2) / RPS
        patched = [s.path.removeprefix(RECORD_PATH) for _, s in after if s.method == "PATCH"]
        assert sorted(patched) == sorted(sys_ids)  # one PATCH each, none failed


def test_the_old_budget_is_shorter_than_the_outage() -> None:
    """The scaled settings keep the comparison honest: 8 attempts end well inside 20 s."""
    assert old_budget_seconds() < 10
    assert timedelta(hours=JOBS["retry_budget_hours"]).total_seconds() > 30


@pytest.mark.parametrize(
    ("status", "headers", "transient", "retry_after"),
    [
        (503, {"Retry-After": "7"}, True, 7.0),
        (429, {"Retry-After": "2"}, True, 2.0),
        (409, {}, True, None),  # a concurrent edit of the ticket: later it goes through
        (408, {}, True, None),
        (425, {}, True, None),
        (500, {}, True, None),
        (400, {}, False, None),
        (403, {}, False, None),
        (404, {}, False, None),
    ],
)
def test_which_answers_are_retried(
    status: int, headers: dict[str, str], transient: bool, retry_after: float | None
) -> None:
    answer = httpx.Response(status, headers=headers, request=httpx.Request("PATCH", "http://x"))
    with pytest.raises(TransientError if transient else RefusedError) as raised:
        outbound.check(answer, "write-back")
    if transient:
        assert raised.value.retry_after == retry_after
    else:
        assert raised.value.status_code == status
