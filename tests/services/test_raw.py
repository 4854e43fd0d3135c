"""The hot path's own transactions (db.raw): committed or rolled back whole, and on SQLite
run on the event loop without ever making it wait for another writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db import raw
from db.engine import Sessions, create_engine, create_sessions
from db.migrate import upgrade


async def _count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(text("SELECT count(*) FROM scratch"))).scalar_one())


@pytest.fixture
async def scratch(sessions: Sessions) -> Sessions:
    async with sessions.raw() as tx:
        await tx.execute("CREATE TABLE scratch (n integer PRIMARY KEY)")
    return sessions


async def test_a_transaction_commits_what_it_wrote(scratch: Sessions) -> None:
    async with scratch.raw() as tx:
        assert await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 1) == 1
        assert await tx.row("SELECT n FROM scratch WHERE n = $1", 1) == {"n": 1}
    assert await _count(scratch) == 1


async def test_rows_come_back_all_and_in_order_in_either_transaction(scratch: Sessions) -> None:
    """rows() on the hot path's own transaction, and inside a session's (db.raw.within)."""
    query = "SELECT n FROM scratch WHERE n > $1 ORDER BY n DESC"
    async with scratch.raw() as tx:
        for n in (1, 2, 3):
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", n)
        assert await tx.rows(query, 1) == [{"n": 3}, {"n": 2}]
        assert await tx.rows("INSERT INTO scratch (n) VALUES ($1) RETURNING n", 4) == [{"n": 4}]
        assert await tx.rows("UPDATE scratch SET n = n WHERE n = $1", 4) == []  # no columns
    # As row(): PostgreSQL's one-statement paths catch a unique violation as DuplicateRow.
    with pytest.raises(raw.DuplicateRow if scratch.postgres else sqlite3.IntegrityError):
        async with scratch.raw() as tx:
            await tx.rows("INSERT INTO scratch (n) VALUES ($1) RETURNING n", 4)
    async with scratch() as session:
        inside = await raw.within(session)
        assert await inside.rows(query, 0) == [{"n": 4}, {"n": 3}, {"n": 2}, {"n": 1}]
        assert await inside.rows(query, 4) == []


async def _insert(sessions: Sessions, n: int) -> None:
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO scratch (n) VALUES ($1)", n)


async def _insert_then_fail(sessions: Sessions) -> None:
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 1)
        raise RuntimeError("the click failed half-way")


async def test_a_failed_transaction_leaves_nothing_behind(scratch: Sessions) -> None:
    with pytest.raises(RuntimeError):
        await _insert_then_fail(scratch)
    assert await _count(scratch) == 0
    # And the connection is usable again at once.
    await _insert(scratch, 2)
    assert await _count(scratch) == 1


@pytest.fixture
async def sqlite_scratch(tmp_path: Path) -> AsyncIterator[tuple[Sessions, Path]]:
    path = tmp_path / "techmeet.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    sessions = create_sessions(engine)
    async with sessions.raw() as tx:
        await tx.execute("CREATE TABLE scratch (n integer PRIMARY KEY)")
    yield sessions, path
    await engine.dispose()


async def test_sqlite_waits_for_another_writer_without_stopping_the_loop(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    sessions, path = sqlite_scratch
    # Another program (a backup, `sqlite3` in a terminal) holds the write lock.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    ticks = 0

    async def meanwhile() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(meanwhile())
    waiting = asyncio.create_task(_insert(sessions, 1))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    # The loop went on with other work while the click waited for the lock.
    assert ticks >= 20
    other.execute("COMMIT")
    await asyncio.wait_for(waiting, 5)
    ticker.cancel()
    other.close()
    assert await _count(sessions) == 1


async def test_sqlite_gives_up_when_the_lock_is_held_too_long(
    sqlite_scratch: tuple[Sessions, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions, path = sqlite_scratch
    monkeypatch.setattr(raw, "SQLITE_BUSY_TIMEOUT_MS", 100)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await _insert(sessions, 1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Nothing was written, and the next click goes through.
    assert await _count(sessions) == 0
    await _insert(sessions, 1)
    assert await _count(sessions) == 1


async def _fail_after_sqlite_ended_the_transaction(sessions: Sessions) -> None:
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 1)
        # As SQLite does itself on a full disk or an I/O error.
        await tx.execute("ROLLBACK")
        raise OSError("disk full")


async def test_sqlite_reports_the_error_that_ended_its_transaction(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """The error that matters reaches the caller, not a failed ROLLBACK after it."""
    sessions, _ = sqlite_scratch
    with pytest.raises(OSError, match="disk full"):
        await _fail_after_sqlite_ended_the_transaction(sessions)
    assert await _count(sessions) == 0
    await _insert(sessions, 2)
    assert await _count(sessions) == 1


async def _children_checked_at_commit(sessions: Sessions) -> None:
    """Tables whose foreign key SQLite checks only at COMMIT (deferred), so that the
    COMMIT itself can fail."""
    async with sessions.raw() as tx:
        await tx.execute("CREATE TABLE parent (id integer PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE child (parent_id integer"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )


async def _orphan(sessions: Sessions) -> None:
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO child (parent_id) VALUES ($1)", 99)


async def test_a_commit_that_fails_leaves_nothing_open(sessions: Sessions) -> None:
    """A foreign key checked at COMMIT fails the COMMIT itself (SQLite then keeps the
    transaction, and its write lock): nothing is stored and the next click goes through."""
    await _children_checked_at_commit(sessions)
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await _orphan(sessions)
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO parent (id) VALUES ($1)", 1)
        await tx.execute("INSERT INTO child (parent_id) VALUES ($1)", 1)
    async with sessions() as session:
        rows = (await session.execute(text("SELECT parent_id FROM child"))).scalars().all()
    assert rows == [1]


# SQLite's group commit: writes that arrive together share one COMMIT (db.raw._LoopWriter).


def _commits(sessions: Sessions) -> list[str]:
    """The COMMITs the event loop's SQLite connection sends from now on."""
    statements: list[str] = []
    raw._loop_writers[sessions._engine.sync_engine].connection.set_trace_callback(statements.append)
    return statements


def _stored(path: Path) -> set[int]:
    """What another connection (another program) can read."""
    other = sqlite3.connect(path)
    try:
        return {n for (n,) in other.execute("SELECT n FROM scratch")}
    finally:
        other.close()


async def test_sqlite_writes_that_arrive_together_share_one_commit(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """A burst of 20 writes: one COMMIT, and each write is on disk when it returns."""
    sessions, path = sqlite_scratch
    sent = _commits(sessions)

    async def insert_and_read_back(n: int) -> bool:
        await _insert(sessions, n)
        return n in _stored(path)

    assert await asyncio.gather(*(insert_and_read_back(n) for n in range(20))) == [True] * 20
    assert [s for s in sent if s == "COMMIT"] == ["COMMIT"]
    # One alone commits at once, in a group of its own.
    await _insert(sessions, 20)
    assert 20 in _stored(path)
    assert [s for s in sent if s == "COMMIT"] == ["COMMIT"] * 2


async def _insert_and_fail(sessions: Sessions, n: int) -> None:
    async with sessions.raw() as tx:
        await tx.execute("INSERT INTO scratch (n) VALUES ($1)", n)
        raise RuntimeError("the click failed half-way")


async def test_a_write_that_fails_in_a_group_takes_only_its_own_back(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    sessions, path = sqlite_scratch
    sent = _commits(sessions)
    outcomes = await asyncio.gather(
        _insert(sessions, 1),
        _insert_and_fail(sessions, 2),
        _insert(sessions, 3),
        return_exceptions=True,
    )
    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], RuntimeError)
    assert _stored(path) == {1, 3}
    assert [s for s in sent if s == "COMMIT"] == ["COMMIT"]


async def test_sqlite_ending_a_groups_transaction_fails_every_write_in_it(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """A full disk or an I/O error ends the whole transaction: the write before it in its
    group is lost too, so it must not be reported done; the next group goes through."""
    sessions, path = sqlite_scratch
    outcomes = await asyncio.gather(
        _insert(sessions, 5),
        _fail_after_sqlite_ended_the_transaction(sessions),
        return_exceptions=True,
    )
    # Its own error for the write that failed; for the other, word that it went with it.
    assert [type(o) for o in outcomes] == [sqlite3.OperationalError, OSError]
    assert isinstance(outcomes[0], BaseException)
    assert isinstance(outcomes[0].__cause__, OSError)
    assert _stored(path) == set()
    await _insert(sessions, 6)
    assert _stored(path) == {6}


async def test_a_failed_group_commit_fails_every_write_in_it(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    sessions, path = sqlite_scratch
    await _children_checked_at_commit(sessions)
    outcomes = await asyncio.gather(_insert(sessions, 1), _orphan(sessions), return_exceptions=True)
    assert all("FOREIGN KEY" in str(o).upper() for o in outcomes), outcomes
    assert _stored(path) == set()
    await _insert(sessions, 2)
    assert _stored(path) == {2}


async def test_a_writer_cancelled_while_its_group_commits_holds_no_one_else_up(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """At shutdown a click's task is cancelled: the others in its group still hear their
    commit (and its write, already in the group, is committed with them)."""
    sessions, path = sqlite_scratch
    first = asyncio.create_task(_insert(sessions, 1))
    second = asyncio.create_task(_insert(sessions, 2))
    await asyncio.sleep(0)  # both written, their commit not yet sent
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert _stored(path) == {1, 2}


async def test_a_session_write_commits_the_waiting_group_first(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """Before a SQLAlchemy session writes (Sessions.begin), what waits for the loop's next
    pass is committed at once: the session's connection would otherwise find the database
    locked and sleep in SQLite's busy handler. Nothing is half done then: both take the
    same writer lock."""
    sessions, path = sqlite_scratch
    waiting = asyncio.create_task(_insert(sessions, 1))
    await asyncio.sleep(0)  # written, its commit not yet sent
    assert _stored(path) == set()
    async with sessions.begin() as session:
        assert _stored(path) == {1}  # before anything here let the loop run again
        await session.execute(text("INSERT INTO scratch (n) VALUES (2)"))
    await waiting
    assert _stored(path) == {1, 2}


async def test_a_transaction_that_awaits_mid_way_is_committed_when_done(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """The loop's pass that commits comes while a transaction awaits something: the
    COMMIT waits for it, and the writer queued behind it commits in turn."""
    sessions, path = sqlite_scratch

    async def slow() -> None:
        async with sessions.raw() as tx:
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 1)
            await asyncio.sleep(0.01)
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 2)
        assert _stored(path) >= {1, 2}

    await asyncio.gather(slow(), _insert(sessions, 3))
    assert _stored(path) == {1, 2, 3}


async def test_a_transaction_that_carries_on_after_sqlite_ended_it_fails(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """A transaction that goes on after SQLite ended the group's transaction under it (as
    if it caught the error) is not reported done, nor is the write before it in its group.
    The write after it starts a group of its own, and is told the truth about it."""
    sessions, path = sqlite_scratch

    async def carries_on() -> None:
        async with sessions.raw() as tx:
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 2)
            await tx.execute("ROLLBACK")  # as SQLite does itself on a full disk

    outcomes = await asyncio.gather(
        _insert(sessions, 1), carries_on(), _insert(sessions, 3), return_exceptions=True
    )
    assert [type(o) for o in outcomes[:2]] == [sqlite3.OperationalError] * 2, outcomes
    assert outcomes[2] is None
    assert _stored(path) == {3}


async def test_two_session_factories_on_one_database_take_turns(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """Writers take turns per database, not per Sessions: a second factory on the same
    engine waits for the first's transaction instead of nesting inside it."""
    sessions, path = sqlite_scratch
    other = create_sessions(sessions._engine)

    async def slow() -> None:
        async with sessions.raw() as tx:
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 1)
            await asyncio.sleep(0.01)

    await asyncio.gather(slow(), _insert(other, 2))
    assert _stored(path) == {1, 2}


async def test_closing_mid_group_leaves_no_writer_waiting(
    sqlite_scratch: tuple[Sessions, Path],
) -> None:
    """The engine is disposed while a transaction is under way (it awaited something
    mid-way) and another waits for the same commit: both hear an error instead of
    waiting for ever, and nothing half done is stored."""
    sessions, path = sqlite_scratch
    go_on = asyncio.Event()

    async def halfway() -> None:
        async with sessions.raw() as tx:
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 2)
            await go_on.wait()
            await tx.execute("INSERT INTO scratch (n) VALUES ($1)", 3)

    waiting = asyncio.create_task(_insert(sessions, 1))
    under_way = asyncio.create_task(halfway())
    await asyncio.sleep(0.01)
    await sessions._engine.dispose()
    go_on.set()
    outcomes = await asyncio.wait_for(asyncio.gather(waiting, under_way, return_exceptions=True), 5)
    assert [type(o) for o in outcomes] == [sqlite3.ProgrammingError] * 2, outcomes
    assert _stored(path) == set()
