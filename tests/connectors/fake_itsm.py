"""A real HTTP server on loopback standing in for ServiceNow or Jira: it records every request
and answers from a script (status, headers, body) matched by method and path prefix."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.connectors.standins import Seen  # one record of a request for both stand-ins


@dataclass
class Answer:
    method: str
    prefix: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1  # None: for ever


class FakeITSM:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.script: list[Answer] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                answer = fake._answer(seen)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def respond(
        self,
        method: str,
        prefix: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """Queue an answer; answers are used in the order they were queued."""
        with self.lock:
            self.script.append(Answer(method, prefix, status, body, headers or {}, times))

    def _answer(self, seen: Seen) -> Answer:
        with self.lock:
            self.seen.append(seen)
            for answer in self.script:
                if answer.method == seen.method and seen.path.startswith(answer.prefix):
                    if answer.times is not None:
                        answer.times -= 1
                        if answer.times == 0:
                            self.script.remove(answer)
                    return answer
        return Answer(seen.method, seen.path, 404, {"error": "not scripted"})

    def requests(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    def __enter__(self) -> FakeITSM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
