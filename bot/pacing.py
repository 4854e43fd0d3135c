"""Pacing the bot's own REST requests under Discord's global rate limit.

Discord allows a bot about 50 requests a second across all its processes and answers a
flood with 429s (and, past 10,000 invalid requests in 10 minutes, a temporary ban). Work
the bot does on its own, above all reminder fan-out, waits for a token here instead of
finding the limit by hitting it. Work done for a member who is waiting (a command, a
click) never waits: it takes its token at once, and background work makes up for it.
Interaction responses go through Discord's webhook endpoints, which the global limit does
not cover, so they never pass through here at all.

Several processes share the budget: each paces at its share, the budget divided by the
number of live processes in the registry.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable

# Requests a second across all processes: Discord's 50, less a margin for requests made
# outside the bot's control (discord.py's own, another tool on the same token). A full
# bucket plus a second's refill must stay under 50 in any one second.
GLOBAL_BUDGET = 45.0
BURST = 3.0

# Set for the duration of a scheduled job (the dispatcher's tasks): its requests wait.
in_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "techmeet_background", default=False
)


class Pacer:
    """A token bucket: `rate` tokens a second, holding at most `burst`."""

    def __init__(
        self,
        rate: float = GLOBAL_BUDGET,
        burst: float = BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._queue = asyncio.Lock()  # waiters are served in arrival order

    def share(self, processes: int) -> None:
        """This process's part of the budget when `processes` are running."""
        self.rate = GLOBAL_BUDGET / max(1, processes)
        self.burst = max(1.0, BURST / max(1, processes))

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def spend(self) -> None:
        """Take a token without waiting (a member is waiting); it may be borrowed."""
        self._refill()
        self._tokens -= 1

    async def take(self) -> None:
        """Wait for a token (background work)."""
        async with self._queue:
            self._refill()
            # The tolerance keeps float rounding (0.1 * 10 < 1) from spinning on tiny sleeps.
            while self._tokens < 1 - 1e-9:
                await self._sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1

    async def before_request(self) -> None:
        if in_background.get():
            await self.take()
        else:
            self.spend()
