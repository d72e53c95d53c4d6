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


def seed(base_url: str, key: str) -> dict[str, list]:
    """A connector, one delivery with its answer, and an XLA, so that lists have rows and each
    path parameter is sometimes the id of something real: {parameter name: [values]}."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        connector = api.post(
            "/api/v1/connectors",
            json={
                "name": "seeded",
                "kind": "generic",
                "base_url": "https://helpdesk.example.com",
                "webhook_secret": SECRET,
            },
        ).raise_for_status()
        body = (REPO / "tests/fixtures/generic/resolved.json").read_bytes()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": "seed-1",
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_webhooks_signature(SECRET, "seed-1", stamp, body),
        }
        accepted = api.post("/webhooks/seeded", content=body, headers=headers).raise_for_status()
        token = accepted.json()["links"]["9"].rsplit("/f/", 1)[1].split("?")[0]
        api.post(f"/f/{token}", json={"score": 9}, headers={"accept": "application/json"})
        xla = api.post(
            "/api/v1/xlas", json={"name": "seeded", "scope": "all", "min_happiness": 0}
        ).raise_for_status()
        found = {
            "connector_id": [connector.json()["id"]],
            "connector_name": ["seeded"],
            "request_id": [accepted.json()["feedback_request_id"]],
            "token": [token],
            "xla_id": [xla.json()["id"]],
        }
        for name, path in (
            ("event_id", "/api/v1/inbound-events"),
            ("response_id", "/api/v1/feedback/responses"),
            ("job_id", "/api/v1/jobs"),
        ):
            found[name] = [item["id"] for item in api.get(path).json()["items"]]
    return {name: values for name, values in found.items() if values}


def config_file(ids: dict[str, list], folder: Path) -> Path:
    """A schemathesis.toml: each path parameter takes a seeded value half of the time."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    lines += [f'"path.{n}" = {{ dictionary = "{n}", probability = 0.5 }}' for n in ids]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(base_url: str, key: str, max_time: int, config: Path) -> dict:
    report_dir = config.parent / "report"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(max_time),
        # One worker: with two, CPython 3.11's ast (which hypothesis uses to describe
        # strategies) raced between threads ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
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
            config = config_file(seed(xpulse.base_url, key), Path(tmp))
            report = run_schemathesis(xpulse.base_url, key, args.max_time, config)
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
