"""Group commit: what arrives while a batch is in flight goes together in the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.batches import Batches


class Recorder:
    """A batch runner that records each batch and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.failing: set[int] = set()  # a batch holding any of these fails

    async def run(self, key: str, items: Sequence[int]) -> list[int]:
        self.batches.append((key, list(items)))
        await asyncio.sleep(0)  # a round trip to the database
        await self.release.wait()
        if self.failing & set(items):
            raise RuntimeError("the database went away")
        return [item * 10 for item in items]


Task = asyncio.Task[int]


async def held_open(*waiting: int) -> tuple[Recorder, Batches[str, int, int], Task, list[Task]]:
    """A batch of one (item 1) held in flight on key "m", and `waiting` queued behind it."""
    recorder = Recorder()
    recorder.release.clear()
    batches = Batches(recorder.run)
    alone = asyncio.create_task(batches.submit("m", 1))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(batches.submit("m", i)) for i in waiting]
    await asyncio.sleep(0)
    return recorder, batches, alone, queued


async def test_the_first_runs_alone_and_the_rest_together_in_order() -> None:
    """One request alone runs at once; those that arrive meanwhile share the next batch,
    and each gets its own result."""
    recorder = Recorder()
    batches = Batches(recorder.run)
    results = await asyncio.gather(*(batches.submit("meetup 1", i) for i in range(1, 8)))
    assert results == [10, 20, 30, 40, 50, 60, 70]
    assert recorder.batches == [("meetup 1", [1]), ("meetup 1", [2, 3, 4, 5, 6, 7])]


async def test_keys_do_not_wait_for_each_other() -> None:
    """A batch in flight for one key does not hold up another key."""
    recorder = Recorder()
    recorder.release.clear()
    batches = Batches(recorder.run)
    first = asyncio.create_task(batches.submit("meetup 1", 1))
    await asyncio.sleep(0)
    other = asyncio.create_task(batches.submit("meetup 2", 2))
    await asyncio.sleep(0)
    assert recorder.batches == [("meetup 1", [1]), ("meetup 2", [2])]
    recorder.release.set()
    assert [await first, await other] == [10, 20]


async def test_clicks_during_a_batch_go_in_the_following_one() -> None:
    """While each batch is in flight the next fills up; nothing runs twice or is lost."""
    recorder = Recorder()
    recorder.release.clear()
    batches = Batches(recorder.run)
    first = [asyncio.create_task(batches.submit("m", i)) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    recorder.release.set()
    await asyncio.sleep(0)  # the first batch returns; the second (2, 3) starts
    recorder.release.clear()
    await asyncio.sleep(0)
    later = [asyncio.create_task(batches.submit("m", i)) for i in (4, 5)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(*first, *later) == [10, 20, 30, 40, 50]
    assert [items for _, items in recorder.batches] == [[1], [2, 3], [4, 5]]


async def test_a_failed_batch_fails_its_own_requests_only() -> None:
    """Every request in a failed batch hears the error; the next batch runs normally."""
    recorder, batches, alone, doomed = await held_open(2, 3)
    recorder.failing = {3}
    recorder.release.set()
    assert await alone == 10
    for task in doomed:
        with pytest.raises(RuntimeError, match="database went away"):
            await task
    assert await batches.submit("m", 4) == 40


async def test_a_cancelled_request_leaves_the_rest_of_its_batch_alone() -> None:
    """A member's click that is cancelled while waiting does not spoil the others'."""
    recorder, _, alone, waiting = await held_open(2, 3, 4)
    waiting[1].cancel()
    recorder.release.set()
    assert await alone == 10
    assert await waiting[0] == 20
    assert await waiting[2] == 40
    assert waiting[1].cancelled()


async def test_shutting_down_mid_batch_leaves_nothing_waiting_or_stuck() -> None:
    """The batch in flight is cancelled (the bot is stopping): the requests waiting for it
    are cancelled too, rather than left waiting or started anew; the key is free again."""
    recorder, batches, alone, waiting = await held_open(2, 3)
    alone.cancel()
    await asyncio.gather(alone, *waiting, return_exceptions=True)
    assert alone.cancelled()
    assert all(task.cancelled() for task in waiting)
    assert [items for _, items in recorder.batches] == [[1]]
    recorder.release.set()
    assert await batches.submit("m", 4) == 40


async def test_a_run_with_too_few_results_fails_its_batch() -> None:
    """A batch whose run answers fewer items than it was given fails every item in it
    (instead of leaving some waiting for ever)."""
    calls: list[list[int]] = []

    async def short(key: str, items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        await asyncio.sleep(0)
        return [0] * (len(items) - 1)

    batches = Batches(short)
    results = await asyncio.gather(
        *(batches.submit("m", i) for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results), results
    assert calls == [[0], [1, 2, 3]]


async def test_a_long_queue_goes_in_batches_of_at_most_ten_in_order() -> None:
    recorder, _, alone, queued = await held_open(*range(2, 27))
    recorder.release.set()
    assert [await alone, *[await task for task in queued]] == [i * 10 for i in range(1, 27)]
    assert [items for _, items in recorder.batches] == [
        [1],
        list(range(2, 12)),
        list(range(12, 22)),
        list(range(22, 27)),
    ]


async def test_the_next_batch_is_sent_before_the_last_ones_members_hear_back() -> None:
    """While the bot answers one batch's members, the database already has the next."""
    recorder = Recorder()
    recorder.release.clear()
    batches = Batches(recorder.run)
    alone = asyncio.create_task(batches.submit("m", 1))
    await asyncio.sleep(0)

    async def batches_sent_when_answered(item: int) -> int:
        await batches.submit("m", item)
        return len(recorder.batches)

    queued = [asyncio.create_task(batches_sent_when_answered(i)) for i in range(2, 22)]
    await asyncio.sleep(0)
    recorder.release.set()
    await alone
    # Items 2-11 made the second batch: the third had started when they heard back.
    assert [await task for task in queued[:10]] == [3] * 10
