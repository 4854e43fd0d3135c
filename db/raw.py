"""Plain driver access for the hottest paths (RSVP and vote clicks).

SQLAlchemy's async layer costs several milliseconds per transaction in Python (session
bookkeeping, greenlet switches, cursor adaptation); a burst of clicks spends most of its
time there. Statements here go straight to asyncpg (its own pool), or to SQLite on a
connection of this module's own (see transaction), written once with `$n` placeholders
(SQLite reads them as `?n`), inside a transaction this module opens and commits; `within`
runs them inside a session's transaction instead. Only simple SQL belongs here;
everything else uses SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import sqlite3
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
# How long a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 15_000


class DuplicateRow(Exception):
    """A statement hit a unique constraint (and was rolled back as a whole)."""


class RawTransaction(Protocol):
    postgres: bool

    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None: ...

    async def rows(self, sql: str, *args: Any) -> list[Mapping[str, Any]]: ...

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it changed."""
        ...


def to_datetime(value: Any) -> datetime:
    """A datetime column as read by either driver, as an aware UTC datetime."""
    if isinstance(value, str):
        # fromisoformat reads SQLite's "YYYY-MM-DD HH:MM:SS.ffffff" in C; strptime took
        # a tenth of a vote's time in Python.
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
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

    async def rows(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        try:
            records = await self._connection.fetch(sql, *args)
        except asyncpg.UniqueViolationError as error:
            raise DuplicateRow(str(error)) from error
        return [dict(record) for record in records]

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._connection.execute(sql, *args)
        # "UPDATE 1", "INSERT 0 1"
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


# By statement (the raw path has a handful of fixed statements): SQLite's spelling of it,
# and its column names.
_SQLITE_QUERIES: dict[str, str] = {}
_SQLITE_COLUMNS: dict[str, tuple[str, ...]] = {}


def _sqlite_statement(sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """A statement and its values as SQLite takes them."""
    # As SQLAlchemy stores DateTime on SQLite: UTC text, no offset (db.base.UTCDateTime).
    values = tuple(
        value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        if isinstance(value, datetime)
        else value
        for value in args
    )
    query = _SQLITE_QUERIES.get(sql)
    if query is None:
        query = _SQLITE_QUERIES[sql] = _PLACEHOLDER.sub(r"?\1", sql)
    return query, values


class _Sqlite:
    """Statements on aiosqlite (inside a session's transaction: see within)."""

    postgres = False

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    # Each await is a hop to aiosqlite's thread: cursors are not closed explicitly (sqlite3
    # finalises them when they go), which saves a hop per statement; a query's column names
    # are learnt once, after which it runs and fetches in a single hop.
    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        query, values = _sqlite_statement(sql, args)
        names = _SQLITE_COLUMNS.get(query)
        if names is None:
            cursor = await self._connection.execute(query, values)
            found = await cursor.fetchall()
            names = _SQLITE_COLUMNS[query] = tuple(c[0] for c in cursor.description or ())
        else:
            found = await self._connection.execute_fetchall(query, values)
        return dict(zip(names, found[0], strict=True)) if found else None

    async def rows(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        query, values = _sqlite_statement(sql, args)
        cursor = await self._connection.execute(query, values)
        found = await cursor.fetchall()
        names = [c[0] for c in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in found]

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._connection.execute(*_sqlite_statement(sql, args))
        return int(cursor.rowcount)


class _SqliteOnLoop:
    """The same on a plain sqlite3 connection, run on the event loop (see transaction)."""

    postgres = False

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def row(self, sql: str, *args: Any) -> Mapping[str, Any] | None:
        cursor = self._connection.execute(*_sqlite_statement(sql, args))
        found = cursor.fetchone()
        if found is None:
            return None
        return dict(zip((c[0] for c in cursor.description), found, strict=True))

    async def rows(self, sql: str, *args: Any) -> list[Mapping[str, Any]]:
        cursor = self._connection.execute(*_sqlite_statement(sql, args))
        names = [c[0] for c in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    async def execute(self, sql: str, *args: Any) -> int:
        return self._connection.execute(*_sqlite_statement(sql, args)).rowcount


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
                # The statements here are few and fixed, and asyncpg prepares each once per
                # connection. Left to choose, PostgreSQL re-plans the batch statements (an
                # array of clicks) on every execution, as a one-click array looks cheaper
                # than its generic plan: 0.6 ms more for a vote on its own.
                server_settings={
                    **options.get("server_settings", {}),
                    "plan_cache_mode": "force_generic_plan",
                },
                **{
                    k: v
                    for k, v in options.items()
                    if k in _ASYNCPG_OPTIONS and k != "server_settings"
                },
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
    """A write transaction, committed on success and rolled back on error: on a connection
    from asyncpg's pool, or on SQLite's connection for the event loop. There it waits its
    turn on the writer lock, which it holds while it runs but not while it waits for its
    commit (see _LoopWriter)."""
    if engine.dialect.name == "postgresql":
        # A connection that died (server restarted) is closed, and the pool replaces it.
        pool = await _driver_pool(engine)
        async with pool.acquire() as connection, connection.transaction():
            yield _Postgres(connection)
        return
    writer = _loop_writer(engine)
    async with writer_lock(engine), writer.part() as committed:
        yield _SqliteOnLoop(writer.connection)
    # Shielded: this caller's task being cancelled (at shutdown) must not cancel the
    # commit the other transactions in its group wait for.
    await asyncio.shield(committed)


# SQLite allows one writer at a time, and a writer that finds the database busy sleeps in
# growing steps (up to 100 ms) before trying again; so this process's writers queue on an
# asyncio lock instead, first come first served: the raw transactions here and
# SQLAlchemy's write sessions (db.engine.Sessions.begin) alike. One per database.
_writer_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def writer_lock(engine: AsyncEngine) -> asyncio.Lock:
    """SQLite: the lock this process's writers to `engine`'s database take turns on."""
    lock = _writer_locks.get(engine.sync_engine)
    if lock is None:
        lock = _writer_locks[engine.sync_engine] = asyncio.Lock()
    return lock


def commit_waiting(engine: AsyncEngine) -> None:
    """SQLite: commit now what waits for the loop's next pass. For a writer on another
    connection (a SQLAlchemy session), which would otherwise find the database locked
    and sleep in SQLite's busy handler for at least a millisecond. Call it holding the
    writer lock, so that no transaction is half done."""
    writer = _loop_writers.get(engine.sync_engine)
    if writer is not None:
        writer.commit()


class _LoopWriter:
    """SQLite's connection for the event loop, and its group commit.

    A click's transaction takes SQLite tens of microseconds, but its COMMIT writes each page
    it changed to the WAL, about 15 µs a page: most of a vote's time in the database. So
    transactions that run back to back (a burst of clicks) share one commit. Each runs as a
    savepoint inside the one open transaction, rolled back alone if it fails; the COMMIT
    runs on the event loop's next pass, after the transactions that came in the same pass.
    Each caller hears back only after that COMMIT, so nothing is reported done before it
    is written, as before. A transaction alone pays a savepoint and one pass of the loop.

    Only writers that reach the writer lock while it is free in the same pass of the loop
    join a group. One that queued for the lock (behind a SQLAlchemy session's write, say)
    is woken after the COMMIT already scheduled, and starts a group of its own.

    If SQLite ends the whole transaction itself (a full disk, an I/O error), or the COMMIT
    fails, every transaction of the group fails: none of them was reported done. (One
    transaction's deferred foreign key could fail a COMMIT and so its group; the schema
    has none.) A transaction that is refused (an exception in its body) returns at once,
    without waiting for the group's COMMIT; what it read of the others' writes was not yet
    committed then. Nothing refused today depends on another member's write.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._committed: asyncio.Future[None] | None = None  # the open group's COMMIT
        self._writing = False  # a transaction of the group is under way
        self._commit_due = False  # the loop's pass came while one was

    @asynccontextmanager
    async def part(self) -> AsyncIterator[asyncio.Future[None]]:
        """One transaction, as a savepoint in the open group (opened if there is none);
        yields the future of the group's COMMIT. One at a time: callers hold the writer
        lock."""
        assert not self._writing, "one transaction at a time: take the writer lock"
        if self._committed is None:
            await _begin_immediate(self.connection)
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self.commit)
        committed = self._committed
        self.connection.execute("SAVEPOINT part")
        self._writing = True
        try:
            yield committed
            self.connection.execute("RELEASE part")
        except BaseException as error:
            self._undo(error)
            raise
        finally:
            self._writing = False
            if self._commit_due:
                self.commit()

    def _undo(self, error: BaseException) -> None:
        """Roll back the failed transaction alone; or, if SQLite has ended the group's
        transaction (a full disk, an I/O error) or the savepoint cannot be undone, the
        whole group, whose other writers hear so."""
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK TO part")
                self.connection.execute("RELEASE part")
                return
        except sqlite3.Error:
            # Closed (the engine was disposed), or the savepoint would not roll back.
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
        self._end(_rolled_back(error))

    def commit(self) -> None:
        """Commit the open group, if any; if one of its transactions is under way (it
        awaited something mid-way), as soon as that is done."""
        if self._writing:
            self._commit_due = True
            return
        self._commit_due = False
        if self._committed is None:
            return
        try:
            self.connection.execute("COMMIT")
        except Exception as error:
            # A COMMIT that failed can leave the transaction open, holding the write lock.
            with contextlib.suppress(sqlite3.Error):
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
            self._end(error)
        else:
            committed, self._committed = self._committed, None
            committed.set_result(None)

    def close(self) -> None:
        """The engine is disposed: commit what waits for the loop's next pass, and close.
        A transaction still under way is rolled back with the connection; its group hears
        so rather than waiting for ever."""
        self.commit()
        self._end(sqlite3.ProgrammingError("the database connection was closed"))
        self.connection.close()

    def _end(self, error: Exception) -> None:
        """The group's transaction ended without a commit: its writers hear `error`."""
        committed, self._committed = self._committed, None
        if committed is not None:
            committed.set_exception(error)
            # Read here as well: when no writer is left waiting, asyncio would otherwise
            # log it as never retrieved.
            committed.exception()


def _rolled_back(cause: BaseException) -> sqlite3.OperationalError:
    """What the other writers of a group hear when a transaction among them took the
    group's down with it (their own was fine)."""
    error = sqlite3.OperationalError("rolled back with a failed write in the same commit")
    error.__cause__ = cause
    return error


# SQLite: the hot path's transactions run on the event loop's own thread, on a connection
# of their own. Its statements are point reads and writes by key that take SQLite tens of
# microseconds; each hop to aiosqlite's thread and back cost more than that in Python
# (a future, a queue, a wake-up of the loop), five or six hops per click. The loop never
# waits on a lock here: the write lock is asked for without waiting (busy_timeout 0) and
# retried with asyncio.sleep, and once held nothing else can make a statement wait. The
# connection never checkpoints the WAL itself (a checkpoint can take milliseconds of disk
# work); the pool's connections do that for it in aiosqlite's thread, at the latest when
# the process registry's heartbeat commits (every 10 s), so the WAL cannot grow unchecked.
# Transactions come one at a time: callers hold the writer lock (writer_lock), though not
# while they wait for their group's COMMIT (_LoopWriter).
_loop_writers: weakref.WeakKeyDictionary[Engine, _LoopWriter] = weakref.WeakKeyDictionary()


def _loop_writer(engine: AsyncEngine) -> _LoopWriter:
    sync = engine.sync_engine
    writer = _loop_writers.get(sync)
    if writer is None:
        (database,), options = engine.dialect.create_connect_args(engine.url)
        # isolation_level=None: the sqlite3 module issues no BEGIN of its own.
        connection = sqlite3.connect(
            database,
            isolation_level=None,
            check_same_thread=False,
            uri=bool(options.get("uri")),  # a file: URL, as the pool's connections read it
        )
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=0",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "wal_autocheckpoint=0",
        ):
            connection.execute(f"PRAGMA {pragma}")
        writer = _loop_writers[sync] = _LoopWriter(connection)
        if not event.contains(sync, "engine_disposed", _close_loop_writer):
            event.listen(sync, "engine_disposed", _close_loop_writer)
    return writer


def _close_loop_writer(sync: Engine) -> None:
    writer = _loop_writers.pop(sync, None)
    if writer is not None:
        writer.close()


async def _begin_immediate(connection: sqlite3.Connection) -> None:
    """Take SQLite's write lock, waiting as its busy handler would (growing pauses up to
    100 ms, SQLITE_BUSY_TIMEOUT_MS in all) but without blocking the event loop."""
    pause, waited = 0.001, 0.0
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            # The primary code: SQLITE_BUSY_RECOVERY and the like are busy too.
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or waited * 1000 >= SQLITE_BUSY_TIMEOUT_MS:
                raise
        else:
            return
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.1)
