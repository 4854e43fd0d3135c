"""The pacer: background requests keep to the rate; a waiting member never waits."""

from __future__ import annotations

import asyncio

from bot.pacing import GLOBAL_BUDGET, Pacer, in_background


class SimulatedTime:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


async def test_background_requests_keep_to_the_rate() -> None:
    """20 requests at 10/s with a burst of 5: the first 5 at once, the rest 0.1 s apart."""
    time = SimulatedTime()
    pacer = Pacer(rate=10, burst=5, clock=time, sleep=time.sleep)
    for _ in range(20):
        await pacer.take()
    assert abs(time.now - 1.5) < 1e-9


async def test_interactive_requests_never_wait_and_background_makes_up() -> None:
    time = SimulatedTime()
    pacer = Pacer(rate=10, burst=5, clock=time, sleep=time.sleep)
    for _ in range(8):
        await pacer.before_request()  # not in a job: no waiting, tokens borrowed
    assert time.slept == 0
    token = in_background.set(True)
    try:
        await pacer.before_request()  # 3 borrowed + this one: 0.4 s
    finally:
        in_background.reset(token)
    assert abs(time.slept - 0.4) < 1e-9


async def test_budget_is_shared_between_processes() -> None:
    pacer = Pacer()
    pacer.share(3)
    assert pacer.rate == GLOBAL_BUDGET / 3
    pacer.share(0)
    assert pacer.rate == GLOBAL_BUDGET


async def test_waiters_are_served_in_order() -> None:
    time = SimulatedTime()
    pacer = Pacer(rate=10, burst=1, clock=time, sleep=time.sleep)
    served: list[int] = []

    async def one(n: int) -> None:
        await pacer.take()
        served.append(n)

    await asyncio.gather(*(one(n) for n in range(5)))
    assert served == [0, 1, 2, 3, 4]
