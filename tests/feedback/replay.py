"""Plumbing of the scanner replay suite: one live server, one mail per behaviour, one Chromium
(Debian's, through Playwright) with a fresh context per client, and the outcome of each mail."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.feedback.models import FeedbackRequest, OptOut, Response, ResponseFactor
from app.jobs.models import Job
from tests.feedback.conftest import SmtpServer, html_links, score_links
from tests.feedback.live import HIDE_WEBDRIVER, resolve_ticket, travel
from tests.support.browser import ARGS, chromium_path

# Scaled time (docs/mail-scanners.md): the page's pause is 0.4 s instead of 1.5 s and a press
# sooner than 0.25 s after the page appeared is no person's; scanners here stay 0.4-0.6 s on a
# page (3-5 s, scaled) so that neither rule alone is what stops them.
SETTINGS = {
    "rate_limit_per_minute": 100_000,
    "click_dwell_ms": 400,
    "scanner_min_action_ms": 250,
    # A loaded test machine can stretch a replayed link follower's 1-2 s from the score page to
    # the opt-out button past the default 20 s; the replay is about the rules, not that race.
    "scanner_opt_out_after_score_seconds": 300,
}
READ = 0.45  # seconds a replayed person looks at a page before pressing anything
STAY = 0.5  # seconds a replayed scanner stays on a page


@dataclass
class Mail:
    request_id: uuid.UUID
    email: str
    links: dict[int, str]  # score -> one-click link
    hrefs: list[str]  # every link of the HTML part, in order (the trap and opt-out too)
    trap: str
    opt_out: str


@dataclass
class Outcome:
    status: str
    counted: Response | None
    automated: Response | None
    factors: list[str]
    opt_out: str | None  # applied | automated | undone
    opt_out_evidence: dict[str, Any] | None
    pending_write_backs: int

    @property
    def scanner_counted(self) -> bool:
        """Anything a scanner could have changed for the requester or the ticket."""
        return (
            self.counted is not None
            or self.pending_write_backs > 0
            or self.status == "responded"
            or self.opt_out == "applied"
        )


class Replay:
    def __init__(
        self, engine: AsyncEngine, pg_url: str, url: str, smtp: SmtpServer, browser: Any
    ) -> None:
        self.engine, self.pg_url, self.url, self.smtp = engine, pg_url, url, smtp
        self.browser = browser
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )
        self.setup = asyncio.Semaphore(4)

    async def mail(self, *, locale: str = "en") -> Mail:
        """A resolved ticket whose feedback mail went out through the loopback SMTP server."""
        async with self.setup:
            scenario = await resolve_ticket(
                self.engine, self.pg_url, self.url, self.smtp, locale=locale, **SETTINGS
            )
        # Mails go out concurrently: another scenario's worker may hold this one's send job.
        deadline = time.monotonic() + 20
        while not self.smtp.inbox.to(scenario.email) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await scenario.drain()
        (message,) = self.smtp.inbox.to(scenario.email)
        hrefs = html_links(message)
        return Mail(
            request_id=uuid.UUID(scenario.webhook["feedback_request_id"]),
            email=scenario.email,
            links={int(k): v for k, v in score_links(message).items()},
            hrefs=hrefs,
            trap=next(h for h in hrefs if h.endswith("/go")),
            opt_out=next(h for h in hrefs if "/opt-out" in h),
        )

    async def later(self, mail: Mail, seconds: float) -> None:
        """Time passes for this mail; retried when it meets the server's writes in a deadlock
        (a scanner's last posts may still be landing)."""
        deadline = time.monotonic() + 20
        while True:
            try:
                return await travel(self.sessions, seconds, mail.request_id)
            except DBAPIError as exc:
                if "deadlock" not in str(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    @asynccontextmanager
    async def client(self, *, webdriver: bool = False, **options: Any) -> AsyncIterator[Any]:
        """A fresh browser context: its own cookies, cache and user agent (one client)."""
        context = await self.browser.new_context(**options)
        if not webdriver:
            await context.add_init_script(HIDE_WEBDRIVER)
        try:
            yield context
        finally:
            await context.close()

    async def outcome(self, mail: Mail) -> Outcome:
        async with self.sessions() as s:
            request = await s.get(FeedbackRequest, mail.request_id)
            response = await s.scalar(
                select(Response).where(Response.request_id == mail.request_id)
            )
            factors: list[str] = []
            pending = 0
            if response is not None:
                factors = sorted(
                    (
                        await s.scalars(
                            select(ResponseFactor.factor).where(
                                ResponseFactor.response_id == response.id
                            )
                        )
                    ).all()
                )
                pending = len(
                    (
                        await s.scalars(
                            select(Job.id).where(
                                Job.name == "connectors.write_back",
                                Job.status == "pending",
                                Job.dedupe_key.like(f"write_back:{response.id}:%"),
                            )
                        )
                    ).all()
                )
            opt_out = await s.get(OptOut, f"email:{mail.email.lower()}")
        assert request is not None
        counted = response if response is not None and not response.automated else None
        automated = response if response is not None and response.automated else None
        return Outcome(
            status=request.status,
            counted=counted,
            automated=automated,
            factors=factors,
            opt_out=opt_out.status if opt_out else None,
            opt_out_evidence=opt_out.evidence if opt_out else None,
            pending_write_backs=pending,
        )


@asynccontextmanager
async def launched() -> AsyncIterator[Any]:
    """One headless Chromium for the whole suite; every client is a context of it."""
    from playwright.async_api import async_playwright

    executable = chromium_path()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def http(**headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(headers=headers, timeout=30, follow_redirects=False)


async def settle(page: Any, seconds: float) -> None:
    """Stay on the page (its timers run): real, scaled-down browser time."""
    await page.wait_for_timeout(seconds * 1000)


def view_of(html: str) -> str:
    return re.search(r'name="view" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
