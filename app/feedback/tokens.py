"""Feedback tokens: derived from the request id with the server secret, stored only as a hash.

Deriving (rather than storing) the token lets reminders and resends rebuild the same links
without keeping the token anywhere; rotating XPULSE_SECRET_KEY invalidates outstanding links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid


def token_for(request_id: uuid.UUID, secret: str) -> str:
    """256 bits of HMAC output, URL-safe: unguessable without the server secret."""
    mac = hmac.new(secret.encode(), b"xpulse-feedback:" + request_id.bytes, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def view_stamp(secret: str, token: str, now_ms: int) -> str:
    """A signed page-view id: `{ms}.{random}.{mac}`, so the server knows when the page a post
    comes from was rendered (a press sooner than a person can read is no person's)."""
    view = f"{now_ms}.{secrets.token_hex(4)}"
    return f"{view}.{_view_mac(secret, token, view)}"


def view_of(stamp: str | None, secret: str, token: str) -> tuple[str, int] | None:
    """(view id, rendered at in ms) of a stamp this server signed for this token, else None."""
    if not stamp or stamp.count(".") != 2:
        return None
    ms, rand, mac = stamp.split(".")
    view = f"{ms}.{rand}"
    if not ms.isdigit() or not hmac.compare_digest(mac, _view_mac(secret, token, view)):
        return None
    return view, int(ms)


def _view_mac(secret: str, token: str, view: str) -> str:
    message = f"xpulse-view:{token_hash(token)}:{view}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]
