"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import Sessions, create_engine, create_sessions
from db.migrate import upgrade

TEST_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# CI sets this so a missing PostgreSQL fails the run instead of silently skipping.
REQUIRE_POSTGRES = os.environ.get("TECHMEET_REQUIRE_POSTGRES") == "1"


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _postgres_reachable() -> bool:
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(TEST_POSTGRES_URL), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


_reachable: bool | None = None


def postgres_reachable() -> bool:
    global _reachable  # noqa: PLW0603  (checked once per test run)
    if _reachable is None:
        _reachable = asyncio.run(_postgres_reachable())
    return _reachable


def _require_postgres() -> None:
    if postgres_reachable():
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL is required but not reachable at {TEST_POSTGRES_URL}")
    pytest.skip(f"PostgreSQL not reachable at {TEST_POSTGRES_URL}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own, dropped afterwards."""
    _require_postgres()
    name = f"techmeet_test_{secrets.token_hex(6)}"
    admin = _asyncpg_dsn(TEST_POSTGRES_URL)

    async def admin_sql(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'techmeet.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'techmeet.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to the latest revision."""
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return create_sessions(engine)
