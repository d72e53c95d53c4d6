"""Webhook authenticity checks on the raw body: constant-time, an empty secret accepts nothing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from app.connectors.base import SignatureError

REPLAY_WINDOW_SECONDS = 300  # Standard Webhooks reference library value (docs/itsm-contracts.md §3)


def _require_secret(secret: str) -> bytes:
    if not secret:
        raise SignatureError("This connector has no webhook secret: deliveries are refused")
    return secret.encode()


def check_bearer(headers: Mapping[str, str], secret: str) -> bool:
    """`Authorization: Bearer <secret>` (ServiceNow scripts, Jira Automation)."""
    expected = _require_secret(secret)
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected)


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_hub_signature(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Jira: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`; other algorithms fail."""
    _require_secret(secret)
    value = headers.get("x-hub-signature", "")
    if not value.startswith("sha256="):
        return False
    return hmac.compare_digest(value.encode(), hub_signature(secret, body).encode())


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; a secret that is not base64 is used as is."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def has_standard_webhooks_headers(headers: Mapping[str, str]) -> bool:
    return "webhook-signature" in headers or "webhook-id" in headers


def check_standard_webhooks(
    headers: Mapping[str, str], body: bytes, secret: str, now: datetime
) -> None:
    """Standard Webhooks v1: id, timestamp within ±5 minutes, any listed `v1,` signature."""
    _require_secret(secret)
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise SignatureError("Missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not a Unix time") from exc
    if abs(now.timestamp() - timestamp) > REPLAY_WINDOW_SECONDS:
        raise SignatureError("webhook-timestamp is outside the 5-minute window")
    expected = standard_webhooks_signature(secret, msg_id, timestamp, body).encode()
    # Several space-separated signatures allow key rotation; v1a (ed25519) is not supported.
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("No webhook-signature matches this connector's secret")
