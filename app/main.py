"""create_app(): routers, error handlers, middleware, and a lifespan that owns the engine,
the outbound HTTP client and the ticker."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app import api, health, secrets_box
from app.auth.deps import require_scope
from app.auth.models import Scope
from app.config import Settings, get_settings
from app.connectors.routes import public_router as webhooks
from app.db import create_engine, make_sessionmaker
from app.docs_ui import install_docs
from app.errors import install_error_handlers
from app.feedback.outbox import router as dev_outbox
from app.feedback.routes import public_router as feedback_pages
from app.http import make_http_client
from app.jobs.ticker import start_ticker
from app.jobs.worker import Worker
from app.logs import configure_logging
from app.middleware import BodyLimitMiddleware, InputGuardMiddleware, ObservabilityMiddleware
from app.migrate import head_revision
from app.openapi import install_openapi
from app.scoring.routes import public_router as dashboard

DESCRIPTION = """
XPulse measures IT experience ticket by ticket: resolved ServiceNow and Jira tickets get a
one-click feedback request, responses become experience scores (docs/scoring.md), and each score is
written back onto its ticket.

Every `/api/v1` route needs an API key sent as `Authorization: Bearer <key>`
(`xpulse api-key create --scope admin`). Errors are RFC 9457 `application/problem+json`.
"""


def load_handlers() -> None:
    """Import every domain's jobs module so their handlers register with app.jobs.registry."""
    import app.actions.jobs
    import app.connectors.jobs
    import app.feedback.jobs  # noqa: F401


def create_app(settings: Settings | None = None, *, start_ticker_: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    load_handlers()
    secrets_box.configure(settings, announce=True)  # the key connector secrets are encrypted with

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.http = make_http_client(settings)
        scheduler = None
        run_ticker = settings.jobs.enabled if start_ticker_ is None else start_ticker_
        if run_ticker:
            worker = Worker(app.state.sessionmaker, app.state.http, settings)
            scheduler = start_ticker(worker, app.state.sessionmaker, settings)
        # Everything built so far (routes, schemas, models) lives as long as the process: keep
        # it out of the collector's full passes, which otherwise pause a request for ~80 ms.
        # Collect first, so that startup's garbage is freed rather than frozen.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app made and dropped in-process (tests) can then be collected
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await app.state.http.aclose()
            await engine.dispose()

    app = FastAPI(
        title="XPulse",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[{"name": "health", "description": "Liveness, readiness and metrics"}],
        docs_url=None,  # served by install_docs from local assets (FastAPI's load a CDN)
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs else None,  # XPULSE_API_DOCS
    )
    app.state.settings = settings
    app.state.head_revision = head_revision()
    install_error_handlers(app)
    # The last added runs first: request id and error answers, then the size cap, then the
    # input guard (which reads capped bodies).
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware)
    # The public hot paths first: a request walks the routes in order until one matches.
    app.include_router(webhooks)
    app.include_router(feedback_pages)
    app.include_router(health.router)
    # Metrics name connectors and show load: a read key unless the operator opts out.
    metrics_guard = [] if settings.metrics_public else [Depends(require_scope(Scope.read))]
    app.include_router(health.metrics_router, dependencies=metrics_guard)
    app.include_router(api.api_router)
    app.include_router(dashboard)
    app.include_router(dev_outbox)
    install_openapi(app)
    if settings.api_docs:
        install_docs(app)
    return app


def app_factory() -> FastAPI:
    """uvicorn --factory entry point."""
    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    return create_app(settings)
