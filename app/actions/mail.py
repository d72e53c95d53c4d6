"""Mail for alerts and digests through the feedback sender (XPULSE_SMTP__*), or the
development outbox when no server is set; failures become the queue's retry classes."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from app.config import Settings
from app.feedback import email, outbox
from app.jobs.registry import PermanentError, TransientError


def new_message(settings: Settings, *, to: list[str], subject: str, idstring: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp.sender
    message["To"] = ", ".join(to)
    if settings.smtp.reply_to:
        message["Reply-To"] = settings.smtp.reply_to
    domain = parseaddr(settings.smtp.sender)[1].partition("@")[2] or "xpulse.invalid"
    message["Message-ID"] = make_msgid(idstring=idstring, domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    return message


async def deliver(message: EmailMessage, settings: Settings) -> None:
    if outbox.enabled(settings):  # development without an SMTP server: see /dev/outbox
        outbox.save(message, settings)
        return
    try:
        await email.send(message, settings.smtp)
    except email.SendFailed as exc:
        if exc.permanent:
            raise PermanentError(str(exc)) from None
        raise TransientError(str(exc)) from None
