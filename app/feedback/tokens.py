"""Feedback tokens: derived from the request id with the server secret, stored only as a hash.

Deriving (rather than storing) the token lets reminders and resends rebuild the same links
without keeping the token anywhere; rotating XPULSE_SECRET_KEY invalidates outstanding links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


def token_for(request_id: uuid.UUID, secret: str) -> str:
    """256 bits of HMAC output, URL-safe: unguessable without the server secret."""
    mac = hmac.new(secret.encode(), b"xpulse-feedback:" + request_id.bytes, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
