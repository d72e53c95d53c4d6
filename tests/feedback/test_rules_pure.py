"""The pure rules: locale choice, scanner judgement, sampling; and the import direction."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.feedback import rules

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = rules.Thresholds(burst_seconds=3, trap_seconds=30, min_seconds_after_send=0)
UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"


def page(score: int | None, seconds: float, kind: str = "page", scanner: bool = False):
    return rules.OpenSeen(kind, score, T0 + timedelta(seconds=seconds), scanner)


@pytest.mark.parametrize(
    ("chosen", "ticket", "accept", "expected"),
    [
        ("sv", "de", "fr", "sv"),
        (None, "de_AT", "fr", "de"),
        (None, None, "xx, fi;q=0.4, es;q=0.8", "es"),
        (None, "pt-BR", "pt, en;q=0.1", "en"),
        ("zz", None, None, "en"),
    ],
)
def test_pick_locale(chosen, ticket, accept, expected) -> None:
    assert rules.pick_locale(chosen, ticket, accept, "en") == expected


@pytest.mark.parametrize(
    ("opens", "ua", "reasons"),
    [
        ([page(5, -1.6)], UA, []),
        ([page(5, -1.6), page(5, -1.5, "head", True)], UA, []),  # time-of-click scan
        ([page(s, -1.5 + s / 20) for s in range(11)], UA, ["several_options_within_seconds"]),
        ([page(5, -1.6), page(6, 2.5)], UA, ["several_options_within_seconds"]),
        ([page(5, -1.6), page(6, 4)], UA, []),  # the person's second thoughts, later
        ([page(None, -20, "trap"), page(5, -1)], UA, ["trap_link"]),
        ([page(None, -40, "trap"), page(5, -1)], UA, []),
        ([page(5, -1)], "Mozilla/5.0 (compatible; Mimecast)", ["scanner_user_agent"]),
        ([page(5, -1)], "Mozilla/5.0 HeadlessChrome/131", ["scanner_user_agent"]),
    ],
)
def test_judge(opens, ua, reasons) -> None:
    automated, evidence = rules.judge(
        at=T0,
        opens=opens,
        sent_at=T0 - timedelta(hours=1),
        user_agent=ua,
        headers={},
        signals={},
        limits=LIMITS,
    )
    assert evidence["reasons"] == reasons and automated == bool(reasons)
    assert evidence["seconds_since_sent"] == 3600.0


def test_the_client_that_swept_the_mail_stays_suspect() -> None:
    sweep = [
        rules.OpenSeen("page", s, T0 - timedelta(minutes=5, seconds=-s / 10), False, "bot")
        for s in range(11)
    ]
    for client, expected in (("bot", ["client_swept_the_mail"]), ("person", [])):
        automated, evidence = rules.judge(
            at=T0,
            opens=sweep,
            sent_at=None,
            user_agent=UA,
            headers={},
            signals={},
            limits=LIMITS,
            client=client,
        )
        assert evidence["reasons"] == expected and automated == bool(expected)
    later = rules.Thresholds(3, 30, 0, client_seconds=60)
    automated, _ = rules.judge(
        at=T0,
        opens=sweep,
        sent_at=None,
        user_agent=UA,
        headers={},
        signals={},
        limits=later,
        client="bot",
    )
    assert not automated


def test_too_soon_after_send_when_configured() -> None:
    limits = rules.Thresholds(3, 30, min_seconds_after_send=10)
    automated, evidence = rules.judge(
        at=T0,
        opens=[],
        sent_at=T0 - timedelta(seconds=4),
        user_agent=UA,
        headers={},
        signals={},
        limits=limits,
    )
    assert automated and evidence["reasons"] == ["too_soon_after_send"]


def test_feedback_never_imports_connectors_or_scoring() -> None:
    folder = Path(rules.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("app.connectors", "app.scoring")), (path, name)
