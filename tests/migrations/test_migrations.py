"""Alembic on blank PostgreSQL and SQLite: upgrade to head, no drift from the models, down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text, update

from app.db import create_engine, make_sessionmaker
from app.feedback.models import Response
from app.migrate import alembic_config, head_revision
from app.models import Base
from app.scoring import bucket_sql, rollup, upkeep
from tests.scoring.builders import FIXED, assert_exact, bucket_rows, score_rows, seed
from tests.support.postgres import run_blocking


@pytest.fixture(params=["postgres", "sqlite"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("blank_pg_url")
    return f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"


def _diff_and_tables(connection):
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    diff = compare_metadata(context, Base.metadata)
    tables = set(inspect(connection).get_table_names())
    version = context.get_current_revision()
    return diff, tables, version


async def _inspect(url: str):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff_and_tables)
    finally:
        await engine.dispose()


async def test_upgrade_matches_models_and_downgrades_to_base(blank_url: str) -> None:
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "head")
    diff, tables, version = await _inspect(blank_url)
    assert diff == [], f"models and migrations differ: {diff}"
    assert set(Base.metadata.tables) <= tables
    assert version == head_revision()

    await _to_thread(command.downgrade, cfg, "base")
    _, tables, version = await _inspect(blank_url)
    assert tables <= {"alembic_version"}
    assert version is None

    await _to_thread(command.upgrade, cfg, "head")  # and back up again: downgrades are complete
    diff, _, _ = await _inspect(blank_url)
    assert diff == []


async def test_rebuilt_ticket_scores_keeps_its_rows_and_triggers(blank_url: str) -> None:
    """0005 rebuilds ticket_scores with the counters first: rows survive, and the triggers on
    the feedback tables write into the new table."""
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "0004")
    engine = create_engine(blank_url)
    try:
        async with make_sessionmaker(engine)() as s:
            await seed(s, FIXED[:4])
            await s.commit()
            before = await score_rows(s)
        assert len(before) == 4

        await _to_thread(command.upgrade, cfg, "0005")
        async with make_sessionmaker(engine)() as s:
            assert await score_rows(s) == before
            tickets = await seed(s, FIXED[4:6])
            await s.commit()
            after = await score_rows(s)
        assert after.keys() == before.keys() | {t.id for t in tickets}
        assert after[tickets[1].id]["s5_sum"] == 5  # a trigger filled it

        async with engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("ticket_scores")]
            )
        assert names[:4] == ["ticket_id", "connector_id", "resolved_at", "sla_known"]
        assert names[-1] == "assignee"
    finally:
        await engine.dispose()


async def test_ticket_scores_with_dimensions_first_keeps_its_rows(blank_url: str) -> None:
    """0015 rebuilds ticket_scores with the dimensions before the counters: rows survive, the
    bucket sums still equal them, and the drain writes into the new table."""
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "0014")
    engine = create_engine(blank_url)
    try:
        async with make_sessionmaker(engine)() as s:
            await seed(s, FIXED[:4])
            await s.commit()
            await upkeep.catch_up(s)
            await s.commit()
            before = await score_rows(s)
        assert len(before) == 4

        await _to_thread(command.upgrade, cfg, "0015")
        async with make_sessionmaker(engine)() as s:
            assert await score_rows(s) == before
            tickets = await seed(s, FIXED[4:6])
            await s.commit()
            await upkeep.catch_up(s)
            await s.commit()
            after = await score_rows(s)
            assert after.keys() == before.keys() | {t.id for t in tickets}
            assert after[tickets[1].id]["s5_sum"] == 5  # the drain filled it
            await assert_exact(s)  # the bucket sums moved with it

        def shape(c):
            i = inspect(c)
            return (
                [col["name"] for col in i.get_columns("ticket_scores")],
                i.get_pk_constraint("ticket_scores"),
                {x["name"] for x in i.get_indexes("ticket_scores")},
                set(i.get_table_names()),
            )

        async with engine.connect() as conn:
            names, pk, indexes, tables = await conn.run_sync(shape)
        assert names[:4] == ["ticket_id", "connector_id", "resolved_at", "service"]
        assert names[8:10] == ["assignee", "sla_known"]
        assert pk["constrained_columns"] == ["ticket_id"]
        assert indexes >= {"ix_ticket_scores_resolved_at"}
        assert "ticket_scores_old" not in tables
    finally:
        await engine.dispose()


async def _to_thread(func, *args):
    return await asyncio.to_thread(run_blocking, func, *args)


async def test_scoring_queue_replaces_the_recompute_triggers_and_back(blank_url: str) -> None:
    """0011: rows computed by 0004's triggers are kept; afterwards a write only queues its
    ticket (catch-up makes the rows exact). The downgrade brings the recompute triggers back and
    rebuilds, so changes still queued are in the rows."""
    cfg = alembic_config(blank_url)
    await _to_thread(command.upgrade, cfg, "0010")
    engine = create_engine(blank_url)
    try:
        async with make_sessionmaker(engine)() as s:
            tickets = await seed(s, FIXED[:4])
            await s.commit()
            before = await score_rows(s)
        assert len(before) == 4

        await _to_thread(command.upgrade, cfg, "0011")
        async with make_sessionmaker(engine)() as s:
            assert await score_rows(s) == before  # nothing rebuilt, nothing lost
            first = tickets[0].id
            await s.execute(update(Response).where(Response.ticket_id == first).values(score=0))
            await s.commit()
            assert await score_rows(s) == before  # queued, not recomputed
            assert await upkeep.queued(s) == 1
            await s.commit()
        # Today's drain needs today's tables: the queue waits through the upgrade.
        await _to_thread(command.upgrade, cfg, "head")
        async with make_sessionmaker(engine)() as s:
            # 0014 filled the bucket sums from the rows as they were: what a refill gives.
            filled = await bucket_rows(s)
            assert filled["score_buckets"]
            for _, statements in bucket_sql.fill(s.get_bind().dialect.name):
                for statement in statements:
                    await s.execute(text(statement))
            assert await bucket_rows(s) == filled
            await s.rollback()
            await upkeep.catch_up(s)
            assert (await score_rows(s))[first]["s10_unhappy"] == 1
            await s.commit()
            await s.execute(update(Response).where(Response.ticket_id == first).values(score=10))
            await s.commit()  # left in the queue for the downgrade

        await _to_thread(command.downgrade, cfg, "0010")
        async with make_sessionmaker(engine)() as s:
            assert (await score_rows(s))[first]["s10_happy"] == 1  # rebuilt on the way down
            await s.execute(update(Response).where(Response.ticket_id == first).values(score=3))
            await s.commit()
            assert (await score_rows(s))[first]["s10_unhappy"] == 1  # a trigger recomputed it
            tables = await s.run_sync(lambda ss: inspect(ss.connection()).get_table_names())
            assert "scoring_dirty" not in tables
            # Rebuilt from scratch (the queue's statement aside: no queue at 0010), the same.
            kept = await score_rows(s)
            await s.execute(text("DELETE FROM ticket_scores"))
            for statement in rollup.rebuild_all()[1:]:
                await s.execute(text(statement))
            assert await score_rows(s) == kept
    finally:
        await engine.dispose()
