"""Where a secret could have leaked: every text, JSON and binary column of every table, and
every whole row, searched for the secret in the encodings a leak could take."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def encodings(secret: str) -> set[str]:
    """The forms a leaked secret could take in a column."""
    raw = secret.encode()
    forms = {
        secret,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        raw.hex(),
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {f for f in forms if f}


async def text_columns(session: AsyncSession) -> list[tuple[str, str, str]]:
    rows = await session.execute(
        text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY')"
        )
    )
    return [tuple(r) for r in rows.all()]


async def where_found(session: AsyncSession, needles: set[str]) -> list[str]:
    """Every (table.column, form) holding one of the needles, case-insensitively; bytea is read
    both as text and as hex, and each whole row once more as text."""
    found = []
    for table, column, data_type in await text_columns(session):
        views = (
            [f"convert_from(\"{column}\", 'LATIN1')", f"encode(\"{column}\", 'hex')"]
            if data_type == "bytea"
            else [f'"{column}"::text']
        )
        for view in views:
            for needle in needles:
                hit = await session.scalar(
                    text(f'SELECT count(*) FROM "{table}" WHERE strpos(lower({view}), :n) > 0'),
                    {"n": needle.lower()},
                )
                if hit:
                    found.append(f"{table}.{column} ({needle})")
    tables = {t for t, _, _ in await text_columns(session)}
    for table in tables:
        for needle in needles:
            hit = await session.scalar(
                text(f'SELECT count(*) FROM "{table}" t WHERE strpos(lower(t::text), :n) > 0'),
                {"n": needle.lower()},
            )
            if hit:
                found.append(f"{table} row ({needle})")
    return found
