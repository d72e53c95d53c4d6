"""Schemathesis over the whole OpenAPI, against a real server process on loopback backed by a
throwaway PostgreSQL database, with an admin key, within a time budget.

    .venv/bin/python -m tests.schemathesis_run [--max-time SECONDS]

Passes when no response is a server error (5xx) and every status code, content type and body
is the one the OpenAPI documents. Prints the number of cases run. The database is found as the
test suite finds one (TEST_DATABASE_URL, 127.0.0.1:5432, or a cluster from local binaries)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.connectors.signatures import standard_webhooks_signature
from tests.conftest import migrate
from tests.support import postgres
from tests.support.server_process import REPO, ServerProcess, admin_key

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
SECRET = "schemathesis-webhook-secret"


def seed(base_url: str, key: str) -> None:
    """A connector and one delivery, so that lists and links have something real in them."""
    auth = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{base_url}/api/v1/connectors",
        headers=auth,
        json={
            "name": "seeded",
            "kind": "generic",
            "base_url": "https://helpdesk.example.com",
            "webhook_secret": SECRET,
        },
    )
    created.raise_for_status()
    body = (REPO / "tests/fixtures/generic/resolved.json").read_bytes()
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": "seed-1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(SECRET, "seed-1", stamp, body),
    }
    httpx.post(f"{base_url}/webhooks/seeded", content=body, headers=headers).raise_for_status()


def run_schemathesis(base_url: str, key: str, max_time: int, report_dir: Path) -> dict:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(max_time),
        "--workers",
        "2",
        "--seed",
        "9",  # reproducible: a failure in CI is the same failure on a laptop
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
    ]
    subprocess.run(command, check=False)
    [report] = report_dir.glob("*.json")
    return json.loads(report.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=180, help="seconds of testing")
    args = parser.parse_args()
    server, why = postgres.find_server()
    if server is None:
        print(f"schemathesis: no PostgreSQL: {why}", file=sys.stderr)
        return 1
    url = postgres.create_database(server)
    try:
        migrate(url)
        key = admin_key(url)
        with (
            tempfile.TemporaryDirectory(prefix="xpulse-schemathesis-") as tmp,
            # Rate limits high enough that the feedback pages' logic is tested, not their 429.
            ServerProcess(
                url, Path(tmp) / "server.log", XPULSE_FEEDBACK__RATE_LIMIT_PER_MINUTE="1000000"
            ) as xpulse,
        ):
            seed(xpulse.base_url, key)
            report = run_schemathesis(xpulse.base_url, key, args.max_time, Path(tmp))
            log = xpulse.log()
    finally:
        postgres.drop_database(server, url)
        for stop in server.cleanup:
            stop()
    cases = report["test_cases"]
    print(
        f"\nschemathesis: {cases['generated']} cases run over "
        f"{report['operations']['tested']} operations in {report['running_time']:.0f} s; "
        f"{cases['with_failures']} with failures ({cases['unique_failures']} unique), "
        f"{cases['errored']} errored; exit code {report['exit_code']}"
    )
    if report["exit_code"] != 0:
        print(f"server log (tail):\n{log}", file=sys.stderr)
    return report["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
