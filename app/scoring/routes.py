"""/api/v1 scores, factors, XLAs, insights and exports; the dashboard is in dashboard.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import AdminKey, ReadKey
from app.clock import utcnow
from app.db import SessionDep, get_session
from app.pagination import Page
from app.scoring import comments, exports, followups, insights, privacy, service, xla
from app.scoring.dashboard import public_router
from app.scoring.docs import described
from app.scoring.privacy import PrivacyDep
from app.scoring.schemas import (
    Answer,
    AnswerBand,
    Breakdown,
    Dimension,
    FactorList,
    HiddenAnswers,
    HiddenFactorList,
    HiddenSummary,
    Interval,
    ScoreFilter,
    ScoreSummary,
    Trend,
    Watermelon,
    XlaCreate,
    XlaRead,
    XlaUpdate,
    known_zone,
)

__all__ = ["public_router", "router"]

router = APIRouter(tags=["scores"])

Filter = Annotated[ScoreFilter, Query()]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
# An export streams after the handler returns, so its session must outlive the handler
# ("request" scope); the auth session keeps its commit-before-response scope.
StreamSession = Annotated[AsyncSession, Depends(get_session, scope="request")]


def hourly_cost(request: Request) -> float:
    return request.app.state.settings.hourly_cost


HourlyCost = Annotated[float, Depends(hourly_cost)]
FIGURES = ("sent", "rate", "happiness", "csat", "mean", "lost", "sla", "empty")


@router.get(
    "/scores", response_model=ScoreSummary | HiddenSummary, responses=privacy.AGENT_OFF_RESPONSE
)
async def get_scores(
    session: SessionDep, _: ReadKey, filt: Filter, cost: HourlyCost, p: PrivacyDep
) -> ScoreSummary | HiddenSummary:
    """Experience scores for a filter."""
    p.check(filt)
    figures, factors = await service.summary_and_factors(session, filt, hourly_cost=cost)
    summary = privacy.summary(p, filt, figures, factors)
    if isinstance(summary, ScoreSummary):  # follow-ups of a hidden group stay hidden too
        summary.followups = await followups.figures(session, filt)
    return summary


@router.get("/scores/breakdown", response_model=Breakdown, responses=privacy.AGENT_OFF_RESPONSE)
async def get_breakdown(
    session: SessionDep,
    _: ReadKey,
    filt: Filter,
    cost: HourlyCost,
    by: Dimension,
    p: PrivacyDep,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Breakdown:
    """Experience scores per service, group, agent or other ticket field."""
    p.check(filt, by)
    rows, next_cursor = await service.breakdown_page(
        session, filt, by=by, hourly_cost=cost, cursor=cursor, limit=limit
    )
    items = privacy.breakdown_items(p, filt, by, rows)
    return Breakdown(by=by, filter=filt, items=items, next_cursor=next_cursor)


@router.get("/scores/trend", response_model=Trend, responses=privacy.AGENT_OFF_RESPONSE)
async def get_trend(
    session: SessionDep,
    _: ReadKey,
    filt: Filter,
    cost: HourlyCost,
    p: PrivacyDep,
    interval: Interval = Interval.week,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 400,
) -> Trend:
    """Experience scores per day, ISO week or month of ticket resolution."""
    p.check(filt)
    rows, next_cursor = await service.trend_page(
        session, filt, interval=interval, hourly_cost=cost, cursor=cursor, limit=limit
    )
    items = privacy.trend_items(p, filt, rows)
    return Trend(interval=interval, filter=filt, items=items, next_cursor=next_cursor)


@router.get(
    "/factors",
    response_model=FactorList | HiddenFactorList,
    responses=privacy.AGENT_OFF_RESPONSE,
)
async def get_factors(
    session: SessionDep, _: ReadKey, filt: Filter, p: PrivacyDep
) -> FactorList | HiddenFactorList:
    """What influenced the experience: every factor with its share."""
    p.check(filt)
    if p.names_group(filt) is None:
        return await service.factors(session, filt)
    figures, factors = await service.summary_and_factors(session, filt, hourly_cost=0.0)
    return privacy.factor_list(p, filt, figures.responses, factors)


# --- XLAs -------------------------------------------------------------------------------------

At = Annotated[date | None, Query(description="A local day in the period to judge; default today.")]
Tz = Annotated[str, Query(description="IANA time zone of the period."), AfterValidator(known_zone)]


def _at(at: date | None, tz: str) -> date:
    return at or utcnow().astimezone(ZoneInfo(tz)).date()


@router.get("/xlas", response_model=Page[XlaRead], tags=["xlas"])
async def list_xlas(
    session: SessionDep,
    _: ReadKey,
    cost: HourlyCost,
    p: PrivacyDep,
    at: At = None,
    tz: Tz = "UTC",
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Page[XlaRead]:
    """List XLA targets, newest first, each with the status of its current period."""
    day = _at(at, tz)
    rows, next_cursor = await xla.page(session, cursor=cursor, limit=limit)
    items = [
        privacy.xla(p, await xla.read(session, r, at=day, tz=tz, hourly_cost=cost)) for r in rows
    ]
    return Page[XlaRead](items=items, next_cursor=next_cursor)


@router.post(
    "/xlas",
    response_model=XlaRead,
    status_code=status.HTTP_201_CREATED,
    tags=["xlas"],
)
async def create_xla(
    body: XlaCreate, session: SessionDep, _: AdminKey, cost: HourlyCost, p: PrivacyDep
) -> XlaRead:
    """Create an XLA target."""
    target = await xla.create(session, body)
    read = await xla.read(session, target, at=_at(None, "UTC"), tz="UTC", hourly_cost=cost)
    return privacy.xla(p, read)


@router.get("/xlas/{xla_id}", response_model=XlaRead, tags=["xlas"])
async def get_xla(
    xla_id: uuid.UUID,
    session: SessionDep,
    _: ReadKey,
    cost: HourlyCost,
    p: PrivacyDep,
    at: At = None,
    tz: Tz = "UTC",
) -> XlaRead:
    """Get an XLA target with its status for the period holding `at`."""
    target = await xla.get(session, xla_id)
    read = await xla.read(session, target, at=_at(at, tz), tz=tz, hourly_cost=cost)
    return privacy.xla(p, read)


@router.patch("/xlas/{xla_id}", response_model=XlaRead, tags=["xlas"])
async def update_xla(
    xla_id: uuid.UUID,
    body: XlaUpdate,
    session: SessionDep,
    _: AdminKey,
    cost: HourlyCost,
    p: PrivacyDep,
) -> XlaRead:
    """Change an XLA target."""
    target = await xla.update(session, xla_id, body)
    read = await xla.read(session, target, at=_at(None, "UTC"), tz="UTC", hourly_cost=cost)
    return privacy.xla(p, read)


@router.delete("/xlas/{xla_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["xlas"])
async def delete_xla(xla_id: uuid.UUID, session: SessionDep, _: AdminKey) -> None:
    """Delete an XLA target."""
    await xla.delete(session, xla_id)


# --- insights and exports ---------------------------------------------------------------------


@router.get(
    "/insights/watermelon",
    response_model=Watermelon,
    responses=privacy.AGENT_OFF_RESPONSE,
    tags=["insights"],
)
async def get_watermelon(
    session: SessionDep,
    _: ReadKey,
    filt: Filter,
    p: PrivacyDep,
    sla_min: Annotated[float, Query(ge=0, le=1)] = insights.SLA_MIN,
    happiness_max: Annotated[float, Query(ge=-100, le=100)] = insights.HAPPINESS_MAX,
    min_responses: Annotated[int, Query(ge=1)] = insights.MIN_RESPONSES,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Watermelon | JSONResponse:
    """Services and groups that look green on SLA and red on experience, and their tickets."""
    p.check(filt)
    groups = await insights.groups(
        session,
        filt,
        sla_min=sla_min,
        happiness_max=happiness_max,
        min_responses=min_responses,
        privacy=p,
    )
    tickets, next_cursor = await insights.tickets(session, filt, cursor=cursor, limit=limit)
    found = Watermelon(
        sla_min=sla_min,
        happiness_max=happiness_max,
        min_responses=min_responses,
        groups=groups,
        tickets=tickets,
        next_cursor=next_cursor,
    )
    if p.agent_figures:
        return found
    # The agent column is removed, not just emptied.
    return JSONResponse(found.model_dump(mode="json", exclude={"tickets": {"__all__": {"agent"}}}))


# --- comments ---------------------------------------------------------------------------------


@router.get(
    "/comments",
    response_model=Page[Answer] | HiddenAnswers,
    responses=privacy.AGENT_OFF_RESPONSE,
    tags=["insights"],
)
async def list_comments(
    session: SessionDep,
    _: ReadKey,
    filt: Filter,
    p: PrivacyDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Text the comment contains (any case).")
    ] = None,
    band: Annotated[AnswerBand | None, Query(description="Only answers in this band.")] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[Answer] | HiddenAnswers | JSONResponse:
    """Counted comments for a filter with their score, band and ticket, newest first."""
    p.check(filt)
    if p.names_group(filt) is not None:
        figures = await service.summary(session, filt, hourly_cost=0.0)
        if p.hides(filt, None, figures.responses):
            return HiddenAnswers(filter=filt, hidden=p.reason)
    items, next_cursor = await comments.answers(
        session, filt, band=band, q=q or None, comments_only=True, cursor=cursor, limit=limit
    )
    found = Page[Answer](items=items, next_cursor=next_cursor)
    if p.agent_figures:
        return found
    # The agent field is removed, not just emptied (as on the watermelon tickets).
    return JSONResponse(
        found.model_dump(mode="json", exclude={"items": {"__all__": {"ticket": {"agent"}}}})
    )


async def _stream(
    session: AsyncSession, filt: ScoreFilter, fmt: str, p: privacy.Privacy
) -> AsyncIterator[str]:
    columns = exports.columns(agent=p.agent_figures)
    if fmt == "csv":
        yield exports.csv_header(columns)
    async for batch in exports.records(session, filt, columns):
        yield exports.csv_rows(batch, columns) if fmt == "csv" else exports.jsonl(batch)


@router.get(
    "/exports/responses.csv",
    tags=["exports"],
    response_class=StreamingResponse,
)
async def export_csv(
    _: AdminKey, filt: Filter, session: StreamSession, p: PrivacyDep
) -> StreamingResponse:
    """Per-ticket responses (admin only) joined with their tickets as CSV, streamed."""
    p.check(filt)
    return StreamingResponse(
        _stream(session, filt, "csv", p),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="responses.csv"'},
    )


@router.get(
    "/exports/responses.jsonl",
    tags=["exports"],
    response_class=StreamingResponse,
)
async def export_jsonl(
    _: AdminKey, filt: Filter, session: StreamSession, p: PrivacyDep
) -> StreamingResponse:
    """Per-ticket responses (admin only) joined with their tickets as JSON Lines, streamed."""
    p.check(filt)
    return StreamingResponse(
        _stream(session, filt, "jsonl", p),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="responses.jsonl"'},
    )


# Each endpoint's OpenAPI text: its docstring, then the docs/scoring.md definitions it reports.
DEFINED: dict[str, tuple[str, ...]] = {
    "get_scores": (*FIGURES, "factor", "time"),
    "get_breakdown": (*FIGURES, "time"),
    "get_trend": (*FIGURES, "time"),
    "get_factors": ("factor", "empty", "time"),
    "list_xlas": ("xla",),
    "create_xla": ("xla",),
    "get_xla": ("xla",),
    "update_xla": ("xla",),
    "get_watermelon": ("watermelon", "sla", "happiness", "time"),
    "list_comments": ("empty", "time"),
    "export_csv": ("export",),
    "export_jsonl": ("export",),
}
for _route in router.routes:
    if isinstance(_route, APIRoute) and _route.name in DEFINED:
        _route.description = f"{_route.description}\n\n{described(*DEFINED[_route.name])}"
