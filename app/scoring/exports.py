"""Responses joined with their tickets, streamed in batches as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.feedback.models import FeedbackRequest, Response, ResponseFactor
from app.feedback.scales import SCALES
from app.scoring.schemas import ScoreFilter
from app.scoring.sql import counted_responses, ticket_conditions
from app.tickets.models import Ticket

BATCH = 1000
COLUMNS = (
    "response_id",
    "answered_at",
    "score",
    "scale",
    "band",
    "normalised_score",
    "lost_time",
    "lost_minutes",
    "positive_factors",
    "negative_factors",
    "comment",
    "locale",
    "request_channel",
    "ticket_id",
    "ticket_number",
    "ticket_url",
    "connector_id",
    "source",
    "service",
    "assignment_group",
    "category",
    "priority",
    "channel",
    "agent",
    "opened_at",
    "resolved_at",
    "sla_met",
)


def columns(*, agent: bool) -> tuple[str, ...]:
    """The export's columns; without per-agent figures the agent column is not there at all."""
    return COLUMNS if agent else tuple(c for c in COLUMNS if c != "agent")


def _statement(filt: ScoreFilter) -> Any:
    r, t = Response, Ticket
    return (
        select(
            r.id.label("response_id"),
            r.answered_at,
            r.score,
            r.scale,
            r.lost_time,
            r.lost_minutes,
            r.comment,
            r.locale,
            FeedbackRequest.channel.label("request_channel"),
            t.id.label("ticket_id"),
            t.number.label("ticket_number"),
            t.url.label("ticket_url"),
            t.connector_id,
            t.source,
            t.service,
            t.assignment_group,
            t.category,
            t.priority,
            t.channel,
            t.assignee.label("agent"),
            t.opened_at,
            t.resolved_at,
            t.sla_met,
        )
        .join(t, t.id == r.ticket_id)
        .join(FeedbackRequest, FeedbackRequest.id == r.request_id)
        .where(counted_responses(), *ticket_conditions(filt))
        .order_by(r.answered_at, r.id)
    )


async def _factors(session: AsyncSession, ids: list[Any]) -> dict[Any, dict[str, list[str]]]:
    out: dict[Any, dict[str, list[str]]] = {}
    stmt = (
        select(ResponseFactor)
        .where(ResponseFactor.response_id.in_(ids))
        .order_by(ResponseFactor.factor)
    )
    for f in (await session.scalars(stmt)).all():
        out.setdefault(f.response_id, {}).setdefault(f.polarity, []).append(f.factor)
    return out


def _record(row: Any, factors: dict[str, list[str]], cols: tuple[str, ...]) -> dict[str, Any]:
    m = dict(row._mapping)
    scale = SCALES.get(m["scale"])
    m["band"] = scale.band(m["score"]).value if scale else None
    m["normalised_score"] = scale.normalised(m["score"]) if scale else None
    m["positive_factors"] = factors.get("positive", [])
    m["negative_factors"] = factors.get("negative", [])
    return {c: m[c] for c in cols}


async def records(
    session: AsyncSession, filt: ScoreFilter, cols: tuple[str, ...] = COLUMNS
) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of export records, oldest answer first; the rows are streamed, never all loaded."""
    result = await session.stream(_statement(filt).execution_options(yield_per=BATCH))
    async for partition in result.partitions(BATCH):
        factors = await _factors(session, [row.response_id for row in partition])
        yield [_record(row, factors.get(row.response_id, {}), cols) for row in partition]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def jsonl(batch: list[dict[str, Any]]) -> str:
    return "".join(
        json.dumps({k: _plain(v) for k, v in rec.items()}, ensure_ascii=False) + "\n"
        for rec in batch
    )


def _cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, list):
        value = ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # Spreadsheets run cells starting with these as formulas (CSV injection).
        return "'" + value
    return "" if value is None else value


def csv_header(cols: tuple[str, ...] = COLUMNS) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cols)
    return buffer.getvalue()


def csv_rows(batch: list[dict[str, Any]], cols: tuple[str, ...] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for rec in batch:
        writer.writerow([_cell(rec[c]) for c in cols])
    return buffer.getvalue()
