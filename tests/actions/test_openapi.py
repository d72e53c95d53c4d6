"""OpenAPI lists every alert-rule, follow-up and digest path with its problem answers, and the
follow-up figures of /api/v1/scores."""

from __future__ import annotations

import httpx
import pytest

COMMON = {"401", "422", "429", "500", "503"}
WRITE = COMMON | {"403", "409", "413"}
PATHS = [
    ("/api/v1/alert-rules", "get", COMMON | {"400"}),
    ("/api/v1/alert-rules", "post", WRITE | {"404"}),
    ("/api/v1/alert-rules/{rule_id}", "get", COMMON | {"404"}),
    ("/api/v1/alert-rules/{rule_id}", "patch", WRITE | {"404"}),
    ("/api/v1/alert-rules/{rule_id}", "delete", WRITE | {"404"}),
    ("/api/v1/followups", "get", COMMON | {"400"}),
    ("/api/v1/followups/{followup_id}", "get", COMMON | {"404"}),
    ("/api/v1/followups/{followup_id}/acknowledge", "post", WRITE | {"404"}),
    ("/api/v1/followups/{followup_id}/close", "post", WRITE | {"404"}),
    ("/api/v1/digests", "get", COMMON | {"400"}),
    ("/api/v1/digests", "post", WRITE),
    ("/api/v1/digests/{digest_id}", "get", COMMON | {"404"}),
    ("/api/v1/digests/{digest_id}", "delete", WRITE | {"404"}),
    ("/api/v1/digests/{digest_id}/send", "post", WRITE | {"404"}),
]


@pytest.mark.parametrize(("path", "method", "codes"), PATHS)
async def test_every_new_path_documents_its_problem_answers(
    client: httpx.AsyncClient, path: str, method: str, codes: set[str]
) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"][path][method]
    responses = operation["responses"]
    assert codes <= set(responses), codes - set(responses)
    for code in codes:
        assert "application/problem+json" in responses[code]["content"], (path, code)
    assert operation["security"] and operation["summary"] and operation["description"]


async def test_the_followup_transition_conflict_is_described(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for step in ("acknowledge", "close"):
        conflict = schema["paths"][f"/api/v1/followups/{{followup_id}}/{step}"]["post"]
        assert "open → acknowledged → closed" in conflict["responses"]["409"]["description"]
    summary = schema["components"]["schemas"]["ScoreSummary"]["properties"]
    assert "followups" in summary
    figures = schema["components"]["schemas"]["FollowupFigures"]["properties"]
    assert "closed ÷ opened" in figures["rate"]["description"]
