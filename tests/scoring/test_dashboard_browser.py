"""The dashboard as a service manager uses it, in headless Chromium: from the happiness tile to
the tickets behind it and on to one ticket in its ITSM (a loopback stand-in), a bar's tickets,
the comments page with a search, a filter picked from the data, and the export button's CSV
for the filter. Screenshots land in test-output/<test>/."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from tests.conftest import output_dir
from tests.scoring.builders import demo_cases, seed
from tests.support.browser import chromium


class _Itsm(BaseHTTPRequestHandler):
    """A ticket page per path, as an ITSM would show one."""

    def do_GET(self) -> None:
        body = f"<!doctype html><title>ITSM</title><h1 id='ticket'>{self.path}</h1>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def itsm_stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Itsm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _seed(engine: AsyncEngine, itsm: str) -> str:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        await seed(s, demo_cases(utcnow()))
        # Each ticket's link leads to the stand-in, as a real one leads to ServiceNow or Jira.
        await s.execute(
            text("UPDATE tickets SET url = :base || '/ticket/' || number"), {"base": itsm}
        )
        _, plain = await auth_service.create_key(s, name="mgr", scope=Scope.admin, now=utcnow())
        await s.commit()
    return plain


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _column(page, index: int) -> list[str]:
    return [
        (t or "").strip()
        for t in await page.locator(
            f"#ticket-list tr.ticket td:nth-child({index})"
        ).all_text_contents()
    ]


async def test_from_a_figure_to_its_tickets_comments_filters_and_export(
    live_server_factory, committed, request
) -> None:
    folder: Path = output_dir(request)
    with itsm_stand_in() as itsm, live_server_factory() as server:
        key = await _seed(committed, itsm)
        async with chromium(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        ) as browser:
            page = await browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            await page.goto(f"{server.url}/dashboard")
            await page.fill("#key", key)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#summary")
            for chart in ("#trend", "#trend-rate", "#trend-volume", "#trend-lost"):
                assert await page.locator(f"{chart} circle.dot").count() >= 10, chart
            for by in ("service", "group", "category", "priority", "channel", "connector", "agent"):
                assert await page.locator(f"#by-{by}").count() == 1, by
            assert await page.locator("#by-agent rect.bar").count() == 4
            await page.screenshot(path=str(folder / "1-overview.png"), full_page=True)

            # 1. The happiness tile leads to the tickets behind it, filtered like it.
            await page.click("#happiness a")
            await page.wait_for_selector("#ticket-list")
            assert urlsplit(page.url).path == "/dashboard/tickets"
            shown = _query(page.url)
            assert shown["date_from"] and shown["date_to"] and shown["tz"] == "UTC"
            assert await page.locator("#ticket-list tr.ticket").count() == 50
            assert await page.locator("#next-page").count() == 1  # 180-odd answers: more pages
            await page.screenshot(path=str(folder / "2-tickets.png"), full_page=True)

            # ... and one ticket's number leads to it in its ITSM.
            first = page.locator("#ticket-list a.itsm").first
            number = ((await first.text_content()) or "").strip()
            assert (await first.get_attribute("href")) == f"{itsm}/ticket/{number}"
            await first.click()
            await page.wait_for_selector("#ticket")
            assert page.url == f"{itsm}/ticket/{number}"
            assert (await page.text_content("#ticket")) == f"/ticket/{number}"
            await page.screenshot(path=str(folder / "3-itsm-ticket.png"))
            await page.go_back()
            await page.wait_for_selector("#ticket-list")

            # A bar leads to its group's tickets.
            await page.goto(f"{server.url}/dashboard")
            await page.click("#by-service a.drill:has-text('Email') rect.bar")
            await page.wait_for_selector("#ticket-list")
            assert _query(page.url)["service"] == "Email"
            services = await _column(page, 2)
            assert services and set(services) == {"Email"}
            assert await page.locator("#f-service").input_value() == "Email"

            # 2. The comments page, searched.
            await page.click("#nav-comments")
            await page.wait_for_selector("#search")
            await page.fill("#q", "THREE calls")
            await page.click("#search-button")
            await page.wait_for_selector("#comment-list")
            query = _query(page.url)
            assert query["q"] == "THREE calls" and query["service"] == "Email"
            listed = await page.locator("#comment-list li .text").all_text_contents()
            assert listed and all("three calls" in c.lower() for c in listed)
            bands = set(await page.locator("#comment-list li .band").all_text_contents())
            assert bands == {"unhappy"}  # the demo's unhappy answers carry that comment
            await page.screenshot(path=str(folder / "4-comments-search.png"), full_page=True)

            # 3. A filter value picked from the data, kept in the URL.
            await page.goto(f"{server.url}/dashboard")
            options = await page.locator("#f-service option").all_text_contents()
            assert options == ["any", "Email", "Laptop", "Payroll app", "VPN"]
            await page.select_option("#f-service", "VPN")
            await page.click("#apply")
            await page.wait_for_url("**service=VPN**")
            await page.wait_for_selector("#summary")
            assert await page.locator("#f-service").input_value() == "VPN"
            assert await page.locator("#by-service rect.bar").count() == 1
            groups = await page.locator("#by-group text").all_text_contents()
            assert "Network" in groups and "Messaging" not in groups
            await page.screenshot(path=str(folder / "5-filter-vpn.png"), full_page=True)
            vpn = _query(page.url)

            # 4. The export button downloads the CSV of this filter.
            assert (
                _query(await page.locator("#export").get_attribute("href") or "")["service"]
                == "VPN"
            )
            async with page.expect_download() as download:
                await page.click("#export")
            saved = folder / "6-export-vpn.csv"
            await (await download.value).save_as(saved)
            content = saved.read_bytes().decode()  # as sent: CSV rows end in \r\n
            rows = list(csv.DictReader(io.StringIO(content)))
            assert rows and {r["service"] for r in rows} == {"VPN"}
            api = {k: vpn[k] for k in ("date_from", "date_to", "tz", "service")}
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}
            ) as client:
                same = await client.get("/api/v1/exports/responses.csv", params=api)
                figures = (await client.get("/api/v1/scores", params=api)).json()["figures"]
            assert content == same.text
            assert len(rows) == figures["responses"]
            assert not problems, problems
