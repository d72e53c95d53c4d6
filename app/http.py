"""The one outbound httpx.AsyncClient: explicit timeouts, bounded pool, our user agent."""

import httpx

from app.config import Settings

USER_AGENT = "XPulse/0.1 (+https://github.com/xpulse)"


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
