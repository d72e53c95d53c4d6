"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright (no
browser download). Skips with a reason when no Chromium is found, never under CI=true."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
# Without the background-networking flags Chromium keeps dialling out, and this machine refuses.
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    explicit = os.environ.get("XPULSE_TEST_CHROMIUM")
    found = explicit or next((p for p in map(shutil.which, CANDIDATES) if p), None)
    if not found:
        reason = "no Chromium found (apt-get install chromium, or set XPULSE_TEST_CHROMIUM)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true: .ci/run installs it")
        pytest.skip(reason)
    return found


@asynccontextmanager
async def chromium(**context_options: object) -> AsyncIterator:
    """A fresh browser context (own profile); yields the Playwright BrowserContext."""
    from playwright.async_api import async_playwright

    executable = chromium_path()
    profile = tempfile.mkdtemp(prefix="xpulse-chromium-")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=ARGS, **context_options
        )
        try:
            yield context
        finally:
            await context.close()
            shutil.rmtree(profile, ignore_errors=True)
