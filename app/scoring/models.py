from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, BigIntPK, Timestamps
from app.feedback.models import Response


class XlaScope(StrEnum):
    all = "all"
    service = "service"
    group = "group"


class XlaPeriod(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"


class XlaTarget(Timestamps, Base):
    __tablename__ = "xla_targets"

    id: Mapped[UUIDPK]
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16), default=XlaScope.all)
    scope_value: Mapped[str | None] = mapped_column(String(255))  # the service or group name
    period: Mapped[str] = mapped_column(String(16), default=XlaPeriod.month)
    min_happiness: Mapped[float]
    max_lost_minutes: Mapped[float | None]  # mean lost time target
    min_response_rate: Mapped[float | None]  # 0..1


# One row per ticket: the ticket fields figures filter and group by, and the counts of its
# feedback (docs/scoring.md's raw numbers), so a figure is one scan of this table instead of
# joins over every response. Triggers on tickets, feedback_requests, responses and
# response_factors queue each touched ticket in scoring_dirty (migration 0011); the queue is
# drained in the background and by every reader before it reads (app/scoring/upkeep.py).
SCALE_PREFIX = {"happiness-0-10": "s10", "faces-5": "s5"}


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class TicketScore(Base):
    __tablename__ = "ticket_scores"

    # No foreign key: a deleted ticket's row stays until a drain has subtracted it from the
    # bucket sums below (app/scoring/rollup.py, drop_gone).
    ticket_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # Copies of the ticket's fields, then the counters. The dimensions come first: a scan here
    # involves two or more of them and rejects most rows before reading on (migration 0015).
    connector_id: Mapped[uuid.UUID]
    resolved_at: Mapped[datetime | None]
    service: Mapped[str | None] = mapped_column(String(255))
    assignment_group: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(255))
    sla_known: Mapped[int] = _count()  # 1 when the ticket's SLA outcome is known
    sla_met: Mapped[int] = _count()  # 1 when it was met
    # counts of its feedback
    requests_sent: Mapped[int] = _count()
    requests_not_sent: Mapped[int] = _count()  # suppressed or failed
    responses: Mapped[int] = _count()  # counted ones: automated clicks never are
    s10_n: Mapped[int] = _count()
    s10_sum: Mapped[int] = _count()
    s10_happy: Mapped[int] = _count()
    s10_unhappy: Mapped[int] = _count()
    s5_n: Mapped[int] = _count()
    s5_sum: Mapped[int] = _count()
    s5_happy: Mapped[int] = _count()
    s5_unhappy: Mapped[int] = _count()
    lost_n: Mapped[int] = _count()
    lost_sum: Mapped[int] = _count()
    lost_0: Mapped[int] = _count()
    lost_10: Mapped[int] = _count()
    lost_25: Mapped[int] = _count()
    lost_45: Mapped[int] = _count()
    lost_90: Mapped[int] = _count()
    lost_180: Mapped[int] = _count()
    lost_360: Mapped[int] = _count()
    lost_720: Mapped[int] = _count()
    positive_responses: Mapped[int] = _count()  # responses that picked any positive factor
    negative_responses: Mapped[int] = _count()
    f_fast: Mapped[int] = _count()
    f_friendly: Mapped[int] = _count()
    f_first_contact: Mapped[int] = _count()
    f_informed: Mapped[int] = _count()
    f_learned: Mapped[int] = _count()
    f_expert: Mapped[int] = _count()
    f_slow: Mapped[int] = _count()
    f_repeat_explain: Mapped[int] = _count()
    f_not_informed: Mapped[int] = _count()
    f_closed_unasked: Mapped[int] = _count()
    f_not_solved: Mapped[int] = _count()
    f_hard_to_reach: Mapped[int] = _count()
    f_unfriendly: Mapped[int] = _count()

    __table_args__ = (Index("ix_ticket_scores_resolved_at", "resolved_at"),)


# Watermelon tickets and exports walk responses by answer time (keyset pagination, streaming).
Index("ix_responses_answered_at_id", Response.__table__.c.answered_at, Response.__table__.c.id)


class TicketNotSent(Base):
    """A ticket's suppressed or failed requests by reason (docs/scoring.md lists them by reason),
    with the same copy of the ticket's fields; kept exact the same way as TicketScore."""

    __tablename__ = "ticket_not_sent"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID]  # no foreign key, as for TicketScore
    status: Mapped[str] = mapped_column(String(16))  # suppressed | failed
    reason: Mapped[str | None] = mapped_column(Text)  # free text: never indexed
    requests: Mapped[int] = _count()
    connector_id: Mapped[uuid.UUID]
    service: Mapped[str | None] = mapped_column(String(255))
    assignment_group: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_ticket_not_sent_ticket_id", "ticket_id"),
        Index("ix_ticket_not_sent_resolved_at", "resolved_at"),
    )


class ScoringDirty(Base):
    """A ticket whose rows above must be recomputed: one row per change, appended by the
    triggers. Append-only on purpose: a drain deletes the rows it saw, so a writer's row that
    commits later is simply drained next time (a unique "dirty set" could lose that change)."""

    __tablename__ = "scoring_dirty"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    ticket_id: Mapped[uuid.UUID]  # no foreign key: a deleted ticket's mark is drained as a no-op


# Sums of ticket_scores and ticket_not_sent per UTC hour, day and month, over every ticket
# (dim '*') and per value of each dimension, so a figure over a long range reads a few rows per
# period instead of a row per ticket (app/scoring/buckets.py plans which; bucket_sql.py keeps
# them exact). Key: grain (1 hour, 2 day, 3 month), bucket (its start, epoch seconds), dim,
# value ('=' + the value, '' for none).
COUNTED = [c.key for c in TicketScore.__table__.columns if isinstance(c.type, Integer)]

ScoreBucket = Table(
    "score_buckets",
    Base.metadata,
    Column("grain", SmallInteger, nullable=False),
    Column("bucket", BigInteger, nullable=False),
    # int4 counts, as in ticket_scores: PostgreSQL sums int4 into int8, but int8 as numeric,
    # slower and read back as Decimal. A month's counts stay far below 2**31; lost minutes may
    # not (three million answers of a day lost), so they are int8.
    *(
        Column(c, BigInteger if c == "lost_sum" else Integer, nullable=False, server_default="0")
        for c in ["tickets", *COUNTED]
    ),
    Column("dim", String(32), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("dim", "value", "grain", "bucket"),
    Index("ix_score_buckets_dim_grain_bucket", "dim", "grain", "bucket"),
    # Room on each page: a drain updates a bucket's sums in place (a HOT update, no index
    # entry), which halved the upkeep per answer (bench/scoring_upkeep.py).
    postgresql_with={"fillfactor": "70"},
)

NotSentBucket = Table(
    "not_sent_buckets",
    Base.metadata,
    Column("grain", SmallInteger, nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("requests", Integer, nullable=False, server_default="0"),
    Column("dim", String(32), nullable=False),
    Column("value", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason_key", Text, nullable=False),  # the reason's md5 on PostgreSQL (index size)
    Column("reason", Text),
    PrimaryKeyConstraint("dim", "value", "grain", "bucket", "status", "reason_key"),
    Index("ix_not_sent_buckets_dim_grain_bucket", "dim", "grain", "bucket"),
)
