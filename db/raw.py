"""Plain driver access for the hottest path (RSVP clicks).

SQLAlchemy's async layer costs several milliseconds per transaction in Python (session
bookkeeping, greenlet switches, cursor adaptation); a burst of clicks spends most of its
time there. Statements here go straight to aiosqlite or asyncpg, written once with `$n`
placeholders (SQLite reads them as `?n`), inside a transaction this module opens and
commits. Only simple, portable SQL belongs here; everything else uses SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

_PLACEHOLDER = re.compile(r"\$(\d+)")
# How SQLAlchemy stores DateTime on SQLite (UTC, no offset; see db.base.UTCDateTime).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


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


# Column names by statement (the raw path has a handful of fixed statements).
_SQLITE_COLUMNS: dict[str, tuple[str, ...]] = {}


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
    # finalises them when they go), which saves a hop per statement; a query's column names
    # are learnt once, after which it runs and fetches in a single hop.
    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        query, values = self._prepare(sql, args)
        names = _SQLITE_COLUMNS.get(query)
        if names is None:
            cursor = await self._connection.execute(query, values)
            found = await cursor.fetchall()
            names = _SQLITE_COLUMNS[query] = tuple(c[0] for c in cursor.description or ())
        else:
            found = await self._connection.execute_fetchall(query, values)
        return dict(zip(names, found[0], strict=True)) if found else None

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._connection.execute(*self._prepare(sql, args))
        return int(cursor.rowcount)


async def within(session: AsyncSession) -> RawTransaction:
    """Driver access inside a session's own transaction (same connection, same BEGIN)."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    driver: Any = pooled.driver_connection
    return _Postgres(driver) if connection.dialect.name == "postgresql" else _Sqlite(driver)


# PostgreSQL: the hot path takes connections from asyncpg's own pool. Checking one out of
# SQLAlchemy's async pool and back costs about 0.3 ms of Python (greenlet switches, reset on
# return) per click, which a burst of 100 clicks queues up into tens of milliseconds.
DRIVER_POOL_SIZE = 10
_ASYNCPG_OPTIONS = frozenset(inspect.signature(asyncpg.connect).parameters)
_driver_pools: weakref.WeakKeyDictionary[Engine, asyncpg.Pool] = weakref.WeakKeyDictionary()
_creating: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


async def _driver_pool(engine: AsyncEngine) -> asyncpg.Pool:
    """The engine's asyncpg pool, made on first use and closed when the engine is disposed."""
    sync = engine.sync_engine
    pool = _driver_pools.get(sync)
    if pool is not None:
        return pool
    async with _creating.setdefault(sync, asyncio.Lock()):
        pool = _driver_pools.get(sync)
        if pool is None:
            _, options = engine.dialect.create_connect_args(engine.url)
            pool = await asyncpg.create_pool(
                min_size=0,
                max_size=DRIVER_POOL_SIZE,
                # Statements here leave no session state behind: no reset query on release.
                connection_class=_NoResetConnection,
                **{k: v for k, v in options.items() if k in _ASYNCPG_OPTIONS},
            )
            _driver_pools[sync] = pool
            if not event.contains(sync, "engine_disposed", _close_driver_pool):
                event.listen(sync, "engine_disposed", _close_driver_pool)
    return pool


def _close_driver_pool(sync: Engine) -> None:
    # dispose() is synchronous, so the pool is terminated (sockets closed) rather than
    # closed gracefully; nothing is in flight by then. A later use makes a new pool.
    pool = _driver_pools.pop(sync, None)
    if pool is not None:
        pool.terminate()


# asyncpg ships no type information, hence the ignore.
class _NoResetConnection(asyncpg.Connection):  # type: ignore[misc]
    def get_reset_query(self) -> str:
        return ""


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[RawTransaction]:
    """PostgreSQL only: each statement is its own transaction (one round trip each)."""
    assert engine.dialect.name == "postgresql"
    async with (await _driver_pool(engine)).acquire() as connection:
        yield _Postgres(connection)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[RawTransaction]:
    """A write transaction on a pooled connection: committed on success, rolled back on error."""
    if engine.dialect.name == "postgresql":
        # A connection that died (server restarted) is closed, and the pool replaces it.
        pool = await _driver_pool(engine)
        async with pool.acquire() as connection, connection.transaction():
            yield _Postgres(connection)
        return
    async with engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        driver: Any = pooled.driver_connection
        # The connection is in autocommit mode (db.engine turns the driver's own BEGIN off).
        await driver.execute("BEGIN IMMEDIATE")
        try:
            yield _Sqlite(driver)
        except BaseException:
            await driver.execute("ROLLBACK")
            raise
        await driver.execute("COMMIT")
