"""The process registry on SQLite and PostgreSQL: one process per shard, one process on
SQLite, dead processes (no heartbeat, or gone from this host) not counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.errors import AlreadyRunning
from bot.registry import DEAD_AFTER, ProcessRegistry, Shards, clash
from db.engine import Sessions
from db.models import BotProcess
from tests.clock import FakeClock

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WHOLE = Shards.of(None, None)


def registry(
    sessions: Sessions,
    name: str,
    shards: Shards = WHOLE,
    *,
    clock: FakeClock | None = None,
    host: str = "host-a",
    pid: int = 100,
    alive: bool = True,
) -> ProcessRegistry:
    return ProcessRegistry(
        sessions,
        f"{host}:{pid}:{name}",
        shards,
        clock=clock or FakeClock(NOW),
        host=host,
        pid=pid,
        alive=lambda _pid: alive,
    )


async def rows(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BotProcess)) or 0)


def postgres(sessions: Sessions) -> bool:
    return sessions.postgres


async def test_a_second_process_on_the_same_shards_is_refused(sessions: Sessions) -> None:
    first = registry(sessions, "one")
    await first.register()
    with pytest.raises(AlreadyRunning, match=r"already running \(process 100 on host-a\)|SQLite"):
        await registry(sessions, "two", host="host-b", pid=200).register()
    assert await rows(sessions) == 1
    await first.stop()
    await registry(sessions, "two", host="host-b", pid=200).register()
    assert await rows(sessions) == 1


async def test_shards_split_across_processes_on_postgresql_only(sessions: Sessions) -> None:
    await registry(sessions, "one", Shards.of(4, [0, 1])).register()
    other = registry(sessions, "two", Shards.of(4, [2, 3]), host="host-b")
    if not postgres(sessions):
        with pytest.raises(AlreadyRunning, match="serves one process only"):
            await other.register()
        return
    await other.register()
    with pytest.raises(AlreadyRunning, match=r"already holds shard 1\."):
        await registry(sessions, "three", Shards.of(4, [1]), host="host-c").register()
    with pytest.raises(AlreadyRunning, match="SHARD_COUNT=4"):
        await registry(sessions, "four", Shards.of(8, [7]), host="host-c").register()
    assert await rows(sessions) == 2


async def test_processes_without_a_heartbeat_or_gone_do_not_count(sessions: Sessions) -> None:
    """Silent for DEAD_AFTER, or dead on this very host: the next process may start (and the
    stale row goes)."""
    await registry(sessions, "old", host="host-b", pid=300).register()
    later = FakeClock(NOW + DEAD_AFTER + timedelta(seconds=1))
    await registry(sessions, "new", clock=later, host="host-c").register()
    assert await rows(sessions) == 1

    killed = registry(sessions, "killed", host="host-c", pid=400, clock=later, alive=False)
    # Same host as "new" (host-c), whose pid the check reports gone: not counted.
    await killed.register()
    assert await rows(sessions) == 1


async def test_heartbeat_keeps_alive_and_recovers_from_being_taken_for_dead(
    sessions: Sessions,
) -> None:
    clock = FakeClock(NOW)
    mine = registry(sessions, "mine", clock=clock)
    await mine.register()
    clock.advance(seconds=25)
    await mine.heartbeat()
    taker = registry(
        sessions, "taker", host="host-b", clock=FakeClock(clock() + timedelta(seconds=20))
    )
    with pytest.raises(AlreadyRunning):
        await taker.register()  # 20 s after a heartbeat: still alive
    async with sessions.begin() as session:
        await session.execute(delete(BotProcess))
    await mine.heartbeat()  # taken for dead and removed: registers again
    assert await rows(sessions) == 1
    async with sessions.begin() as session:
        await session.execute(delete(BotProcess))
    await registry(sessions, "taker", host="host-b", clock=clock).register()
    with pytest.raises(AlreadyRunning):
        await mine.heartbeat()  # someone else holds the shards now


async def test_simultaneous_starts_let_exactly_one_in(sessions: Sessions) -> None:
    contenders = [registry(sessions, f"p{n}", host=f"host-{n}", pid=n) for n in range(5)]
    results = await asyncio.gather(*(c.register() for c in contenders), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, AlreadyRunning) for r in results if r is not None)
    assert await rows(sessions) == 1


def test_clash_messages_say_what_to_do() -> None:
    """Pure rule: what clashes, in the words the person deploying the bot needs."""
    from bot.registry import LiveProcess

    other = LiveProcess("h:1:x", "h", 1, Shards.of(2, [0]), NOW)
    assert clash(Shards.of(2, [1]), [other], sqlite=False) is None
    message = clash(Shards.of(2, [0, 1]), [other], sqlite=False)
    assert message is not None
    assert "process 1 on h already holds shard 0" in message
    assert "other SHARD_IDS" in message
    assert "one process only" in (clash(Shards.of(2, [1]), [other], sqlite=True) or "")
