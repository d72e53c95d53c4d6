"""OpenAPI lists the privacy and audit paths with the problem answers they can give."""

from __future__ import annotations

import httpx
import pytest

PATHS = [
    ("/api/v1/privacy/erasure", "post", {"401", "403", "413", "422", "429", "500", "503"}),
    ("/api/v1/privacy/export", "get", {"401", "403", "422", "429", "500", "503"}),
    ("/api/v1/audit", "get", {"400", "401", "403", "422", "429", "500", "503"}),
]


@pytest.mark.parametrize(("path", "method", "codes"), PATHS)
async def test_the_new_paths_document_their_problem_answers(
    client: httpx.AsyncClient, path: str, method: str, codes: set[str]
) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"][path][method]
    responses = operation["responses"]
    assert codes <= set(responses)
    for code in codes:
        assert "application/problem+json" in responses[code]["content"], (path, code)
    assert operation["security"]  # an API key
    assert operation["summary"] and operation["description"]
