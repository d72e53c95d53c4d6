from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UUIDPK, Base, Timestamps


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
