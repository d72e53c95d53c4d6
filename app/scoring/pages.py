"""/dashboard/tickets and /dashboard/comments: the answers behind a figure, filtered like it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import web as auth_web
from app.auth.models import Role
from app.clock import utcnow
from app.db import SessionDep
from app.errors import AppError
from app.feedback.scales import NEGATIVE_FACTORS, POSITIVE_FACTORS
from app.scoring import comments, display, privacy, service, webpage
from app.scoring.schemas import AnswerBand

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


async def _answers_page(
    request: Request,
    session: AsyncSession,
    template: str,
    *,
    band: str | None,
    q: str | None,
    factor: str | None,
    cursor: str | None,
    lang: str | None,
) -> Response:
    """The shared body of both lists: sign-in, filter, privacy, one page of answers."""
    signed_in = await auth_web.current(session, request)
    if signed_in is None:
        return RedirectResponse("/dashboard", status_code=303)
    params = request.query_params
    try:
        filt = webpage.parse_filter(params, webpage.today_in(params, utcnow()))
        chosen = AnswerBand(band) if band else None
    except (ValidationError, ValueError) as exc:
        message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        return webpage.page(request, "error.html", {"message": message}, status=422)
    p = privacy.from_settings(request.app.state.settings)
    known = factor if factor in POSITIVE_FACTORS + NEGATIVE_FACTORS else None
    context: dict[str, Any] = {
        "filt": filt,
        "band": chosen.value if chosen else "",
        "q": q or "",
        "factor": known,
        "agent_figures": p.agent_figures,
        "hidden": None,
        "items": [],
        "next_link": None,
        "who": signed_in.display_name,
        "role": signed_in.role,
        "is_admin": signed_in.role == Role.admin,
        "locale": display.viewer_locale(lang, request.headers.get("accept-language")),
        "link": webpage.linker(filt, lang),
        "selects": webpage.selects(
            filt, await comments.filter_values(session, filt, agents=p.agent_figures)
        ),
    }
    try:
        p.check(filt)
        # A filter naming a small group shows no answers, as its figures are not shown.
        if p.names_group(filt) is not None:
            figures = await service.summary(session, filt, hourly_cost=0.0)
            if p.hides(filt, None, figures.responses):
                context["hidden"] = p.reason
                return webpage.page(request, template, context)
        items, next_cursor = await comments.answers(
            session,
            filt,
            band=chosen,
            q=q or None,
            factor=known,
            comments_only=template == "comments.html",
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    except AppError as exc:
        return webpage.page(request, "error.html", {"message": exc.detail}, status=exc.status)
    context["items"] = items
    if next_cursor:
        path = request.url.path
        context["next_link"] = context["link"](
            path, band=context["band"] or None, q=q or None, factor=known, cursor=next_cursor
        )
    return webpage.page(request, template, context)


Band = Annotated[str | None, Query(description="happy | neutral | unhappy")]
Cursor = Annotated[str | None, Query()]
Lang = Annotated[str | None, Query()]


@router.get("/dashboard/tickets", response_class=HTMLResponse)
async def tickets(
    request: Request,
    session: SessionDep,
    band: Band = None,
    factor: Annotated[str | None, Query()] = None,
    cursor: Cursor = None,
    lang: Lang = None,
) -> Response:
    """The tickets behind a figure: one row per counted answer, newest first."""
    return await _answers_page(
        request,
        session,
        "tickets.html",
        band=band,
        q=None,
        factor=factor,
        cursor=cursor,
        lang=lang,
    )


@router.get("/dashboard/comments", response_class=HTMLResponse)
async def comments_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    band: Band = None,
    cursor: Cursor = None,
    lang: Lang = None,
) -> Response:
    """Every counted comment for the filter, newest first, searchable by text."""
    return await _answers_page(
        request,
        session,
        "comments.html",
        band=band,
        q=q,
        factor=None,
        cursor=cursor,
        lang=lang,
    )
