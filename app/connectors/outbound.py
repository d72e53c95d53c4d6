"""Outbound calls to an ITSM API: auth from the connector, status codes mapped to retry classes."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from app.connectors.base import ConnectorConfig
from app.jobs.registry import PermanentError, TransientError

# 409: a conflicting concurrent edit on the ticket; trying again later succeeds.
RETRYABLE = {408, 409, 425, 429}


class RefusedError(PermanentError):
    """The ITSM API refused the call with a 4xx: callers branch on `status_code`, never on
    the message text (which quotes the answer's body)."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: a delay in seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def check(response: httpx.Response, what: str) -> httpx.Response:
    """Raise TransientError for 408/409/425/429/5xx (honouring Retry-After), PermanentError for
    other 4xx."""
    status = response.status_code
    if status < 400:
        return response
    snippet = response.text[:300].replace("\n", " ")
    message = f"{what}: HTTP {status} {snippet}".strip()
    if status in RETRYABLE or status >= 500:
        raise TransientError(
            message, retry_after=retry_after_seconds(response.headers.get("retry-after"))
        )
    raise RefusedError(message, status_code=status)


# OAuth tokens per process, reused until a minute before they expire: a poll of many pages or a
# burst of write-backs would otherwise ask for a token before every call.
TOKEN_MARGIN_SECONDS = 60
_tokens: dict[tuple[Any, ...], tuple[str, float]] = {}  # key -> (token, monotonic expiry)
_fetching: dict[tuple[Any, ...], asyncio.Lock] = {}  # one fetch per key at a time


def _now() -> float:
    return time.monotonic()


def _token_url(connector: ConnectorConfig) -> str:
    return connector.auth.get("token_url") or f"{connector.api_base}/oauth_token.do"


def _token_key(connector: ConnectorConfig) -> tuple[Any, ...]:
    auth = connector.auth
    secret = hashlib.sha256(str(auth.get("client_secret", "")).encode()).hexdigest()
    # Any change of credentials, scope or token URL is a new key: no stale token is used.
    return (connector.id, _token_url(connector), auth.get("client_id"), secret, auth.get("scope"))


async def _token(http: httpx.AsyncClient, connector: ConnectorConfig) -> str:
    """OAuth 2.0 client credentials, from the cache while the token is fresh."""
    key = _token_key(connector)
    async with _fetching.setdefault(key, asyncio.Lock()):  # concurrent jobs share one fetch
        cached = _tokens.get(key)
        if cached and cached[1] > _now():
            return cached[0]
        auth = connector.auth
        form = {
            "grant_type": "client_credentials",
            "client_id": auth.get("client_id", ""),
            "client_secret": auth.get("client_secret", ""),
        }
        if auth.get("scope"):
            form["scope"] = auth["scope"]
        response = check(await _send(http, "POST", _token_url(connector), data=form), "OAuth token")
        try:
            answer = response.json()
            token = str(answer["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError("OAuth token response has no access_token") from exc
        lifetime = answer.get("expires_in")
        if isinstance(lifetime, int | float) and lifetime > TOKEN_MARGIN_SECONDS:
            _tokens[key] = (token, _now() + lifetime - TOKEN_MARGIN_SECONDS)
        return token


def _forget_token(connector: ConnectorConfig, authorization: str | None) -> bool:
    """Drop the cached token that was just refused (not a newer one); whether it was cached."""
    key = _token_key(connector)
    cached = _tokens.get(key)
    if cached is None or authorization != f"Bearer {cached[0]}":
        return False
    del _tokens[key]
    return True


async def _auth_headers(http: httpx.AsyncClient, connector: ConnectorConfig) -> dict[str, str]:
    auth = connector.auth
    kind = auth.get("type")
    if kind == "basic":
        basic = httpx.BasicAuth(auth.get("username", ""), auth.get("password", ""))
        request = next(basic.auth_flow(httpx.Request("GET", connector.api_base)))
        return {"Authorization": request.headers["Authorization"]}
    if kind == "bearer":
        return {"Authorization": f"Bearer {auth.get('token', '')}"}
    if kind == "oauth_client_credentials":
        return {"Authorization": f"Bearer {await _token(http, connector)}"}
    return {}


async def _send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientError(f"{method} {url}: timeout ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"{method} {url}: {type(exc).__name__}") from exc


async def send(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    method: str,
    url: str,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request to `url` with the connector's credentials, checked (raises on failure)."""
    for attempt in range(2):
        sent = {**(headers or {}), **await _auth_headers(http, connector)}
        response = await _send(http, method, url, headers=sent, **kwargs)
        # A cached token revoked or expired early: fetch a new one and try once more. The
        # ITSM refuses before it acts, so nothing is done twice.
        if response.status_code != 401 or attempt:
            break
        if not _forget_token(connector, sent.get("Authorization")):
            break
    return check(response, what)


async def call(
    http: httpx.AsyncClient,
    connector: ConnectorConfig,
    method: str,
    path: str,
    *,
    what: str,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    """One authenticated call to `base_url + path`, checked (raises on failure)."""
    headers = {"Accept": "application/json"}
    return await send(
        http,
        connector,
        method,
        connector.api_base + path,
        what=what,
        headers=headers,
        json=json,
        params=params,
    )
