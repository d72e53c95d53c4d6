"""The public page flows behind /f/{token}: show, answer, HEAD, trap link, opt-out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import utcnow
from app.config import Settings
from app.feedback import answers, i18n, optouts, web
from app.feedback.models import FeedbackRequest, OpenKind
from app.feedback.render import render
from app.feedback.scales import (
    LOST_TIME_MINUTES,
    NEGATIVE_FACTORS,
    POSITIVE_FACTORS,
    SCALES,
    factor_polarity,
    offered_factors,
)
from app.tickets.models import Ticket


async def show(request: Request, session: AsyncSession, token: str, settings: Settings) -> Response:
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now)
    scale = SCALES[fb.scale]
    chosen = _int(request.query_params.get("s"))
    if chosen is not None and chosen not in scale.scores:
        chosen = None
    if chosen is not None:
        response = await answers.record_open(
            session,
            request=fb,
            kind=OpenKind.page,
            score=chosen,
            user_agent=request.headers.get("user-agent"),
            client_hash=web.client_hash(request),
            settings=settings,
            now=now,
        )
    else:
        response = await answers.current_response(session, fb.id)
    counted = response if response is not None and not response.automated else None
    factors = await answers.response_factors(session, counted.id) if counted else []
    ticket = await session.get(Ticket, fb.ticket_id)
    lang = web.locale_for(request, fb, settings)
    # After a plain form post that was not counted (no script), the page says so and offers
    # the confirm button; with script, page.js shows the same notice from the JSON answer.
    held = _int(request.query_params.get("unconfirmed"))
    if held not in scale.scores or (counted is not None and counted.score == held):
        held = None
    context = _context(request, fb, ticket, lang, chosen, counted, factors, settings, token, held)
    return web.secure(HTMLResponse(render("page.html", **context)))


def _context(
    request: Request,
    fb: FeedbackRequest,
    ticket: Ticket | None,
    lang: str,
    chosen: int | None,
    counted: Any,
    factors: list[str],
    settings: Settings,
    token: str,
    unconfirmed: int | None,
) -> dict[str, Any]:
    s = i18n.strings(lang)
    scale = SCALES[fb.scale]
    selected = chosen if chosen is not None else (counted.score if counted else None)
    if unconfirmed is not None:
        selected = unconfirmed
    band = scale.band(selected) if selected is not None else None
    offered = set(offered_factors(band)) if band else set()
    path = f"/f/{token}"
    # Switching language before the script recorded the mail's score keeps that score; the
    # script drops `s` from these links once it is saved.
    keep = {"s": chosen} if chosen is not None and counted is None else {}
    return {
        "lang": lang,
        "s": s,
        "langs": [
            {"code": code, "name": name, "href": f"{path}?{urlencode({**keep, 'lang': code})}"}
            for code, name in i18n.LANGUAGE_NAMES.items()
        ],
        "number": ticket.number if ticket else "",
        "ticket_title": ticket.title if ticket else "",
        "post_url": path,
        "trap_url": f"{path}/go",
        "opt_out_url": f"{path}/opt-out?{urlencode({'lang': lang})}",
        "view": web.stamp(token, settings),
        "unconfirmed": unconfirmed,
        "pending": chosen if chosen is not None else "",
        "counted": counted is not None,
        "selected": selected,
        "dwell_ms": settings.feedback.click_dwell_ms,
        "sweep_controls": settings.feedback.scanner_sweep_controls,
        "happy_from": scale.happy_from,
        "neutral_from": scale.neutral_from,
        "buttons": [
            {
                "score": score,
                "face": scale.labels.get(score, ""),
                "tone": round((score - scale.min) / (scale.max - scale.min) * 10),
                "selected": score == selected,
            }
            for score in scale.scores
        ],
        "factors": [
            {
                "key": key,
                "label": s[f"f_{key}"],
                "polarity": factor_polarity(key),
                "offered": key in offered,
                "checked": key in factors,
            }
            for key in POSITIVE_FACTORS + NEGATIVE_FACTORS
        ],
        "lost": [
            {"key": key, "label": s[f"l_{key}"], "checked": counted and counted.lost_time == key}
            for key in LOST_TIME_MINUTES
        ],
        "comment": counted.comment if counted else "",
        "closes": s["thanks_detail"].format(date=i18n.format_date(lang, fb.expires_at)),
    }


async def submit(
    request: Request, session: AsyncSession, token: str, settings: Settings
) -> Response:
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now)
    answer, click = await web.parse_answer(request, token, settings)
    saved = await answers.record_response(
        session, request=fb, answer=answer, click=click, settings=settings, now=now
    )
    lang = answer.locale or web.locale_for(request, fb, settings)
    response = saved.response
    if not web.wants_json(request):
        query = {"lang": lang}
        if not saved.counted and answer.score is not None:
            query["unconfirmed"] = str(answer.score)
        return RedirectResponse(f"/f/{token}?{urlencode(query)}", status_code=303)
    scale = SCALES[fb.scale]
    on_record = not response.automated  # what is counted now (maybe an earlier answer)
    factors = saved.factors if saved.factors is not None else []
    if on_record and saved.factors is None:  # an earlier answer stands: read its factors
        factors = await answers.response_factors(session, response.id)
    return web.json_answer(
        {
            "score": response.score if on_record else None,
            "scale": fb.scale,
            "factors": factors,
            "lost_time": response.lost_time if on_record else None,
            "comment": response.comment if on_record else None,
            "counted": saved.counted,
            "offered_factors": list(offered_factors(scale.band(answer.score or response.score))),
        }
    )


async def head(request: Request, session: AsyncSession, token: str, settings: Settings) -> Response:
    """HEAD never answers anything; it is kept as evidence (people's browsers do not send it)."""
    fb = await answers.request_by_token(session, token, now=utcnow())
    await _log_open(
        request, session, fb, OpenKind.head, settings, _int(request.query_params.get("s"))
    )
    return web.secure(Response(status_code=200, media_type="text/html; charset=utf-8"))


async def trap(request: Request, session: AsyncSession, token: str, settings: Settings) -> Response:
    """The hidden link of the mail and page: only software follows it."""
    fb = await answers.request_by_token(session, token, now=utcnow())
    await _log_open(request, session, fb, OpenKind.trap, settings)
    lang = web.locale_for(request, fb, settings)
    s = i18n.strings(lang)
    html = render("message.html", lang=lang, s=s, title=s["title"], body="", back=None)
    return web.secure(HTMLResponse(html))


async def _log_open(
    request: Request,
    session: AsyncSession,
    fb: FeedbackRequest,
    kind: str,
    settings: Settings,
    score: int | None = None,
) -> None:
    await answers.record_open(
        session,
        request=fb,
        kind=kind,
        score=score if score is None or score in SCALES[fb.scale].scores else None,
        user_agent=request.headers.get("user-agent"),
        client_hash=web.client_hash(request),
        settings=settings,
        now=utcnow(),
    )


async def opt_out_form(
    request: Request, session: AsyncSession, token: str, settings: Settings
) -> Response:
    """Ask first (a GET never changes anything); the fetch is kept as evidence."""
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now, allow_closed=True)
    if request.method == "GET":
        await _log_open(request, session, fb, OpenKind.opt_out, settings)
    state = await optouts.state(session, fb)
    return _opt_out_page(request, fb, token, settings, state)


async def opt_out(
    request: Request, session: AsyncSession, token: str, settings: Settings
) -> Response:
    """RFC 8058 one-click unsubscribe (mail providers), or the page's button judged like an
    answer; `action=undo` takes an opt-out back."""
    now = utcnow()
    fb = await answers.request_by_token(session, token, now=now, allow_closed=True)
    form = await request.form()
    if form.get("List-Unsubscribe") == "One-Click" and not request.headers.get("sec-fetch-site"):
        # Mail providers post this server to server (RFC 8058), never from a page.
        await optouts.one_click(session, fb, headers=dict(request.headers), now=now)
        return Response(status_code=200)
    signals = web.json_dict(form.get("signals"))
    click = web.click_of(request, token, settings, signals, form.get("view"), form.get("confirm"))
    undo = form.get("action") == "undo"
    state = await optouts.press(session, fb, click=click, undo=undo, settings=settings, now=now)
    return _opt_out_page(request, fb, token, settings, state)


def _opt_out_page(
    request: Request, fb: FeedbackRequest, token: str, settings: Settings, state: str
) -> Response:
    lang = web.locale_for(request, fb, settings)
    s = i18n.strings(lang)
    html = render(
        "optout.html",
        lang=lang,
        s=s,
        action=f"/f/{token}/opt-out?{urlencode({'lang': lang})}",
        state=state,
        view=web.stamp(token, settings),
    )
    return web.secure(HTMLResponse(html))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
