"""/api/v1/jobs: ids beyond 64 bits are a 422 problem (never a database error), absent ids 404."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/jobs/9223372036854775808"),
        ("POST", "/api/v1/jobs/10000000000000000000/retry"),
        ("GET", "/api/v1/jobs/0"),
        ("GET", "/api/v1/jobs/-1"),
    ],
)
async def test_out_of_range_job_ids_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=admin_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "job_id" in response.text


async def test_the_largest_job_id_is_a_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    got = await client.get("/api/v1/jobs/9223372036854775807", headers=admin_headers)
    assert got.status_code == 404
    retried = await client.post("/api/v1/jobs/9223372036854775807/retry", headers=admin_headers)
    assert retried.status_code == 404
    assert retried.headers["content-type"] == "application/problem+json"
