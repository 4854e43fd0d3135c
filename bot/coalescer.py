"""Coalesced updates: at most one run per key per interval, and the last request wins.

Used for shared messages whose content follows member activity (RSVP counts, poll
tallies): a burst of 100 clicks becomes a handful of edits, and the final edit always
reads the state after the last click.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]
FLUSH_WAIT = 5.0


class Coalescer:
    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self._latest: dict[Hashable, Action] = {}
        self._last_run: dict[Hashable, float] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}
        self._editing: set[Hashable] = set()

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
                self._editing.add(key)
                try:
                    await _run(key, action)
                finally:
                    self._editing.discard(key)
                    # Counted from when the edit is done: a slow request must not bring
                    # the next one closer to it at Discord's end.
                    self._last_run[key] = time.monotonic()
        finally:
            self._tasks.pop(key, None)

    async def flush(self, timeout: float = FLUSH_WAIT) -> None:  # noqa: ASYNC109
        """At shutdown: an edit in progress finishes, waiting ones run now."""
        pending, self._latest = self._latest, {}
        for key, task in list(self._tasks.items()):
            if key not in self._editing:
                task.cancel()  # asleep between edits: its next edit runs below, now
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
        for key, action in pending.items():
            await _run(key, action)


async def _run(key: Hashable, action: Action) -> None:
    try:
        await action()
    except Exception:
        # The next request for this key tries again with fresh state.
        log.exception("coalesced update for %r failed", key)
