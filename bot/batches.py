"""Group commit: concurrent requests with the same key share one database statement; and
turns, which keep one member's clicks in the order they were made.

A burst of 100 Going clicks on one announcement used to be 100 statements queueing for
the meetup's row lock, each waiting for the previous one's commit to reach the disk. Here
the first click of a quiet moment runs alone, at once, as before; the clicks that arrive
while it is in flight wait for it, then go together in one statement and one commit; and
so on while clicks keep coming. One click alone pays nothing extra.

A batch holds at most AT_ONCE requests, and the next batch is sent before the members of
the last one hear back. The bot answers a batch's members one after another on its one
event loop; meanwhile the database is already writing the next batch. With batches of any
size, a burst of 100 went as the first click, then the other 99 in one statement, and
only then 99 answers: every click of the burst waited for almost all of that. In batches
of ten, the first members hear back while later clicks are still being written: the
median vote of a burst of 100 on PostgreSQL came back in 51-55 ms instead of 86-94
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

# Runs a batch for one key: one result per item, in the items' order.
Run = Callable[[K, Sequence[T]], Awaitable[Sequence[R]]]

AT_ONCE = 10


class Batches(Generic[K, T, R]):
    def __init__(self, run: Run[K, T, R], *, at_once: int = AT_ONCE) -> None:
        self._run = run
        self._at_once = at_once
        self._waiting: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._in_flight: set[K] = set()
        self._flushes: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def submit(self, key: K, item: T) -> R:
        """`item`'s result, from a batch of one now or, after the batch in flight for
        `key`, from one of those waiting, in the order they came. A failed batch fails
        every item in it alike."""
        if key not in self._in_flight:
            self._in_flight.add(key)
            try:
                (result,) = await self._run(key, [item])
            except asyncio.CancelledError:
                self._abandon(key)
                raise
            except Exception:
                self._next(key)
                raise
            self._next(key)
            return result
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        return await future

    def _next(self, key: K) -> None:
        waiting = self._waiting.pop(key, None)
        if waiting is None:
            self._in_flight.discard(key)
            return
        batch, rest = waiting[: self._at_once], waiting[self._at_once :]
        if rest:
            self._waiting[key] = rest
        # Its own task: the click that ran the last batch answers its member now rather
        # than after this one.
        task = asyncio.get_running_loop().create_task(self._flush(key, batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    def _abandon(self, key: K) -> None:
        """The bot is shutting down (the only time a click's task is cancelled): nothing
        more runs for `key`, and no new task starts that shutdown would not wait for."""
        for _, future in self._waiting.pop(key, []):
            future.cancel()
        self._in_flight.discard(key)

    async def _flush(self, key: K, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run(key, [item for item, _ in batch])
            answered = list(zip(batch, results, strict=True))
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            self._abandon(key)
            raise
        except Exception as error:
            self._next(key)  # the next batch first: see the module's docstring
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            self._next(key)
            for (_, future), result in answered:
                if not future.done():  # its click was cancelled meanwhile
                    future.set_result(result)


class Turns(Generic[K]):
    """One at a time per key, first come first served.

    Keyed by (meetup or poll, member): a member's clicks there take effect in the order
    they were made. Without it a Going click waiting for the batch in flight could be
    overtaken by the same member's Can't go a moment later, which needs no batch.
    """

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, key: K) -> AsyncIterator[None]:
        lock, holders = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[key]
            if holders == 1:
                del self._locks[key]  # nobody else is waiting: forget the key
            else:
                self._locks[key] = (lock, holders - 1)
