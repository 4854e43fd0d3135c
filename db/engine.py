"""Async engine and session factory, with SQLite set up for safe concurrent use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.raw import (
    SQLITE_BUSY_TIMEOUT_MS,
    RawTransaction,
    autocommit,
    commit_waiting,
    transaction,
    writer_lock,
)

# PostgreSQL connections kept open. A burst of clicks uses this many at once; with
# SQLAlchemy's default of 5, the rest were overflow connections opened and closed per
# click (a new server connection costs milliseconds). 20 + 10 overflow per process leaves
# room for three processes under PostgreSQL's default max_connections of 100.
POSTGRES_POOL_SIZE, POSTGRES_MAX_OVERFLOW = 20, 10
# Execution option naming how a SQLite transaction begins (IMMEDIATE unless it only reads).
SQLITE_BEGIN = "sqlite_begin"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine for DATABASE_URL.

    SQLite: WAL so readers never block the writer, a busy timeout so a second writer waits
    instead of failing, foreign keys on, and write transactions begin IMMEDIATE: a writer
    takes the write lock up front instead of failing to upgrade a read lock half-way.
    """
    if make_url(url).get_backend_name() != "sqlite":
        # No pre-ping: it would cost a round trip on every click. A connection that died
        # (database restarted) fails one request and is thrown away; the next gets a new one.
        kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
        kwargs.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
        return create_async_engine(url, **kwargs)

    # No ROLLBACK when a connection goes back to the pool: every user of a connection ends
    # its transaction itself (SQLAlchemy on close), and each such ROLLBACK is one more trip
    # to aiosqlite's thread for every command.
    kwargs.setdefault("pool_reset_on_return", None)
    engine = create_async_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing its own BEGIN; _on_begin issues ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


# The database went away (restart, network) or will not take connections for now: asyncpg's
# connection errors (SQLSTATE 08), "cannot connect now" (57P03) and "terminated by the
# administrator" (57P01, a restart), too many connections (53300), a database not accepting
# connections (55000 at connect), and the socket errors beneath them.
_UNREACHABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ObjectNotInPrerequisiteStateError,
)


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached right now (so trying again
    later may work), rather than a mistake in what was asked of it."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig or error
        inner = getattr(error, "__cause__", None)  # SQLAlchemy's asyncpg adapter wraps once more
        if inner is not None:
            error = inner
    return isinstance(error, _UNREACHABLE)


class Sessions:
    """Session factory: `sessions()` for reading, `sessions.begin()` for a write transaction.

    On SQLite a reader begins DEFERRED (it never blocks the writer or other readers, thanks
    to WAL) and a writer begins IMMEDIATE; PostgreSQL treats both alike. A read session
    must not write: on SQLite its lock upgrade could fail instead of waiting.

    SQLite allows one writer at a time: this process's writers take turns on one lock per
    database (db.raw.writer_lock), and only ever wait for each other.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        # expire_on_commit=False: services return plain data after commit, never lazy loads.
        self._write = async_sessionmaker(engine, expire_on_commit=False)
        self._read = async_sessionmaker(
            engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"}), expire_on_commit=False
        )
        self._writer = writer_lock(engine) if engine.dialect.name == "sqlite" else None
        self._engine = engine

    def __call__(self) -> AsyncSession:
        return self._read()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        if self._writer is None:
            async with self._write.begin() as session:
                yield session
            return
        async with self._writer:
            commit_waiting(self._engine)
            async with self._write.begin() as session:
                yield session

    @property
    def postgres(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def autocommit(self) -> AbstractAsyncContextManager[RawTransaction]:
        """PostgreSQL: single statements on the driver, each its own transaction."""
        return autocommit(self._engine)

    @asynccontextmanager
    async def raw(self) -> AsyncIterator[RawTransaction]:
        """A write transaction straight on the driver (see db.raw), queued like begin()."""
        async with transaction(self._engine) as tx:
            yield tx


def create_sessions(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)
