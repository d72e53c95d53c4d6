"""wrk (Debian's package, installed when missing) as the load generator, and the server-side
figures read beside it: CPU time of the server process and its resident memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing (root or sudo needed)."""
    found = shutil.which("wrk")
    if found:
        return found
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk could not be installed (apt-get install wrk)")
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on this machine: utime + stime of the live ones, plus
    what the postmaster has reaped from exited ones (parallel workers, closed backends)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone while we looked
        if head.endswith("(postgres"):
            fields = tail.split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Run:
    """One wrk run against one server."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int  # non-2xx answers, socket errors and timeouts
    cpu_ms: float  # server CPU over the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request_ms(self) -> float:
        return self.cpu_ms / self.requests if self.requests else float("nan")


def run(
    url: str,
    script: str,
    args: list[str],
    *,
    pid: int,
    connections: int,
    seconds: float,
    threads: int = 2,
    timeout: float = 10.0,
) -> Run:
    """wrk with `script` (under bench/lua) for `seconds`; the server `pid`'s CPU beside it.
    The script gets `args` and then a new run id (ingest makes its tickets unique with it)."""
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        f"--timeout={timeout:.0f}s",
        "-s",
        str(LUA / script),
        url,
        "--",
        *args,
        uuid.uuid4().hex[:12],
    ]
    before = cpu_seconds(pid)
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "BENCH_LUA_DIR": str(LUA)}
    )
    cpu_ms = (cpu_seconds(pid) - before) * 1000
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    failures = figures["non2xx"] + sum(figures[k] for k in ("connect", "read", "write", "timeout"))
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        failures=failures,
        cpu_ms=cpu_ms,
    )
