"""Coalesced updates: at most one run per key per interval, and the last request wins.

Used for shared messages whose content follows member activity (RSVP counts, poll
tallies): a burst of 100 clicks becomes a handful of edits, and the final edit always
reads the state after the last click.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]


class Coalescer:
    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self._latest: dict[Hashable, Action] = {}
        self._last_run: dict[Hashable, float] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    def request(self, key: Hashable, action: Action) -> None:
        """Run `action` for `key` soon; a newer request replaces one still waiting."""
        self._latest[key] = action
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._drain(key))

    async def _drain(self, key: Hashable) -> None:
        try:
            while key in self._latest:
                wait = self._last_run.get(key, float("-inf")) + self.interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                action = self._latest.pop(key)
                self._last_run[key] = time.monotonic()
                await _run(key, action)
        finally:
            self._tasks.pop(key, None)

    async def flush(self) -> None:
        """Run every waiting action now (at shutdown), without waiting out the interval."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pending, self._latest = self._latest, {}
        for key, action in pending.items():
            await _run(key, action)


async def _run(key: Hashable, action: Action) -> None:
    try:
        await action()
    except Exception:
        # The next request for this key tries again with fresh state.
        log.exception("coalesced update for %r failed", key)
