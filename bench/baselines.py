"""The raw baselines of bench.hot_paths: the least a Python web service can do per request on
this machine, with the same framework and server as XPulse but the driver used directly.

    A  POST /a          one asyncpg INSERT of the request body (JSONB) per delivery
    C  GET  /c/{token}  one asyncpg UPDATE … WHERE token = $1 per click, a small HTML page back

    uvicorn bench.baselines:app_factory --factory   (BENCH_DSN=postgresql://…)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_a (
    id bigserial PRIMARY KEY, received_at timestamptz NOT NULL, body jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_c (
    token text PRIMARY KEY, opens integer NOT NULL DEFAULT 0, opened_at timestamptz);
"""


def app_factory() -> FastAPI:
    dsn = os.environ["BENCH_DSN"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/a", status_code=202)
    async def a(request: Request) -> JSONResponse:
        body = await request.body()
        await request.app.state.pool.execute(
            "INSERT INTO bench_a (received_at, body) VALUES (now(), $1::jsonb)", body.decode()
        )
        return JSONResponse({"stored": True}, status_code=202)

    @app.get("/c/{token}")
    async def c(token: str) -> HTMLResponse:
        await app.state.pool.execute(
            "UPDATE bench_c SET opens = opens + 1, opened_at = now() WHERE token = $1", token
        )
        return HTMLResponse("<!doctype html><title>Thanks</title><p>Thank you.</p>")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
