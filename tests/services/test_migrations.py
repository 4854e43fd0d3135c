"""Migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from db.base import Base
from db.engine import Sessions, create_engine
from db.migrate import current_revision, head_revision, upgrade
from db.models import GuildSettings


async def test_no_drift_between_migrations_and_models(engine: AsyncEngine) -> None:
    """`upgrade head` leaves nothing for autogenerate to add, drop or alter."""

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    assert await current_revision(engine) == head_revision()


async def test_upgrade_is_repeatable(engine: AsyncEngine) -> None:
    """Running the migrations again at head changes nothing (every `techmeet run` does it)."""
    await upgrade(engine)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_upgrade_refuses_a_broken_database(sqlite_url: str) -> None:
    """A database with a conflicting table fails loudly and stays unmigrated."""
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE guild_settings (nonsense TEXT)"))
        with pytest.raises(Exception, match="guild_settings"):
            await upgrade(engine)
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()


async def test_datetimes_come_back_aware_utc(sessions: Sessions) -> None:
    """An aware time in any zone is stored as UTC and read back aware."""
    paris = timezone(timedelta(hours=1))
    async with sessions.begin() as session:
        session.add(
            GuildSettings(guild_id=1, updated_at=datetime(2026, 12, 3, 19, 0, tzinfo=paris))
        )
    async with sessions() as session:
        stored = await session.scalar(select(GuildSettings.updated_at))
    assert stored == datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(sessions: Sessions) -> None:
    """A naive datetime is a bug: its meaning depends on the machine's clock settings."""
    with pytest.raises(Exception, match="naive datetime"):
        async with sessions.begin() as session:
            session.add(GuildSettings(guild_id=2, updated_at=datetime(2026, 12, 3, 18, 0)))
