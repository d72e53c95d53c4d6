"""One digest as a localised multipart mail (plain text and simple HTML, no remote content)."""

from __future__ import annotations

import html
from email.message import EmailMessage

from app.actions import mail, texts
from app.actions.digests import Content, Quote
from app.actions.models import DigestScope
from app.config import Settings
from app.feedback import i18n
from app.scoring.schemas import ScoreFigures

TOP_FACTORS = 3


def _num(locale: str, value: float | None, suffix: str = "") -> str:
    return "–" if value is None else f"{i18n.format_number(locale, value)}{suffix}"


def _one(value: float | None) -> float | None:
    """One decimal, as the README shows figures."""
    return None if value is None else round(value, 1)


def _percent(locale: str, ratio: float | None) -> str:
    return _num(locale, None if ratio is None else round(ratio * 100, 1), "%")


def _signed(locale: str, value: float) -> str:
    return ("+" if value > 0 else "") + i18n.format_number(locale, value)


def _scope(c: Content) -> str:
    d, lang = c.digest, c.digest.locale
    if d.scope == DigestScope.service:
        return texts.t(lang, "scope_service", value=d.scope_value)
    if d.scope == DigestScope.group:
        return texts.t(lang, "scope_group", value=d.scope_value)
    return texts.t(lang, "scope_all")


def _trend(lang: str, now: ScoreFigures, before: ScoreFigures | None) -> str:
    value, previous = now.happiness.value, before.happiness.value if before else None
    if value is None or previous is None:
        return texts.t(lang, "no_previous")
    return texts.t(
        lang,
        "trend",
        delta=_signed(lang, round(value - previous, 1)),
        previous=_num(lang, previous),
    )


def sections(c: Content) -> list[tuple[str, list[str]]]:
    """(heading, lines) in order: what both the text and the HTML part show."""
    lang = c.digest.locale
    if c.hidden is not None:
        return [(_scope(c), [texts.t(lang, "hidden", k=c.min_responses)])]
    f = c.figures
    assert f is not None and c.factors is not None
    h = f.happiness
    out = [
        (
            texts.t(lang, "happiness"),
            [
                f"{_num(lang, h.value)} ({texts.plural(lang, 'responses', h.responses)})",
                _trend(lang, f, c.previous),
            ],
        ),
        (
            texts.t(lang, "response_rate"),
            [
                _percent(lang, f.response_rate)
                + f" ({texts.plural(lang, 'responses', f.responses)})",
            ],
        ),
        (
            texts.t(lang, "lost_time"),
            [
                texts.t(
                    lang,
                    "lost_time_value",
                    hours=_num(lang, _one(f.lost_time.total_hours)),
                    minutes=_num(lang, _one(f.lost_time.mean_minutes)),
                ),
            ],
        ),
    ]
    for polarity, shares in (("positive", c.factors.positive), ("negative", c.factors.negative)):
        picked = [s for s in shares if s.responses][:TOP_FACTORS]
        lines = [f"{texts.factor(lang, s.factor)}: {_percent(lang, s.share)}" for s in picked]
        out.append((texts.t(lang, polarity), lines or [texts.t(lang, "none")]))
    for key, quotes in (("praise", c.praise), ("unhappy", c.unhappy)):
        out.append((texts.t(lang, key), [_quote(q) for q in quotes] or [texts.t(lang, "none")]))
    if c.xlas:
        out.append(
            (
                texts.t(lang, "xlas"),
                [f"{name}: {_xla(lang, status, c.min_responses)}" for name, status in c.xlas],
            )
        )
    return out


def _xla(lang: str, status: str | None, k: int) -> str:
    return texts.t(lang, "xla_" + status) if status else texts.t(lang, "hidden", k=k)


def _quote(q: Quote) -> str:
    where = f"{q.number} <{q.url}>" if q.url else q.number
    return f"“{q.comment}” ({q.score}, {where})"


def build(c: Content, settings: Settings, to: list[str]) -> EmailMessage:
    lang = c.digest.locale
    period = texts.t(
        lang, "period", start=i18n.format_date(lang, c.start), end=i18n.format_date(lang, c.end)
    )
    subject = texts.t(lang, "subject", name=c.digest.name, period=period)
    message = mail.new_message(
        settings, to=to, subject=subject, idstring=f"digest.{c.digest.id}.{c.start}"
    )
    # Machine-readable scope and period, for mail rules and for tests comparing figures.
    message["X-XPulse-Digest"] = f"{c.digest.id}; {c.start.isoformat()}/{c.end.isoformat()}"
    parts = sections(c)
    footer = texts.t(lang, "footer")
    text = [subject, _scope(c), ""]
    for heading, lines in parts:
        text += [heading, *(f"  {line}" for line in lines), ""]
    message.set_content("\n".join([*text, footer]) + "\n")
    body = "".join(
        f'<h2 style="font-size:16px;margin:18px 0 6px">{html.escape(heading)}</h2>'
        + "".join(f'<p style="margin:2px 0">{html.escape(line)}</p>' for line in lines)
        for heading, lines in parts
    )
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>"
        '<body style="font:15px system-ui,sans-serif;color:#1f2937;max-width:40rem">'
        f'<h1 style="font-size:20px">{html.escape(subject)}</h1>'
        f"<p>{html.escape(_scope(c))}</p>{body}"
        f'<p style="color:#6b7280;margin-top:24px">{html.escape(footer)}</p></body></html>'
    )
    message.add_alternative(document, subtype="html")
    # After the parts: making the message multipart moves Content-* headers into its first part.
    message["Content-Language"] = lang
    return message
