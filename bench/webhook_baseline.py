"""The baseline for bench.webhook_ingest: a minimal FastAPI endpoint doing one INSERT with the
same stack (uvicorn, SQLAlchemy async, asyncpg, same pool size) as XPulse.

    uvicorn bench.webhook_baseline:app_factory --factory   (BENCH_DATABASE_URL=postgresql+asyncpg://…)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, MetaData, Table, insert
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
baseline_events = Table(
    "bench_baseline_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
)


def app_factory() -> FastAPI:
    url = os.environ["BENCH_DATABASE_URL"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_async_engine(url, pool_size=10, max_overflow=10)
        yield
        await app.state.engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/ingest", status_code=202)
    async def ingest(request: Request) -> JSONResponse:
        """Store the body: one INSERT in one transaction."""
        body = await request.body()
        async with request.app.state.engine.begin() as conn:
            await conn.execute(
                insert(baseline_events).values(received_at=datetime.now(UTC), body=body)
            )
        return JSONResponse({"stored": True}, status_code=202)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
