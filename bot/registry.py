"""Which bot processes are running, and which gateway shards each holds.

Two processes on one token and one shard would both receive, and answer, every
interaction; SQLite serves one process only. So each process registers itself in the
database at start-up (refused when that would clash with a live process), sends a
heartbeat every few seconds, and removes itself when it stops. A process that died
without removing itself stops counting once its heartbeats stop (or at once, when it was
on this host and its process id is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update

from bot.clock import Clock, utcnow
from bot.errors import AlreadyRunning
from db.engine import Sessions
from db.models import BotProcess

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
# Three missed heartbeats: the process is gone (or stalled, and will notice).
DEAD_AFTER = timedelta(seconds=30)
# Any fixed number: serialises registrations on PostgreSQL (SQLite's BEGIN IMMEDIATE does).
REGISTRY_LOCK = 0x7EC4_0001


@dataclass(frozen=True)
class Shards:
    count: int  # 1 when not sharded
    ids: tuple[int, ...]

    @classmethod
    def of(cls, count: int | None, ids: Sequence[int] | None) -> Shards:
        total = count or 1
        return cls(total, tuple(ids) if ids is not None else tuple(range(total)))

    def describe(self) -> str:
        if self.count == 1:
            return "the whole bot (no sharding)"
        numbers = ", ".join(map(str, self.ids))
        return f"shard{'s' if len(self.ids) != 1 else ''} {numbers} of {self.count}"


@dataclass(frozen=True)
class LiveProcess:
    owner: str
    host: str
    pid: int
    shards: Shards
    heartbeat_at: datetime


def clash(mine: Shards, live: Sequence[LiveProcess], *, sqlite: bool) -> str | None:
    """Why this process must not start next to the live ones, or None."""
    for other in live:
        who = f"process {other.pid} on {other.host}"
        if sqlite:
            return (
                f"another TechMeet process ({who}) is using this SQLite database, which serves "
                "one process only. Stop it, or use PostgreSQL to run several processes."
            )
        if other.shards.count != mine.count:
            return (
                f"{who} runs with SHARD_COUNT={other.shards.count}; every process of the bot "
                f"must use the same SHARD_COUNT (this one has {mine.count})."
            )
        shared = sorted(set(mine.ids) & set(other.shards.ids))
        if shared:
            if mine.count == 1:
                return (
                    f"the bot is already running ({who}). Two processes on one token would "
                    "both answer every command: stop the other first."
                )
            return (
                f"{who} already holds shard{'s' if len(shared) != 1 else ''} "
                f"{', '.join(map(str, shared))}. Two processes on one shard would both answer "
                "every command: give this one other SHARD_IDS, or stop the other first."
            )
    return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


class ProcessRegistry:
    def __init__(
        self,
        sessions: Sessions,
        owner: str,
        shards: Shards,
        *,
        clock: Clock = utcnow,
        host: str | None = None,
        pid: int | None = None,
        alive: Callable[[int], bool] = pid_alive,
        on_lost: Callable[[str], Awaitable[None]] | None = None,
        on_count: Callable[[int], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self.owner = owner
        self.shards = shards
        self._clock = clock
        self._host = (host or socket.gethostname())[:64]
        self._pid = pid if pid is not None else os.getpid()
        self._alive = alive
        self._on_lost = on_lost
        self._on_count = on_count
        self._beating: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Register (AlreadyRunning if that would clash), then keep the heartbeat going."""
        await self.register()
        self._beating = asyncio.create_task(self._beat(), name="techmeet-heartbeat")

    async def stop(self) -> None:
        if self._beating is not None:
            # Not cancelled: a heartbeat cut off half-way would leave its connection unusable.
            self._stopping.set()
            await self._beating
            self._beating = None
        try:
            async with self._sessions.begin() as session:
                await session.execute(delete(BotProcess).where(BotProcess.owner == self.owner))
        except Exception as error:  # the database may be gone already; the row then expires
            log.warning("could not deregister %s: %s", self.owner, error)

    async def register(self) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            if postgres:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTRY_LOCK}
                )
            rows = list(await session.scalars(select(BotProcess)))
            dead = [row.owner for row in rows if not self._counts(row, now)]
            if dead:
                await session.execute(delete(BotProcess).where(BotProcess.owner.in_(dead)))
            live = [
                LiveProcess(
                    row.owner,
                    row.host,
                    row.pid,
                    Shards(row.shard_count, tuple(row.shard_ids)),
                    row.heartbeat_at,
                )
                for row in rows
                if row.owner not in dead and row.owner != self.owner
            ]
            why = clash(self.shards, live, sqlite=not postgres)
            if why is not None:
                raise AlreadyRunning(why)
            self._counted(len(live) + 1)
            await session.merge(
                BotProcess(
                    owner=self.owner,
                    host=self._host,
                    pid=self._pid,
                    shard_count=self.shards.count,
                    shard_ids=list(self.shards.ids),
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        log.info("registered as %s, running %s", self.owner, self.shards.describe())

    def _counts(self, row: BotProcess, now: datetime) -> bool:
        """Whether a registered process still counts as running."""
        if row.heartbeat_at < now - DEAD_AFTER:
            return False
        return not (row.host == self._host and row.owner != self.owner and not self._alive(row.pid))

    async def heartbeat(self) -> None:
        """Say this process is alive; if others took it for dead meanwhile (a long stall),
        register again, which fails if another process has taken its shards since."""
        async with self._sessions.begin() as session:
            beat = await session.execute(
                update(BotProcess)
                .where(BotProcess.owner == self.owner)
                .values(heartbeat_at=self._clock())
            )
        if not beat.rowcount:  # type: ignore[attr-defined]
            log.warning("this process was taken for dead; registering again")
            await self.register()
            return
        async with self._sessions() as session:
            running = await session.scalar(
                select(func.count())
                .select_from(BotProcess)
                .where(BotProcess.heartbeat_at >= self._clock() - DEAD_AFTER)
            )
        self._counted(int(running or 1))

    def _counted(self, processes: int) -> None:
        """Tell whoever shares a budget across processes (the pacer) how many there are."""
        if self._on_count is not None:
            self._on_count(processes)

    async def _beat(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), HEARTBEAT_EVERY.total_seconds())
                return
            try:
                await self.heartbeat()
            except AlreadyRunning as error:
                log.critical("stopping: %s", error)
                if self._on_lost is not None:
                    await self._on_lost(str(error))
                return
            except Exception:  # the database may be down for a moment: try again next beat
                log.exception("heartbeat failed")
