"""Every domain's models in one metadata, for Alembic and the tests."""

from app.actions.models import AlertFiring, AlertRule, Digest, DigestSend, Followup, Watermark
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, DashboardSession
from app.connectors.models import Connector, InboundEvent
from app.db import Base
from app.feedback.models import FeedbackRequest, OptOut, Response, ResponseFactor
from app.jobs.models import Job
from app.privacy.models import RetentionState
from app.scoring.models import XlaTarget
from app.tickets.models import Ticket

__all__ = [
    "AlertFiring",
    "AlertRule",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Connector",
    "DashboardSession",
    "Digest",
    "DigestSend",
    "FeedbackRequest",
    "Followup",
    "InboundEvent",
    "Job",
    "OptOut",
    "Response",
    "ResponseFactor",
    "RetentionState",
    "Ticket",
    "Watermark",
    "XlaTarget",
]
