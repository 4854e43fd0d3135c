"""Coalesced edits: a burst becomes a few runs, and the last one sees the final state."""

from __future__ import annotations

import asyncio
import itertools

from bot.coalescer import Coalescer


async def test_a_burst_becomes_two_runs_ending_on_the_last_state() -> None:
    """The first request runs at once; the rest of the burst collapses into one more."""
    edits: list[int] = []
    state = {"count": 0}
    coalescer = Coalescer(interval=0.2)

    async def edit() -> None:
        edits.append(state["count"])

    for _ in range(50):
        state["count"] += 1
        coalescer.request("message", edit)
        await asyncio.sleep(0)
    await asyncio.sleep(0.5)
    assert edits == [1, 50]


async def test_runs_are_spaced_by_the_interval() -> None:
    """Never two runs for one key within the interval."""
    times: list[float] = []
    loop = asyncio.get_running_loop()
    coalescer = Coalescer(interval=0.1)

    async def edit() -> None:
        times.append(loop.time())

    for _ in range(5):
        coalescer.request("message", edit)
        await asyncio.sleep(0.06)
    await asyncio.sleep(0.3)
    assert len(times) >= 2
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))


async def test_flush_runs_what_is_waiting_now() -> None:
    """At shutdown the waiting update is not lost."""
    edits: list[str] = []
    coalescer = Coalescer(interval=10)

    async def first() -> None:
        edits.append("first")

    async def last() -> None:
        edits.append("last")

    coalescer.request("message", first)
    await asyncio.sleep(0.01)
    coalescer.request("message", last)
    await coalescer.flush()
    assert edits == ["first", "last"]


async def test_a_failing_run_does_not_stop_later_ones() -> None:
    """An edit that fails is logged; the next request still runs."""
    calls: list[str] = []
    coalescer = Coalescer(interval=0.01)

    async def broken() -> None:
        calls.append("broken")
        raise RuntimeError("Discord said no")

    async def fine() -> None:
        calls.append("fine")

    coalescer.request("m", broken)
    await asyncio.sleep(0.05)
    coalescer.request("m", fine)
    await asyncio.sleep(0.05)
    assert calls == ["broken", "fine"]
