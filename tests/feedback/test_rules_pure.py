"""The pure rules: locale choice and sampling; and the import direction (the scanner judgement
is in test_judgement.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.feedback import rules


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
