"""kill -9 of the XPulse process while write-backs are in flight, then a restart: each ticket
carries exactly one work note or comment per answer, and the right score.

The server runs as a real `xpulse serve` process with its job ticker on, against the test's
PostgreSQL and the stateful stand-ins. Ten write-backs are in flight when it dies: eight whose
write (ServiceNow PATCH, Jira comment) has reached the ITSM and taken effect but whose answer
is 5 s away, two still waiting on their first read. After the restart (short lease) each is
retried: the first eight find their notes and write nothing, the last two write once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_sessionmaker
from app.jobs.models import Job
from tests.connectors.conftest import (
    bearer,
    jira_fixture,
    jira_headers,
    make_connector,
    record_body,
)
from tests.connectors.standins import JiraStandIn, ServiceNowStandIn

REPO = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 8  # longer than a write-back takes once the ITSM answers at once
BUDGET = 120.0  # seconds any wait below may take before the test gives up
JOB = "connectors.write_back"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def xpulse_serve(pg_url: str, port: int, log: Path, *, jobs: bool) -> Iterator[subprocess.Popen]:
    """`xpulse serve` in its own process; stopped (SIGTERM) on exit unless already dead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPULSE_")}
    env.update(
        XPULSE_DATABASE_URL=pg_url,
        XPULSE_SECRET_KEY="test-secret-key-0123456789",
        XPULSE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        XPULSE_LOG_JSON="false",
        XPULSE_LOG_LEVEL="WARNING",
        XPULSE_HTTP_TIMEOUT_SECONDS="30",
        XPULSE_JOBS__ENABLED=str(jobs).lower(),
        XPULSE_JOBS__TICK_SECONDS="0.3",
        XPULSE_JOBS__BATCH_SIZE="20",
        XPULSE_JOBS__LEASE_SECONDS=str(LEASE_SECONDS),
        XPULSE_FEEDBACK__WRITEBACK_DELAY_SECONDS="0",
        # The answers come right after the links were handed out: no "too soon" scanner rule.
        XPULSE_FEEDBACK__SCANNER_MIN_SECONDS_AFTER_SEND="0",
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def until(check: Callable[[], object], what: str, log: Path) -> None:
    """Wait, within BUDGET, until `check()` (sync or async) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUDGET
    while True:
        done = check()
        if asyncio.iscoroutine(done):
            done = await done
        if done:
            return
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}; server log:\n{log.read_text()}")
        await asyncio.sleep(0.2)


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


def token_of(answer: httpx.Response) -> str:
    assert answer.status_code == 202, answer.text
    return urlsplit(answer.json()["links"]["9"]).path.rsplit("/", 1)[-1]


def jira_issue_body(issue_id: str, key: str) -> bytes:
    data = json.loads(jira_fixture("cloud_resolved_hidden_email.json"))
    data["issue"].update(
        id=issue_id, key=key, self=f"https://acme.atlassian.net/rest/api/2/issue/{issue_id}"
    )
    return json.dumps(data).encode()


async def answer(url: str, token: str, score: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sent = await http.post(
            f"/f/{token}",
            data={"score": str(score)},
            headers={"Accept": "application/json", "Sec-Fetch-Site": "same-origin"},
        )
    assert sent.status_code < 300, sent.text


async def test_kill_9_mid_write_back_leaves_one_note_per_answer(
    committed: AsyncEngine, pg_url: str, tmp_path: Path
) -> None:
    sessions = make_sessionmaker(committed)

    async def job_statuses() -> list[str]:
        async with sessions() as s:
            return sorted((await s.scalars(select(Job.status).where(Job.name == JOB))).all())

    with (
        ServiceNowStandIn() as landed,  # its PATCHes take effect, their answers come late
        ServiceNowStandIn() as reading,  # still reading the ticket when the process dies
        JiraStandIn() as jira,  # its comments take effect, their answers come late
    ):
        fast = {"poll": False, "requests_per_second": 100}
        async with sessions() as s:
            sn_landed = await make_connector(
                s, kind="servicenow", base_url=landed.url, channel="none", **fast
            )
            sn_reading = await make_connector(
                s, kind="servicenow", base_url=reading.url, channel="none", **fast
            )
            jira_conn = await make_connector(
                s,
                kind="jira",
                base_url=jira.url,
                channel="none",
                score_custom_field="customfield_10050",
                requests_per_second=100,
            )
            await s.commit()
        tickets: dict[str, tuple[object, str]] = {}  # token -> (stand-in, ticket id)
        port, log = free_port(), tmp_path / "server.log"
        url = f"http://127.0.0.1:{port}"

        # 1. Ten resolved tickets answered 9, with the ticker off: the write-backs queue up.
        with xpulse_serve(pg_url, port, log, jobs=False):
            await until(lambda: ready(url), "the server to start", log)
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                for n in range(4):
                    sys_id = uuid.uuid4().hex
                    landed.add_record("incident", sys_id, u_experience_score="")
                    body = record_body(sys_id=sys_id, number=f"INC00{n}")
                    hook = await http.post(
                        f"/webhooks/{sn_landed.name}", content=body, headers=bearer()
                    )
                    tickets[token_of(hook)] = (landed, sys_id)
                for n in range(2):
                    sys_id = uuid.uuid4().hex
                    reading.add_record("incident", sys_id, u_experience_score="")
                    body = record_body(sys_id=sys_id, number=f"INC10{n}")
                    hook = await http.post(
                        f"/webhooks/{sn_reading.name}", content=body, headers=bearer()
                    )
                    tickets[token_of(hook)] = (reading, sys_id)
                for n in range(4):
                    issue_id = str(20000 + n)
                    jira.add_issue(issue_id, f"ITS-{n}")
                    body = jira_issue_body(issue_id, f"ITS-{n}")
                    headers = jira_headers(body, delivery=f"crash-{n}")
                    hook = await http.post(
                        f"/webhooks/{jira_conn.name}", content=body, headers=headers
                    )
                    tickets[token_of(hook)] = (jira, issue_id)
            for token in tickets:
                await answer(url, token, 9)
        assert await job_statuses() == ["pending"] * 10

        # 2. The ticker claims all ten; the ITSMs answer after 5 s; kill -9 while they wait.
        landed.delay(5, method="PATCH")
        jira.delay(5, method="POST")
        reading.delay(5)
        with xpulse_serve(pg_url, port, log, jobs=True) as server:
            await until(
                lambda: (
                    len(landed.requests("PATCH")) == 4
                    and len(jira.requests("POST")) == 4
                    and len(reading.requests("GET")) == 2
                ),
                "all ten write-backs to be in flight",
                log,
            )
            server.kill()  # SIGKILL: no shutdown, no finish, leases left behind
            server.wait()
        assert await job_statuses() == ["running"] * 10
        for stand_in in (landed, reading, jira):
            stand_in.heal()
        patches_before = len(landed.requests("PATCH"))

        # 3. Restart: the leases run out, the jobs are retried, and they complete.
        with xpulse_serve(pg_url, port, log, jobs=True):
            await until(lambda: ready(url), "the server to restart", log)
            await until(lambda: job_statuses_done(job_statuses), "every write-back to be done", log)
            for stand_in, ticket in tickets.values():
                assert notes(stand_in, ticket) == ["XPulse feedback: 😀 9/10"], ticket
                assert score(stand_in, ticket) == 9
            assert len(landed.requests("PATCH")) == patches_before  # nothing written twice
            assert len(reading.requests("PATCH")) == 2  # what had not landed, written once

            # 4. A changed answer is a new version: its own note, once.
            changed = [t for t, (si, _) in tickets.items() if si is not reading][::3]
            for token in changed:
                await answer(url, token, 3)
            await until(
                lambda: job_statuses_done(job_statuses, count=10 + len(changed)),
                "the changed answers to be written back",
                log,
            )
        for token, (stand_in, ticket) in tickets.items():
            expected = ["XPulse feedback: 😀 9/10"]
            if token in changed:
                expected.append("XPulse feedback: 😞 3/10")
            assert notes(stand_in, ticket) == expected, ticket
            assert score(stand_in, ticket) == (3 if token in changed else 9)


async def job_statuses_done(statuses: Callable, count: int = 10) -> bool:
    have = await statuses()
    assert "dead" not in have, have
    return have == ["done"] * count


def notes(stand_in: object, ticket: str) -> list[str]:
    """The first line of each XPulse note on the ticket, oldest first."""
    if isinstance(stand_in, ServiceNowStandIn):
        bodies = stand_in.journal(ticket)
    else:
        assert isinstance(stand_in, JiraStandIn)
        bodies = stand_in.comments(ticket)
    return [b.splitlines()[0] for b in bodies]


def score(stand_in: object, ticket: str) -> object:
    if isinstance(stand_in, ServiceNowStandIn):
        return int(stand_in.record("incident", ticket)["u_experience_score"])
    assert isinstance(stand_in, JiraStandIn)
    assert (
        stand_in.property(ticket, "xpulse.experience")["score"]
        == stand_in.issues[ticket].fields["customfield_10050"]
    )
    return stand_in.issues[ticket].fields["customfield_10050"]
