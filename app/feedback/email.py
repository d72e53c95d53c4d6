"""Feedback e-mails: build the localised multipart message and hand it to SMTP."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

import aiosmtplib

from app.config import SmtpSettings
from app.feedback import i18n
from app.feedback.scales import Scale

# Red to green for the 0-10 and 1-5 buttons; dark text on light colours keeps 4.5:1 contrast.
_COLOURS = (
    "#f8b4b4",
    "#f9c2a7",
    "#fbd09a",
    "#fcdc8e",
    "#fde68a",
    "#ecea8c",
    "#d9ec8e",
    "#c3ea96",
    "#a9e3a0",
    "#8fdcab",
    "#74d4b4",
)


@dataclass
class MailContent:
    kind: str  # initial | reminder | resend
    locale: str
    to: str
    name: str | None
    number: str
    title: str
    scale: Scale
    links: dict[str, str]
    trap_url: str
    opt_out_url: str
    closes: str
    request_id: str


def colour(scale: Scale, score: int) -> str:
    step = (score - scale.min) / (scale.max - scale.min)
    return _COLOURS[round(step * (len(_COLOURS) - 1))]


def build_message(content: MailContent, smtp: SmtpSettings) -> EmailMessage:
    from app.feedback.render import render

    s = i18n.strings(content.locale)
    intro_key = "reminder_intro" if content.kind == "reminder" else "intro"
    context = {
        "s": s,
        "lang": content.locale,
        "greeting": s["greeting"].format(name=content.name) if content.name else s["greeting_anon"],
        "intro": s[intro_key].format(number=content.number, title=content.title),
        "closes": s["closes"].format(date=content.closes),
        "buttons": [
            {
                "score": score,
                "label": content.scale.labels.get(score, ""),
                "url": content.links[str(score)],
                "colour": colour(content.scale, score),
            }
            for score in content.scale.scores
        ],
        "trap_url": content.trap_url,
        "opt_out_url": content.opt_out_url,
    }
    message = EmailMessage()
    message["Subject"] = s["subject"].format(number=content.number, title=content.title)
    message["From"] = smtp.sender
    message["To"] = formataddr((content.name or "", content.to))
    if smtp.reply_to:
        message["Reply-To"] = smtp.reply_to
    domain = parseaddr(smtp.sender)[1].partition("@")[2] or "xpulse.invalid"
    message["Message-ID"] = make_msgid(idstring=content.request_id, domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    # RFC 8058 one-click unsubscribe: mail providers POST to it, no person involved.
    message["List-Unsubscribe"] = f"<{content.opt_out_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Content-Language"] = content.locale
    message.set_content(render("email.txt", **context))
    message.add_alternative(render("email.html", **context), subtype="html")
    return message


class SendFailed(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


async def send(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Deliver through the configured server; SendFailed says whether a retry can help."""
    if not smtp.host:  # retried: mail flows once the operator sets the server
        raise SendFailed("no SMTP server configured (XPULSE_SMTP__HOST)", permanent=False)
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.password.get_secret_value() or None,
            start_tls=smtp.starttls,
            use_tls=smtp.use_tls,
            validate_certs=smtp.validate_certs,
            timeout=smtp.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        permanent = all(c >= 500 for c in codes)
        raise SendFailed(f"recipient refused: {codes}", permanent=permanent) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailed(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=False) from None
