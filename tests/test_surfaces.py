"""What the service shows besides its API: /metrics behind a read key (unless opted out), the
API documentation switchable off, and every API answer kept out of caches and never sniffed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_sessionmaker
from app.http import make_http_client
from app.main import create_app
from tests.conftest import make_settings


@asynccontextmanager
async def client_for(
    pg_url: str, engine: AsyncEngine, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(pg_url, **overrides)
    app = create_app(settings, start_ticker_=False)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.http = make_http_client(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await app.state.http.aclose()


def is_problem(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("application/problem+json")


# --- /metrics ------------------------------------------------------------------------------


async def test_metrics_need_a_read_key(
    client: httpx.AsyncClient, read_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    anonymous = await client.get("/metrics")
    assert anonymous.status_code == 401 and is_problem(anonymous)
    assert "xpulse_jobs" not in anonymous.text
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer xp_nope_nope"})
    assert wrong.status_code == 401
    for headers in (read_headers, admin_headers):
        allowed = await client.get("/metrics", headers=headers)
        assert allowed.status_code == 200
        assert 'xpulse_jobs{status="pending"}' in allowed.text


async def test_metrics_can_be_made_public(pg_url: str, pg_engine: AsyncEngine) -> None:
    async with client_for(pg_url, pg_engine, metrics_public=True) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "xpulse_http_requests_total" in response.text


async def test_the_openapi_document_says_metrics_need_a_key(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert operation.get("security")
    assert "401" in operation["responses"]


# --- /docs, /redoc, /openapi.json --------------------------------------------------------


async def test_api_documentation_is_served_by_default(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


async def test_api_documentation_can_be_switched_off(pg_url: str, pg_engine: AsyncEngine) -> None:
    async with client_for(pg_url, pg_engine, api_docs=False) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert is_problem(response), path
        assert (await client.get("/healthz")).status_code == 200  # the service itself runs


# --- headers on every answer ---------------------------------------------------------------


def hardened(response: httpx.Response) -> bool:
    return (
        response.headers.get("cache-control") == "no-store"
        and response.headers.get("x-content-type-options") == "nosniff"
    )


async def test_every_api_answer_is_not_stored_and_not_sniffed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    schema = (await client.get("/openapi.json")).json()
    listed = [
        path
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and "get" in item and "{" not in path
    ]
    assert len(listed) > 5
    for path in listed:
        for headers in (admin_headers, {}):  # an answer and the 401 problem
            response = await client.get(path, headers=headers)
            assert response.status_code < 500, path
            assert hardened(response), (path, response.status_code, response.headers)


async def test_problem_answers_anywhere_are_not_stored(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answers = [
        await client.post("/webhooks/no-such-connector", content=b"{}"),  # 404
        await client.get("/api/v1/connectors?limit=-3", headers=admin_headers),  # 422
        await client.get("/no/such/page"),  # 404
    ]
    for response in answers:
        assert response.status_code >= 400 and is_problem(response), response.text
        assert hardened(response), (response.request.url, response.headers)


async def test_every_answer_is_not_sniffed_and_pages_keep_their_caching(
    client: httpx.AsyncClient,
) -> None:
    health = await client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    asset = await client.get("/docs-assets/swagger-ui.css")
    assert asset.status_code == 200
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert asset.headers.get("cache-control") != "no-store"  # static files may be cached
