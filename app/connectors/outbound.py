"""Outbound calls to an ITSM API: auth from the connector, status codes mapped to retry classes."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx

from app.connectors.base import ConnectorConfig
from app.jobs.registry import PermanentError, TransientError

RETRYABLE = {408, 425, 429}


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
    """Raise TransientError for 408/425/429/5xx (honouring Retry-After), PermanentError for 4xx."""
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


async def _token(http: httpx.AsyncClient, connector: ConnectorConfig) -> str:
    """OAuth 2.0 client credentials: a fresh token per job (jobs are rare; no cache to expire)."""
    auth = connector.auth
    token_url = auth.get("token_url") or f"{connector.api_base}/oauth_token.do"
    form = {
        "grant_type": "client_credentials",
        "client_id": auth.get("client_id", ""),
        "client_secret": auth.get("client_secret", ""),
    }
    if auth.get("scope"):
        form["scope"] = auth["scope"]
    response = check(await _send(http, "POST", token_url, data=form), "OAuth token")
    try:
        return str(response.json()["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PermanentError("OAuth token response has no access_token") from exc


async def auth_headers(http: httpx.AsyncClient, connector: ConnectorConfig) -> dict[str, str]:
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
    headers = {"Accept": "application/json", **await auth_headers(http, connector)}
    url = connector.api_base + path
    response = await _send(http, method, url, json=json, params=params, headers=headers)
    return check(response, what)
