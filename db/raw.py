"""Plain driver access for the hottest path (RSVP clicks).

SQLAlchemy's async layer costs several milliseconds per transaction in Python (session
bookkeeping, greenlet switches, cursor adaptation); a burst of clicks spends most of its
time there. Statements here go straight to aiosqlite or asyncpg, written once with `$n`
placeholders (SQLite reads them as `?n`), inside a transaction this module opens and
commits. Only simple, portable SQL belongs here; everything else uses SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

_PLACEHOLDER = re.compile(r"\$(\d+)")
# How SQLAlchemy stores DateTime on SQLite (UTC, no offset; see db.base.UTCDateTime).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


# The server went away under the connection (restart, network): SQLAlchemy would notice
# on its own statements; driver statements have to say so.
_CONNECTION_LOST = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


class DuplicateRow(Exception):
    """A statement hit a unique constraint (and was rolled back as a whole)."""


class RawTransaction(Protocol):
    postgres: bool

    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it changed."""
        ...


def to_datetime(value: Any) -> datetime:
    """A datetime column as read by either driver, as an aware UTC datetime."""
    if isinstance(value, str):
        return datetime.strptime(value, _SQLITE_DATETIME).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


class _Postgres:
    postgres = True

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        try:
            record = await self._connection.fetchrow(sql, *args)
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRow(str(error)) from error
        return None if record is None else dict(record)

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._connection.execute(sql, *args)
        # "UPDATE 1", "INSERT 0 1"
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


class _Sqlite:
    postgres = False

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @staticmethod
    def _prepare(sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        values = tuple(
            value.astimezone(UTC).strftime(_SQLITE_DATETIME)
            if isinstance(value, datetime)
            else value
            for value in args
        )
        return _PLACEHOLDER.sub(r"?\1", sql), values

    # Each await is a hop to aiosqlite's thread: cursors are not closed explicitly (sqlite3
    # finalises them when they go), which saves a hop per statement.
    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        cursor = await self._connection.execute(*self._prepare(sql, args))
        found = await cursor.fetchone()
        names = [column[0] for column in cursor.description or ()]
        return None if found is None else dict(zip(names, found, strict=True))

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._connection.execute(*self._prepare(sql, args))
        return int(cursor.rowcount)


async def within(session: AsyncSession) -> RawTransaction:
    """Driver access inside a session's own transaction (same connection, same BEGIN)."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    driver: Any = pooled.driver_connection
    return _Postgres(driver) if connection.dialect.name == "postgresql" else _Sqlite(driver)


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[RawTransaction]:
    """PostgreSQL only: each statement is its own transaction (one round trip each)."""
    assert engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        try:
            yield _Postgres(pooled.driver_connection)
        except _CONNECTION_LOST:
            await connection.invalidate()  # don't hand a dead connection out again
            raise


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[RawTransaction]:
    """A write transaction on a pooled connection: committed on success, rolled back on error."""
    async with engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        driver: Any = pooled.driver_connection
        if engine.dialect.name == "postgresql":
            try:
                async with driver.transaction():
                    yield _Postgres(driver)
            except _CONNECTION_LOST:
                await connection.invalidate()  # don't hand a dead connection out again
                raise
            return
        # The connection is in autocommit mode (db.engine turns the driver's own BEGIN off).
        await driver.execute("BEGIN IMMEDIATE")
        try:
            yield _Sqlite(driver)
        except BaseException:
            await driver.execute("ROLLBACK")
            raise
        await driver.execute("COMMIT")
