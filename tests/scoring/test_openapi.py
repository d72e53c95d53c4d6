"""Every figure-reporting endpoint links its docs/scoring.md definitions in OpenAPI."""

from __future__ import annotations

import pytest

from app.main import create_app


@pytest.mark.parametrize(
    ("path", "method", "quoted"),
    [
        ("/api/v1/scores", "get", "**happiness**"),
        ("/api/v1/scores/breakdown", "get", "**CSAT %**"),
        ("/api/v1/scores/trend", "get", "ISO weeks"),
        ("/api/v1/factors", "get", "**factor share**"),
        ("/api/v1/xlas", "get", "**at_risk**"),
        ("/api/v1/xlas", "post", "**breached**"),
        ("/api/v1/insights/watermelon", "get", "**watermelon group**"),
        ("/api/v1/exports/responses.csv", "get", "automated clicks excluded"),
    ],
)
def test_descriptions_quote_scoring_md(path: str, method: str, quoted: str) -> None:
    operation = create_app().openapi()["paths"][path][method]
    assert "Definitions from `docs/scoring.md`" in operation["description"]
    assert quoted in operation["description"]
    assert operation["description"].splitlines()[0].endswith(".")  # the docstring comes first
