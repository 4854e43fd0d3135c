"""The one dispatcher: atomic claims, leases, outcomes and retries, on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import discord
import pytest
from sqlalchemy import select

from bot.clock import utcnow
from bot.scheduler import LEASE, MAX_ATTEMPTS, REPORT_GATHER, Dispatcher, Job, Outcome, classify
from db.engine import Sessions
from db.models import ScheduledJob
from db.repositories import jobs
from tests.clock import FakeClock

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def http_error(kind: type[discord.HTTPException], status: int, text: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason=text)
    return kind(response, {"code": 0, "message": text})


async def add_jobs(sessions: Sessions, count: int, *, due: datetime) -> list[int]:
    async with sessions.begin() as session:
        rows = [
            await jobs.schedule(session, guild_id=1, kind="test", subject_id=i, due_at=due)
            for i in range(count)
        ]
        return [row.id for row in rows]


async def states(sessions: Sessions) -> dict[int, ScheduledJob]:
    async with sessions() as session:
        return {row.id: row for row in await session.scalars(select(ScheduledJob))}


async def test_concurrent_claims_never_overlap(sessions: Sessions) -> None:
    """Three dispatchers claiming at once share the due jobs: each claimed exactly once."""
    ids = await add_jobs(sessions, 120, due=NOW - timedelta(seconds=1))
    clock = FakeClock(NOW)
    dispatchers = [Dispatcher(sessions, clock=clock) for _ in range(3)]
    rounds = await asyncio.gather(*(d._claim(limit=50) for d in dispatchers for _ in range(3)))
    claimed = [job.id for batch in rounds for job in batch]
    assert sorted(claimed) == sorted(ids)
    owners = {row.lease_owner for row in (await states(sessions)).values()}
    assert owners <= {d.owner for d in dispatchers}


async def test_future_jobs_are_not_claimed(sessions: Sessions) -> None:
    """Only jobs whose time has come are claimed."""
    await add_jobs(sessions, 2, due=NOW + timedelta(seconds=1))
    assert await Dispatcher(sessions, clock=FakeClock(NOW))._claim(limit=50) == []


async def test_outcomes_are_recorded(sessions: Sessions) -> None:
    """A handler's outcome (done with a message id, skipped with why) lands on the row."""
    [done_id, skipped_id] = await add_jobs(sessions, 2, due=NOW)
    dispatcher = Dispatcher(sessions, clock=FakeClock(NOW))

    async def handler(job: Job, now: datetime) -> Outcome:
        return Outcome.done("555") if job.id == done_id else Outcome.skipped("too late")

    dispatcher.register("test", handler)
    await dispatcher.run_due()
    await dispatcher.idle()
    rows = await states(sessions)
    assert (rows[done_id].state, rows[done_id].result) == ("done", "555")
    assert (rows[skipped_id].state, rows[skipped_id].result) == ("skipped", "too late")
    assert rows[done_id].lease_owner is None


async def test_final_failures_are_reported(sessions: Sessions) -> None:
    """A deleted channel fails the job for good and organisers are told why."""
    [job_id] = await add_jobs(sessions, 1, due=NOW)
    dispatcher = Dispatcher(sessions, clock=FakeClock(NOW))
    reported: list[tuple[int, str]] = []

    async def handler(job: Job, now: datetime) -> Outcome:
        raise http_error(discord.NotFound, 404, "Unknown Channel")

    async def report(guild_id: int, failures: list[tuple[Job, str]]) -> None:
        reported.extend((job.id, why) for job, why in failures)

    dispatcher.register("test", handler)
    dispatcher.on_failure(report)
    await dispatcher.run_due()
    await dispatcher.idle()
    await dispatcher.stop()  # reports at once what it was still gathering
    row = (await states(sessions))[job_id]
    assert row.state == "failed"
    assert "Unknown Channel" in (row.result or "")
    assert reported == [(job_id, row.result)]


async def test_failures_together_are_reported_together(sessions: Sessions) -> None:
    """A deleted channel fails every job due at that moment: each server's organisers get
    one report listing theirs, not one report per job."""
    async with sessions.begin() as session:
        for guild_id, subject_id in [(1, 1), (1, 2), (1, 3), (2, 4)]:
            await jobs.schedule(
                session, guild_id=guild_id, kind="test", subject_id=subject_id, due_at=NOW
            )
    dispatcher = Dispatcher(sessions, clock=FakeClock(NOW))
    reported: list[tuple[int, list[int]]] = []

    async def handler(job: Job, now: datetime) -> Outcome:
        raise http_error(discord.NotFound, 404, "Unknown Channel")

    async def report(guild_id: int, failures: list[tuple[Job, str]]) -> None:
        reported.append((guild_id, sorted(job.subject_id for job, _ in failures)))

    dispatcher.register("test", handler)
    dispatcher.on_failure(report)
    await dispatcher.run_due()
    await dispatcher.idle()
    assert reported == []  # still gathering
    await asyncio.sleep(REPORT_GATHER.total_seconds() + 0.2)
    assert sorted(reported) == [(1, [1, 2, 3]), (2, [4])]
    await dispatcher.stop()


async def test_server_errors_are_retried_then_given_up(
    sessions: Sessions,
) -> None:
    """5xx answers are retried later with the same revision (same nonce), a few times."""
    [job_id] = await add_jobs(sessions, 1, due=NOW)
    clock = FakeClock(NOW)
    dispatcher = Dispatcher(sessions, clock=clock)
    nonces: list[str] = []

    async def handler(job: Job, now: datetime) -> Outcome:
        nonces.append(job.nonce)
        raise http_error(discord.DiscordServerError, 503, "Service Unavailable")

    dispatcher.register("test", handler)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await dispatcher.run_due()
        await dispatcher.idle()
        row = (await states(sessions))[job_id]
        if attempt < MAX_ATTEMPTS:
            assert (row.state, row.attempts) == ("pending", attempt)
            assert row.due_at > clock.now
            clock.now = row.due_at
    assert row.state == "failed"
    assert "gave up" in (row.result or "")
    assert len(nonces) == MAX_ATTEMPTS
    assert len(set(nonces)) == 1


async def test_an_expired_lease_is_taken_over(sessions: Sessions) -> None:
    """A process that claimed and died loses the job when its lease runs out."""
    [job_id] = await add_jobs(sessions, 1, due=NOW)
    clock = FakeClock(NOW)
    dead, alive = Dispatcher(sessions, clock=clock), Dispatcher(sessions, clock=clock)
    [first] = await dead._claim(limit=50)
    assert await alive._claim(limit=50) == []  # still leased
    clock.advance(seconds=LEASE.total_seconds() + 1)
    [again] = await alive._claim(limit=50)
    assert (again.id, again.revision, again.attempts) == (first.id, 0, 2)
    async with sessions.begin() as session:
        late = await jobs.finish(
            session,
            job_id=job_id,
            revision=0,
            owner=dead.owner,
            state="done",
            result="x",
            now=clock.now,
        )
    assert late is False  # the dead process's late answer is ignored


async def test_rearming_while_running_wins(sessions: Sessions) -> None:
    """An edit re-arms a job mid-flight: the old run's outcome does not overwrite it."""
    [job_id] = await add_jobs(sessions, 1, due=NOW)
    dispatcher = Dispatcher(sessions, clock=FakeClock(NOW))

    async def handler(job: Job, now: datetime) -> Outcome:
        async with sessions.begin() as session:
            row = await session.get(ScheduledJob, job.id)
            assert row is not None
            await jobs.rearm(session, row, NOW + timedelta(days=1))
        return Outcome.done("old post")

    dispatcher.register("test", handler)
    await dispatcher.run_due()
    await dispatcher.idle()
    row = (await states(sessions))[job_id]
    assert (row.state, row.revision, row.result) == ("pending", 1, None)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (http_error(discord.NotFound, 404, "Unknown Channel"), False),
        (http_error(discord.Forbidden, 403, "Missing Access"), False),
        (http_error(discord.HTTPException, 400, "Invalid Form Body"), False),
        (http_error(discord.HTTPException, 429, "Too Many Requests"), True),
        (http_error(discord.DiscordServerError, 502, "Bad Gateway"), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
    ],
)
def test_classify(error: BaseException, retry: bool) -> None:
    """Discord's answers sort into worth retrying and final."""
    assert classify(error)[0] is retry


def test_a_refusal_names_the_channel_but_not_a_members_dms() -> None:
    """Organisers are told which channel to fix; a member's closed DMs are not theirs to."""
    base = "https://discord.com/api/v10/channels"
    refused = discord.Forbidden(
        SimpleNamespace(status=403, reason="Forbidden", url=f"{base}/42/messages"),
        {"code": 50013, "message": "Missing Permissions"},
    )
    assert classify(refused) == (
        False,
        "the bot lacks a permission in <#42> (Missing Permissions)",
    )
    closed_dms = discord.Forbidden(
        SimpleNamespace(status=403, reason="Forbidden", url=f"{base}/43/messages"),
        {"code": 50007, "message": "Cannot send messages to this user"},
    )
    assert "there (Cannot send messages to this user)" in classify(closed_dms)[1]


def test_nonce_fits_discord() -> None:
    """Nonces are at most 25 characters and change with the revision."""
    job = Job(2**31 - 1, 1, "reminder", 1, 60, NOW, 999, 1)
    assert len(job.nonce) <= 25
    assert job.nonce != Job(2**31 - 1, 1, "reminder", 1, 60, NOW, 1000, 1).nonce


async def test_a_slow_job_does_not_hold_up_others(sessions: Sessions) -> None:
    """While one job waits on Discord, the next due job is performed."""
    [slow_id, quick_id] = await add_jobs(sessions, 2, due=NOW)
    dispatcher = Dispatcher(sessions, clock=FakeClock(NOW))
    release = asyncio.Event()

    async def handler(job: Job, now: datetime) -> Outcome:
        if job.id == slow_id:
            await release.wait()
        return Outcome.done(str(job.id))

    dispatcher.register("test", handler)
    await dispatcher.run_due()
    for _ in range(100):
        if (await states(sessions))[quick_id].state == "done":
            break
        await asyncio.sleep(0.01)
    rows = await states(sessions)
    assert rows[quick_id].state == "done"
    assert rows[slow_id].state == "claimed"
    release.set()
    await dispatcher.idle()
    assert (await states(sessions))[slow_id].state == "done"


async def test_a_job_added_while_timers_are_being_set_gets_its_timer(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timers are being refreshed (slowly: a busy database) when a reminder is added: it
    gets its timer at once, not at the next sweep up to 30 s later."""
    dispatcher = Dispatcher(sessions, clock=utcnow)
    read = jobs.pending_until
    reading, slow = asyncio.Event(), asyncio.Event()

    async def slow_first_read(session: object, until: datetime) -> object:
        found = await read(session, until)  # type: ignore[arg-type]
        if not reading.is_set():
            reading.set()
            await slow.wait()  # this refresh read the jobs before the new one existed
        return found

    def timers() -> list[str]:
        return [job.id for job in dispatcher.scheduler.get_jobs() if job.id.startswith("due-")]

    monkeypatch.setattr(jobs, "pending_until", slow_first_read)
    dispatcher.scheduler.start()
    try:
        dispatcher.jobs_changed()
        await asyncio.wait_for(reading.wait(), 5)
        await add_jobs(sessions, 1, due=datetime.now(UTC) + timedelta(minutes=5))
        dispatcher.jobs_changed()
        await asyncio.sleep(0.05)
        slow.set()
        for _ in range(200):  # up to 2 s; the next sweep would be 30 s away
            if timers():
                break
            await asyncio.sleep(0.01)
        assert len(timers()) == 1, timers()
    finally:
        await dispatcher.stop()
