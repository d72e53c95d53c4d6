"""The quick start as docs/getting-started.md writes it, in a fresh copy of the repository:
`make run`, the walkthrough's commands (a key, a connector with channel `email`, a webhook), the
mail in /dev/outbox, a person's click in Chromium, and the score in /api/v1/scores."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import output_dir
from tests.feedback.conftest import DESKTOP_UA
from tests.feedback.replay import HIDE_WEBDRIVER
from tests.support.browser import chromium

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "getting-started.md"


def shell_blocks(section: str) -> list[str]:
    """The ```sh blocks of one `## section` of the guide, as written."""
    text = GUIDE.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```sh\n(.*?)```", text[start : end if end > 0 else None], re.S)


def fresh_copy(target: Path) -> Path:
    """What a clone of this tree holds (tracked and new unignored files), mtimes kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    # The suite's own environment stands in for the install step `make run` would do first.
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    clone = fresh_copy(tmp_path / "xpulse")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XPULSE_")}
    log = (tmp_path / "server.log").open("wb")
    # -o install: the borrowed .venv is installed already; everything else is `make run`.
    server = subprocess.Popen(
        ["make", "-o", "install", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("make run did not serve:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.3)
        yield clone, url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        log.close()


def json_values(text: str) -> list:
    """The JSON documents curl printed one after another (bodies end without a newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) >= 0:
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def run_block(block: str, clone: Path, url: str, *, before: str = "", after: str = "") -> str:
    """One of the guide's blocks, run by bash in the copy, against this test's port."""
    script = before + block.replace("http://127.0.0.1:8000", url) + after
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("XPULSE_")},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_quick_start_as_written(
    served: tuple[Path, str], request: pytest.FixtureRequest
) -> None:
    clone, url = served
    walkthrough, scores = shell_blocks("Your first score, step by step")
    answers = run_block(walkthrough, clone, url, after='\necho; echo "KEY=$KEY"\n')
    key = answers.strip().splitlines()[-1].removeprefix("KEY=")
    connector, accepted = json_values(answers.rsplit("KEY=", 1)[0])
    assert connector["kind"] == "servicenow" and connector["channel"] == "email", connector
    assert accepted["links"] and accepted["ticket_id"], answers
    sent = time.monotonic()

    # The e-mail job runs on the ticker and writes the mail to the outbox.
    deadline = time.monotonic() + 60
    while "How did we do?" not in (listing := httpx.get(url + "/dev/outbox").text):
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)
    assert (clone / "var" / "outbox").is_dir()

    # A person's browser: a desktop user agent and no automation flag (headless Chromium would
    # rightly be judged a machine, see docs/mail-scanners.md).
    async with chromium(viewport={"width": 1280, "height": 900}, user_agent=DESKTOP_UA) as browser:
        await browser.add_init_script(HIDE_WEBDRIVER)
        page = await browser.new_page()
        await page.goto(url + "/dev/outbox")
        await page.click("text=How did we do?")
        mail = page.frame_locator("iframe[title=message]")
        await mail.locator("a[href*='s=9']").first.wait_for()
        # A person reads before clicking; an instant click is what a mail scanner does.
        time.sleep(max(0.0, 6 - (time.monotonic() - sent)))
        await mail.locator("a[href*='s=9']").first.click()
        await page.wait_for_url(re.compile(r"/f/"))
        # The page says "Saved" only for an answer the server counted.
        await page.get_by_text("Saved", exact=True).wait_for(timeout=15_000)
        await page.screenshot(path=str(output_dir(request) / "answered.png"))

    shown = run_block(scores, clone, url, before=f"KEY={key}\nXPULSE={url}\n")
    figures = json.loads(shown)["figures"]
    assert figures["responses"] == 1, figures
