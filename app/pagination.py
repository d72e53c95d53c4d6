"""Cursor pagination for every list endpoint: keyset on (created_at, id), newest first."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError

T = TypeVar("T")


class InvalidCursor(AppError):
    status, type, title = 400, "invalid-cursor", "Invalid pagination cursor"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise InvalidCursor("The cursor is not one this API issued") from exc
    if not isinstance(values, list):
        raise InvalidCursor("The cursor is not one this API issued")
    return values


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    time_col: Any,
    id_col: Any,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Rows of `stmt` after `cursor`, newest first, and the cursor of the next page."""
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2:
            raise InvalidCursor("The cursor is not one this API issued")
        try:
            at = datetime.fromisoformat(values[0])
            last_id = id_col.type.python_type(values[1])
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("The cursor is not one this API issued") from exc
        stmt = stmt.where(or_(time_col < at, and_(time_col == at, id_col < last_id)))
    rows = list(
        (
            await session.scalars(stmt.order_by(time_col.desc(), id_col.desc()).limit(limit + 1))
        ).all()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, time_col.key), getattr(last, id_col.key))
