"""Loopback stand-ins for ServiceNow and Jira that keep state like the real APIs (records and
their work-note journal; issue fields, properties and comments), with faults a test can turn
on: an error status, refused connections, slow answers.

Each is a real HTTP server on 127.0.0.1 (one thread per request). A write takes effect when the
request arrives and the answer follows after any `delay()`, as on a real instance that commits
while the caller has already gone: a caller killed mid-call leaves its effect on the ticket."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what it was answered with

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class NotFound(Exception):
    """Answered 404 in the vendor's error shape."""


class StandIn:
    """Server lifecycle, faults and the request log; subclasses route requests to state."""

    def __init__(self, *, auth: str | None = None) -> None:
        self.auth = auth  # the Authorization header every request must carry; None: any
        self.seen: list[Seen] = []
        self.lock = threading.RLock()
        self._fail: tuple[int, dict[str, str], int | None] | None = None
        self._delay = 0.0
        self._delay_method: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    # --- faults -------------------------------------------------------------------------

    def fail(self, status: int, headers: dict[str, str] | None = None, times: int | None = None):
        """Answer every request with `status` (no effect) until heal() or `times` are used up."""
        with self.lock:
            self._fail = (status, dict(headers or {}), times)

    def refuse_connections(self) -> None:
        """Stop listening: connecting to the same port is refused until heal()."""
        with self.lock:
            self._close()

    def delay(self, seconds: float, method: str | None = None) -> None:
        """Answer each request (or each of one method) `seconds` after it took effect."""
        with self.lock:
            self._delay = seconds
            self._delay_method = method

    def heal(self) -> None:
        """Normal answers again, listening on the same port, without delay."""
        with self.lock:
            self._fail = None
            self._delay = 0.0
            if self._server is None:
                self._listen()

    # --- the log ------------------------------------------------------------------------

    def requests(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    # --- serving ------------------------------------------------------------------------

    def route(self, seen: Seen) -> Reply:
        raise NotImplementedError

    def not_found(self, message: str) -> Reply:
        return Reply(404, {"error": message})

    def _serve(self, seen: Seen) -> tuple[Reply, float]:
        with self.lock:
            self.seen.append(seen)
            delay = self._delay if self._delay_method in (None, seen.method) else 0.0
            if self._fail is not None:
                status, headers, times = self._fail
                if times is not None:
                    self._fail = (status, headers, times - 1) if times > 1 else None
                reply = Reply(status, {"error": f"stand-in fault {status}"}, headers)
            elif self.auth is not None and seen.headers.get("authorization") != self.auth:
                reply = Reply(401, {"error": "unauthorised"})
            else:
                try:
                    reply = self.route(seen)
                except NotFound as exc:
                    reply = self.not_found(str(exc))
            seen.status = reply.status
        return reply, delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    unquote(parts.path),
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply, delay = stand_in._serve(seen)
                if delay:
                    time.sleep(delay)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the caller hung up (or was killed) while we were slow
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _body(seen: Seen) -> Any:
    try:
        return json.loads(seen.body or b"null")
    except ValueError:
        return None


# --- ServiceNow -------------------------------------------------------------------------

JOURNAL_FIELDS = ("work_notes", "comments")
TABLE_PATH = re.compile(r"^/api/now/table/([a-z0-9_]+)(?:/([^/]+))?$")


def matches(row: dict[str, Any], query: str) -> bool:
    """A subset of encoded queries: `a=b`, `a!=b`, `a>=b` (and `>`, `<=`, `<`, compared as text,
    which orders ServiceNow's `YYYY-MM-DD HH:MM:SS`), `aIN x,y`, `aLIKE t`, `aSTARTSWITH t`,
    joined by `^`; ORDERBY terms are handled by the caller."""
    for term in filter(None, query.split("^")):
        if term.startswith("ORDERBY"):
            continue
        if m := re.match(r"^([\w.]+?)(!=|>=|<=|=|>|<|IN|LIKE|STARTSWITH)(.*)$", term):
            name, op, value = m.groups()
            have = str(row.get(name, ""))
            ok = {
                "=": have == value,
                "!=": have != value,
                ">=": have >= value,
                ">": have > value,
                "<=": have <= value,
                "<": have < value,
                "IN": have in value.split(","),
                "LIKE": value in have,
                "STARTSWITH": have.startswith(value),
            }[op]
            if not ok:
                return False
        else:
            raise ValueError(f"stand-in cannot read query term {term!r}")
    return True


def ordered(rows: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    for term in reversed([t for t in query.split("^") if t.startswith("ORDERBY")]):
        desc = term.startswith("ORDERBYDESC")
        name = term.removeprefix("ORDERBYDESC" if desc else "ORDERBY")
        rows = sorted(rows, key=lambda r: str(r.get(name, "")), reverse=desc)
    return rows


def pick(row: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return dict(row)
    return {f: row.get(f, "") for f in fields.split(",")}


class ServiceNowStandIn(StandIn):
    """Table API: records per table; writing `work_notes` or `comments` appends a
    `sys_journal_field` row (name, element, element_id, value, sys_created_on), as the platform
    does, and reading the journal field back on the record gives ""."""

    def __init__(self, *, auth: str | None = None) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {"sys_journal_field": {}}
        self._counter = 0
        super().__init__(auth=auth)

    def add_record(self, table: str, sys_id: str, **fields: Any) -> None:
        with self.lock:
            self.tables.setdefault(table, {})[sys_id] = {"sys_id": sys_id, **fields}

    def record(self, table: str, sys_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.tables[table][sys_id])

    def journal(self, sys_id: str, element: str = "work_notes") -> list[str]:
        """The journal entries of one record's field, oldest first."""
        with self.lock:
            rows = [
                r
                for r in self.tables["sys_journal_field"].values()
                if r["element_id"] == sys_id and r["element"] == element
            ]
            return [r["value"] for r in sorted(rows, key=lambda r: r["_order"])]

    def not_found(self, message: str) -> Reply:
        return Reply(404, {"error": {"message": "No Record found", "detail": message}})

    def route(self, seen: Seen) -> Reply:
        m = TABLE_PATH.match(seen.path)
        if not m:
            raise NotFound(f"no route {seen.path}")
        table, sys_id = m.groups()
        query = {k: v[-1] for k, v in seen.query.items()}
        fields = query.get("sysparm_fields")
        if table not in self.tables:
            return Reply(400, {"error": {"message": "Invalid table", "detail": table}})
        if sys_id is None and seen.method == "GET":
            return self._list(table, query)
        if sys_id is None or sys_id not in self.tables[table]:
            raise NotFound(f"{table}/{sys_id}")
        row = self.tables[table][sys_id]
        if seen.method == "GET":
            return Reply(200, {"result": pick(self._visible(row), fields)})
        if seen.method in ("PATCH", "PUT"):
            values = _body(seen)
            if not isinstance(values, dict):
                return Reply(400, {"error": {"message": "Exception while reading request"}})
            for name, value in values.items():
                if name in JOURNAL_FIELDS:
                    if value:
                        self._append_journal(table, sys_id, name, str(value))
                else:
                    row[name] = value
            row["sys_updated_on"] = _stamp()
            return Reply(200, {"result": pick(self._visible(row), fields)})
        return Reply(405, {"error": {"message": "Method not supported"}})

    def _visible(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.startswith("_")}

    def _append_journal(self, table: str, sys_id: str, element: str, value: str) -> None:
        self._counter += 1
        entry_id = f"j{self._counter:08d}"
        self.tables["sys_journal_field"][entry_id] = {
            "sys_id": entry_id,
            "name": table,
            "element": element,
            "element_id": sys_id,
            "value": value,
            "sys_created_on": _stamp(),
            "sys_created_by": "xpulse",
            "_order": self._counter,
        }

    def _list(self, table: str, query: dict[str, str]) -> Reply:
        encoded = query.get("sysparm_query", "")
        try:
            rows = [r for r in self.tables[table].values() if matches(r, encoded)]
        except ValueError as exc:
            return Reply(400, {"error": {"message": str(exc)}})
        rows = ordered(sorted(rows, key=lambda r: r.get("_order", 0)), encoded)
        offset = int(query.get("sysparm_offset", "0"))
        limit = int(query.get("sysparm_limit", "10000"))
        page = rows[offset : offset + limit]
        result = [pick(self._visible(r), query.get("sysparm_fields")) for r in page]
        return Reply(200, {"result": result}, {"X-Total-Count": str(len(rows))})


# --- Jira -------------------------------------------------------------------------------

ISSUE = re.compile(r"^/rest/api/2/issue/([^/]+)$")
PROPERTY = re.compile(r"^/rest/api/2/issue/([^/]+)/properties/([^/]+)$")
COMMENTS = re.compile(r"^/rest/api/2/issue/([^/]+)/comment$")
SD_COMMENTS = re.compile(r"^/rest/servicedeskapi/request/([^/]+)/comment$")


@dataclass
class Issue:
    id: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)


class JiraStandIn(StandIn):
    """Issues with fields, properties and comments. Service Management comments are issue
    comments too (the platform listing shows internal ones to agents, as Jira does)."""

    def __init__(self, *, auth: str | None = None) -> None:
        self.issues: dict[str, Issue] = {}
        self.max_results = 100  # Jira caps a page below what was asked for; callers must cope
        self._counter = 10000
        super().__init__(auth=auth)

    def add_issue(self, issue_id: str, key: str, **fields: Any) -> None:
        with self.lock:
            issue = Issue(issue_id, key, dict(fields))
            self.issues[issue_id] = self.issues[key] = issue

    def comments(self, issue: str) -> list[str]:
        """The comment bodies of an issue, oldest first."""
        with self.lock:
            return [c["body"] for c in self.issues[issue].comments]

    def property(self, issue: str, key: str) -> Any:
        with self.lock:
            return self.issues[issue].properties.get(key)

    def not_found(self, message: str) -> Reply:
        return Reply(404, {"errorMessages": [message], "errors": {}})

    def _issue(self, ref: str) -> Issue:
        if ref not in self.issues:
            raise NotFound("Issue does not exist or you do not have permission to see it.")
        return self.issues[ref]

    def route(self, seen: Seen) -> Reply:
        query = {k: v[-1] for k, v in seen.query.items()}
        if m := PROPERTY.match(seen.path):
            return self._property(seen, self._issue(m[1]), m[2])
        if m := COMMENTS.match(seen.path):
            return self._comments(seen, self._issue(m[1]), query, sd=False)
        if m := SD_COMMENTS.match(seen.path):
            return self._comments(seen, self._issue(m[1]), query, sd=True)
        if m := ISSUE.match(seen.path):
            issue = self._issue(m[1])
            if seen.method == "GET":
                return Reply(200, {"id": issue.id, "key": issue.key, "fields": dict(issue.fields)})
            if seen.method == "PUT":
                data = _body(seen)
                if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
                    return Reply(400, {"errorMessages": ["fields expected"], "errors": {}})
                issue.fields.update(data["fields"])
                return Reply(204)
        raise NotFound(f"no route {seen.method} {seen.path}")

    def _property(self, seen: Seen, issue: Issue, key: str) -> Reply:
        if seen.method == "GET":
            if key not in issue.properties:
                raise NotFound(f"The property with key '{key}' does not exist.")
            return Reply(200, {"key": key, "value": issue.properties[key]})
        if seen.method == "PUT":
            created = key not in issue.properties
            issue.properties[key] = _body(seen)
            return Reply(201 if created else 200)
        raise NotFound(f"no route {seen.method} {seen.path}")

    def _comments(self, seen: Seen, issue: Issue, query: dict[str, str], *, sd: bool) -> Reply:
        if seen.method == "POST":
            data = _body(seen)
            if not isinstance(data, dict) or not data.get("body"):
                return Reply(400, {"errorMessages": ["Comment body can not be empty!"]})
            self._counter += 1
            comment = {
                "id": str(self._counter),
                "body": data["body"],
                "public": bool(data.get("public", True)) if sd else True,
                "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
            issue.comments.append(comment)
            return Reply(201, comment)
        if seen.method != "GET":
            raise NotFound(f"no route {seen.method} {seen.path}")
        rows = list(issue.comments)
        if sd:
            start, limit = int(query.get("start", "0")), int(query.get("limit", "50"))
            page = rows[start : start + limit]
            return Reply(
                200,
                {
                    "start": start,
                    "limit": limit,
                    "size": len(page),
                    "isLastPage": start + limit >= len(rows),
                    "values": page,
                },
            )
        if query.get("orderBy") == "-created":
            rows.reverse()
        start = int(query.get("startAt", "0"))
        limit = min(int(query.get("maxResults", "50")), self.max_results)
        return Reply(
            200,
            {
                "startAt": start,
                "maxResults": limit,
                "total": len(rows),
                "comments": rows[start : start + limit],
            },
        )


# --- a generic callback receiver --------------------------------------------------------


class CallbackReceiver(StandIn):
    """A tool receiving XPulse's signed callbacks as the Standard Webhooks spec asks receivers
    to: every delivery is logged in `seen`; `events` keeps one per `webhook-id`."""

    def __init__(self, *, auth: str | None = None) -> None:
        self.events: dict[str, Any] = {}
        super().__init__(auth=auth)

    def route(self, seen: Seen) -> Reply:
        if seen.method != "POST":
            raise NotFound(f"no route {seen.method} {seen.path}")
        msg_id = seen.headers.get("webhook-id")
        if not msg_id:
            return Reply(400, {"error": "webhook-id missing"})
        self.events.setdefault(msg_id, _body(seen))
        return Reply(204)
