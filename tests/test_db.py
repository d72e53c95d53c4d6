"""The embedded SQLite engine keeps transactions whole: a released savepoint is not a commit."""

from pathlib import Path

from sqlalchemy import text

from app.db import create_engine


async def test_sqlite_savepoint_rolls_back_with_its_transaction(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as conn:
            await conn.begin()
            async with conn.begin_nested():
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            await conn.rollback()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()
