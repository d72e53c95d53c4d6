"""The app shell: health, readiness, metrics, errors, auth and the request transaction."""

from __future__ import annotations

import gc
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import ApiKey, Scope
from app.clock import utcnow
from app.db import get_session, make_sessionmaker
from app.feedback.tokens import token_for
from app.main import create_app

PROBLEM = "application/problem+json"


@pytest.fixture
async def admin_key_plain(committed: AsyncEngine) -> str:
    """An admin key committed for a live server (the `committed` fixture truncates after)."""
    async with make_sessionmaker(committed)() as s:
        _, plain = await auth_service.create_key(s, name="live", scope=Scope.admin, now=utcnow())
        await s.commit()
    return plain


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migration"] == client._transport.app.state.head_revision  # type: ignore[attr-defined]


async def test_readyz_reports_an_unreachable_database(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    from app.db import create_engine

    app.state.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert int(response.headers["retry-after"]) > 0
    await app.state.engine.dispose()


async def test_metrics_has_requests_and_jobs(
    client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    await client.get("/healthz")
    body = (await client.get("/metrics", headers=read_headers)).text
    assert 'xpulse_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert 'xpulse_jobs{status="dead"}' in body
    assert "xpulse_http_request_duration_seconds_bucket" in body


async def test_request_id_is_echoed_and_generated(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"X-Request-ID": "abc123"})).headers[
        "x-request-id"
    ] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_missing_key_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/jobs")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/unauthorized") and body["status"] == 401


async def test_wrong_key_is_401(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    forged = admin_headers["Authorization"][:-4] + "AAAA"
    for value in (forged, "Bearer nonsense", "Basic dXNlcjpwYXNz"):
        response = await client.get("/api/v1/jobs", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["content-type"] == PROBLEM


async def test_read_key_reads_but_cannot_administer(
    client: httpx.AsyncClient, read_headers: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/jobs", headers=read_headers)).status_code == 200
    response = await client.post("/api/v1/api-keys", json={"name": "x"}, headers=read_headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/forbidden")


async def test_created_key_works_and_is_stored_only_hashed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scope": "read"}, headers=admin_headers
    )
    assert created.status_code == 201
    plain = created.json()["key"]
    listed = await client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {plain}"})
    assert listed.status_code == 403  # listing keys is admin-only, but the key authenticated
    assert (
        await client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {plain}"})
    ).status_code == 200
    stored = (await session.scalars(select(ApiKey))).all()
    assert all(plain not in (k.key_hash, k.prefix, k.name) for k in stored)


async def test_revoked_key_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = (
        await client.post("/api/v1/api-keys", json={"name": "tmp"}, headers=admin_headers)
    ).json()
    assert (
        await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin_headers)
    ).status_code == 204
    response = await client.get(
        "/api/v1/jobs", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert response.status_code == 401


async def test_validation_error_names_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/api-keys", json={"scope": "root"}, headers=admin_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "scope"}


async def test_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    response = await client.post(
        "/api/v1/api-keys",
        content=big,
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")


async def test_streamed_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async def chunks():
        for _ in range(20):
            yield b"x" * 100_000

    response = await client.post(
        "/api/v1/api-keys",
        content=chunks(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        # What SQLAlchemy raises when the connection dies during COMMIT.
        (OperationalError("COMMIT", None, ConnectionResetError(), True, True), 503),
        (RuntimeError("a bug"), 500),
    ],
)
async def test_a_failed_commit_answers_5xx_not_2xx(
    app: FastAPI,
    client: httpx.AsyncClient,
    committed: AsyncEngine,
    failure: Exception,
    status: int,
) -> None:
    """The real get_session commits before the answer (scope="function"): a failed commit
    reaches the client as a 5xx problem, never as the handler's 201; a lost connection is a
    503 to retry, anything else a 500."""
    async with make_sessionmaker(committed)() as s:
        _, plain = await auth_service.create_key(s, name="real", scope=Scope.admin, now=utcnow())
        await s.commit()

    class FailingCommit(AsyncSession):
        async def commit(self) -> None:
            raise failure

    app.state.sessionmaker = lambda: FailingCommit(bind=committed, expire_on_commit=False)
    del app.dependency_overrides[get_session]  # the real dependency, as in production
    response = await client.post(
        "/api/v1/api-keys", json={"name": "lost"}, headers={"Authorization": f"Bearer {plain}"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"]
    assert ("retry-after" in response.headers) == (status == 503)
    async with make_sessionmaker(committed)() as s:
        assert await s.scalar(select(ApiKey).where(ApiKey.name == "lost")) is None


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
async def test_docs_are_served(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


async def test_request_logs_are_json_with_the_request_id(client: httpx.AsyncClient) -> None:
    import io
    import json
    import logging

    from app.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("xpulse.http")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        response = await client.get("/healthz", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert response.headers["x-request-id"] == "req-42"
    assert line["request_id"] == "req-42"
    assert line["path"] == "/healthz" and line["status"] == 200


def test_log_fields_named_like_secrets_are_redacted() -> None:
    import json
    import logging

    from app.logs import JsonFormatter

    record = logging.LogRecord("x", logging.INFO, "f", 1, "connector saved", None, None)
    record.webhook_secret = "s3cr3t"
    record.connector = "sn-prod"
    line = json.loads(JsonFormatter().format(record))
    assert line["webhook_secret"] == "[redacted]" and line["connector"] == "sn-prod"
    assert "s3cr3t" not in JsonFormatter().format(record)


async def test_database_errors_never_carry_the_values(session: AsyncSession) -> None:
    """Engines hide parameters: a rejected value (a secret, an e-mail) stays out of the logs."""
    from sqlalchemy.exc import DBAPIError

    secret = "s3cr3t-" + "x" * 300  # longer than api_keys.name
    with pytest.raises(DBAPIError) as caught:
        async with session.begin_nested():
            session.add(ApiKey(name=secret, prefix="p", key_hash="h", scope="read"))
            await session.flush()
    assert "s3cr3t" not in str(caught.value)


async def test_startup_freezes_its_objects_out_of_the_collector(settings) -> None:
    """Full GC passes over the app's own long-lived objects paused requests for ~80 ms."""
    from app.main import create_app

    application = create_app(settings, start_ticker_=False)
    async with application.router.lifespan_context(application):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


# --- a real server: errors never cost the keep-alive connection ---------------------------


def _keep_alive_exchange(base_url: str, requests: list[tuple]) -> list[tuple[int, dict]]:
    """Send every request on ONE connection; each answer's status and headers. Fails if the
    server closed the connection (http.client would otherwise reconnect silently)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    answers = []
    try:
        conn.connect()
        sock = conn.sock
        for method, path, body, headers in requests:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert conn.sock is sock, f"{method} {path}: the connection was replaced"
            assert not response.will_close, f"{method} {path}: the server closes the connection"
            answers.append((response.status, {k.lower(): v for k, v in response.getheaders()}))
    finally:
        conn.close()
    return answers


def test_after_any_error_the_same_connection_serves_the_next_request(
    pg_url: str, admin_key_plain: str
) -> None:
    """A bug (500), a NUL (422), an unknown path (404), a wrong method (405), a body over the
    cap (413), each followed by /healthz on the same keep-alive connection; every answer has
    X-Request-ID, the 405 has Allow."""
    from tests.conftest import LiveServer, make_settings

    def build(url: str) -> FastAPI:
        application = create_app(make_settings(pg_url, public_url=url), start_ticker_=False)

        @application.get("/test/bug", include_in_schema=False)
        async def bug() -> None:
            raise RuntimeError("a bug")

        return application

    auth = {"Authorization": f"Bearer {admin_key_plain}"}
    json_type = {**auth, "Content-Type": "application/json"}
    errors = [
        ("GET", "/test/bug", None, {}),
        ("GET", "/api/v1/scores?service=a%00b", None, auth),
        ("GET", "/nope", None, {}),
        ("PUT", "/healthz", None, {}),
        ("POST", "/api/v1/api-keys", b"x" * 1_100_000, json_type),
        ("POST", "/api/v1/api-keys", b"[" * 10_000, json_type),
    ]
    healthz = ("GET", "/healthz", None, {})
    with LiveServer(build) as server:
        answers = _keep_alive_exchange(server.url, [r for e in errors for r in (e, healthz)])
    statuses = [status for status, _ in answers]
    assert statuses[::2] == [500, 422, 404, 405, 413, 422]  # each error …
    assert statuses[1::2] == [200] * 6  # … and the next request on the same connection
    assert all(headers.get("x-request-id") for _, headers in answers)
    assert answers[6][1]["allow"] == "GET"
    assert all(h["content-type"] == PROBLEM for s, h in answers if s >= 400)


def test_an_unreachable_database_is_503_with_retry_after_on_a_kept_connection(
    pg_url: str,
) -> None:
    """Webhooks, feedback clicks and API calls while the database cannot be reached: 503
    problem+json with Retry-After, on a connection that stays open; /readyz is 503 too."""
    from tests.conftest import LiveServer, make_settings

    dead = "postgresql+asyncpg://postgres@127.0.0.1:1/xpulse"  # nothing listens on port 1

    def build(url: str) -> FastAPI:
        return create_app(make_settings(dead, public_url=url), start_ticker_=False)

    page = f"/f/{token_for(uuid.uuid4(), 'test-secret-key-0123456789')}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    requests = [
        ("POST", "/webhooks/sn-prod", b"{}", {"Content-Type": "application/json"}),
        ("GET", page, None, {}),
        ("POST", page, b"score=9", form),
        ("GET", "/api/v1/jobs", None, {"Authorization": "Bearer xp_0123_abc"}),
        ("GET", "/readyz", None, {}),
        ("GET", "/healthz", None, {}),
        ("GET", page, None, {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}),
    ]
    with LiveServer(build) as server:
        answers = _keep_alive_exchange(server.url, requests)
    assert [status for status, _ in answers] == [503, 503, 503, 503, 503, 200, 503]
    for _, headers in answers[:4]:
        assert headers["content-type"] == PROBLEM
        assert int(headers["retry-after"]) > 0
    browser = answers[-1][1]  # a person who clicked a mail link gets a page, not JSON
    assert browser["content-type"].startswith("text/html") and browser["retry-after"]
    assert all(headers.get("x-request-id") for _, headers in answers)


def test_a_row_changed_by_a_concurrent_request_is_409_not_500() -> None:
    """PATCH racing a DELETE of the same connector: the UPDATE matches no row (StaleDataError)."""
    from sqlalchemy.orm.exc import StaleDataError
    from starlette.requests import Request

    from app.errors import unexpected_error

    scope = {"type": "http", "method": "PATCH", "path": "/api/v1/connectors/x", "headers": []}
    response = unexpected_error(Request(scope), StaleDataError("expected 1 row; 0 matched"))
    assert response.status_code == 409
    assert response.media_type == PROBLEM


async def test_openapi_documents_every_error_answer_as_a_problem(client: httpx.AsyncClient) -> None:
    """One generic pass (app/openapi.py): every operation, new ones included, documents 422,
    500 and (if it uses the database) 503 with Retry-After, 401/403 where a key is needed, all
    as application/problem+json with the Problem schema."""
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    assert "HTTPValidationError" not in str(schema)
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 40
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        expected = {"422", "500"} | ({"503"} if path not in ("/healthz", "/metrics") else set())
        if path.startswith("/api/v1/"):
            expected |= {"401"}
        assert expected <= set(responses), where
        for code, response in responses.items():
            if int(code) >= 400 and path != "/readyz":
                content = response["content"]["application/problem+json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, where
        if "503" in responses and path != "/readyz":
            assert "Retry-After" in responses["503"]["headers"], where
    admin_only = schema["paths"]["/api/v1/api-keys"]["post"]["responses"]
    read_only = schema["paths"]["/api/v1/inbound-events"]["get"]["responses"]
    assert "403" in admin_only and "403" not in read_only
