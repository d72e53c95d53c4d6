"""Exports stream from the real app: their own session outlives the handler, in batches."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth import service as auth_service
from app.auth.models import Scope
from app.clock import utcnow
from app.scoring import exports
from tests.scoring.builders import FIXED, seed


async def _seed(engine: AsyncEngine) -> str:
    async with AsyncSession(engine, expire_on_commit=False) as s:
        await seed(s, FIXED)
        # The per-ticket export is for admins only.
        _, plain = await auth_service.create_key(s, name="x", scope=Scope.admin, now=utcnow())
        await s.commit()
    return plain


async def test_streamed_exports_cross_batches(
    live_server_factory, committed: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await _seed(committed)
    # Batches of 3: the factor look-up runs between fetches of the open server-side cursor.
    monkeypatch.setattr(exports, "BATCH", 3)
    with live_server_factory() as server:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            async with client.stream("GET", "/api/v1/exports/responses.jsonl") as response:
                assert response.status_code == 200
                assert "content-length" not in response.headers  # streamed, not buffered
                lines = [line async for line in response.aiter_lines() if line]
            records = [json.loads(line) for line in lines]
            assert [r["ticket_number"] for r in records] == [
                f"INC0000{n}" for n in (1, 2, 3, 4, 6, 7, 8)
            ]
            assert records[0]["positive_factors"] == ["fast", "friendly"]
            assert records[3]["negative_factors"] == ["not_solved", "slow"]
            csv_text = (await client.get("/api/v1/exports/responses.csv")).text
            assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 7
