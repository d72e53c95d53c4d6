"""/api/v1: every domain's admin router. Each route declares its key scope."""

from fastapi import APIRouter

from app.actions.routes import router as actions
from app.audit.routes import router as audit
from app.auth.routes import router as api_keys
from app.auth.session_routes import router as dashboard_sessions
from app.connectors.routes import router as connectors
from app.feedback.routes import router as feedback
from app.jobs.routes import router as jobs
from app.privacy.routes import router as privacy
from app.scoring.routes import router as scoring

api_router = APIRouter(prefix="/api/v1")
for _router in (api_keys, dashboard_sessions, jobs, connectors, feedback, scoring, audit, privacy):
    api_router.include_router(_router)
api_router.include_router(actions)
