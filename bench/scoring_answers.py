"""An answer load at a fixed rate on the click path, in its own process (so its client's CPU is
not the measuring client's): POST /f/{token} with the page's JSON answer and a signed view.

    .venv/bin/python -m bench.scoring_answers BASE TOKENS_FILE [--rate 200]

TOKENS_FILE holds "token view" per line (bench.scoring_bench writes it). Runs until SIGTERM or
SIGINT, then prints the answers sent, the rate reached and the statuses. At most MAX_IN_FLIGHT
answers wait for the server at once: a tick that finds them all waiting is counted as behind
(the server does not keep up with the rate) instead of piling up.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import signal
import time

import httpx

MAX_IN_FLIGHT = 64
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Sec-Fetch-Site": "same-origin",
    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
}


async def load(base: str, lines: list[tuple[str, str]], rate: float, stop: asyncio.Event) -> None:
    statuses: collections.Counter[str] = collections.Counter()
    pending: set[asyncio.Task] = set()
    # Idle connections are dropped before uvicorn's own 5 s keep-alive timeout ends them: with
    # httpx's default of 5 s too, a post could go out on a connection the server was closing
    # and fail with a ReadError (a reset), which no server fault caused.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2.0)
    headers = {**HEADERS, "Origin": base}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:

        async def one(token: str, view: str) -> None:
            body = {
                "score": random.randint(1, 5),  # valid on both scales
                "lang": "en",
                "view": view,
                "signals": {"interacted": True, "dwell_ms": 2400},
            }
            try:
                r = await c.post(f"/f/{token}", content=json.dumps(body))
                statuses[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

        started = time.monotonic()
        sent = ticks = 0
        while not stop.is_set():
            # Fixed schedule: request n goes at started + n / rate, late ones go at once.
            delay = started + ticks / rate - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    break
                except TimeoutError:
                    pass
            ticks += 1
            if len(pending) >= MAX_IN_FLIGHT:
                statuses["behind"] += 1
                continue
            task = asyncio.create_task(one(*random.choice(lines)))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        took = time.monotonic() - started
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    done = sum(v for k, v in statuses.items() if k != "behind")
    print(
        f"answers: {done} answered in {took:.0f} s = {done / took:.0f}/s "
        f"(target {rate:.0f}/s); statuses {dict(statuses)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("tokens")
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    with open(args.tokens) as f:
        lines = [tuple(line.split()) for line in f if line.strip()]

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await load(args.base, lines, args.rate, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
