"""The one dispatcher for everything that must happen at a time.

The scheduled_jobs table decides what is due. APScheduler is only the in-process alarm
clock: a timer per job due soon (so posts are on time) plus a periodic sweep as a safety
net. When an alarm goes off, due jobs are claimed atomically in the database, performed,
and their outcome recorded. A crash between claim and outcome is recovered when the
claim's short lease runs out; the message nonce stops a repeated post from appearing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.pacing import in_background
from db.engine import Sessions
from db.repositories import jobs

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(seconds=30)
# Timers are set for jobs due within this horizon; later ones by a later sweep.
HORIZON = timedelta(minutes=10)
# Well inside Discord's nonce window (a few minutes): a retry after a crash is deduplicated.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
# Failures within this long of a guild's first one are reported together: a deleted channel
# fails every reminder due at that moment, and organisers should get one message, not 200.
REPORT_GATHER = timedelta(seconds=1)
# Jobs performed at once by one process (each usually one message to Discord). Enough to
# keep the pacer's 45 requests a second busy while each job also reads and writes the
# database; the pacer, not this, sets the rate.
CONCURRENT_JOBS = 24
# At shutdown, work in progress gets this long to record its outcome.
STOP_WAIT = timedelta(seconds=10)


@dataclass(frozen=True)
class Job:
    """A claimed job, handed to its kind's handler."""

    id: int
    guild_id: int
    kind: str
    subject_id: int
    detail: int | None
    due_at: datetime
    revision: int
    attempts: int

    @property
    def nonce(self) -> str:
        """Stable across retries of this revision, different after a re-arm; ≤ 25 chars."""
        return f"{self.kind[:3]}{self.id}r{self.revision}"[:25]


@dataclass(frozen=True)
class Outcome:
    """What a handler did: done (with the message id), or skipped/failed with why."""

    state: str
    result: str | None = None

    @classmethod
    def done(cls, result: str | None = None) -> Outcome:
        return cls(jobs.DONE, result)

    @classmethod
    def skipped(cls, why: str) -> Outcome:
        return cls(jobs.SKIPPED, why)

    @classmethod
    def failed(cls, why: str) -> Outcome:
        return cls(jobs.FAILED, why)


Handler = Callable[[Job, datetime], Awaitable[Outcome]]
# A guild's jobs that failed for good around the same moment, each with why.
FailureReporter = Callable[[int, list[tuple[Job, str]]], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        sessions: Sessions,
        *,
        clock: Clock,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.scheduler = scheduler or AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._handlers: dict[str, Handler] = {}
        self._what: dict[str, str] = {}
        self._report_failure: FailureReporter | None = None
        self._running = asyncio.Lock()
        self._inflight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._rerun = False
        self._rearm = False
        self._arming: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._unreported: dict[int, list[tuple[Job, str]]] = {}
        self._reporting: set[asyncio.Task[None]] = set()
        self._report_now = asyncio.Event()

    def register(self, kind: str, handler: Handler, *, what: str | None = None) -> None:
        """`what` names the job for organisers when it fails, e.g. "A speaker reminder"."""
        self._handlers[kind] = handler
        if what is not None:
            self._what[kind] = what

    def what(self, kind: str) -> str:
        return self._what.get(kind, f"A scheduled {kind}")

    def on_failure(self, reporter: FailureReporter) -> None:
        """Called when jobs fail for good (e.g. a deleted channel), to tell organisers;
        a guild's failures around the same moment come in one call."""
        self._report_failure = reporter

    async def start(self) -> None:
        """Start the timers from the database; call from setup_hook (not on_ready)."""
        self.scheduler.start()
        self.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=SWEEP_EVERY.total_seconds(),
            id="sweep",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )

    async def stop(self) -> None:
        """Stop the timers and let work in progress finish (a claimed job's outcome is
        recorded), cancelling what overruns: its lease makes another run pick it up."""
        self._stopping = True
        if self._inflight:
            # Before shutting APScheduler down: its shutdown cancels running coroutines.
            _, late = await asyncio.wait(set(self._inflight), timeout=STOP_WAIT.total_seconds())
            for task in late:
                task.cancel()
        if self._reporting:
            self._report_now.set()  # what is being gathered is reported at once
            await asyncio.wait(set(self._reporting), timeout=STOP_WAIT.total_seconds())
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    @contextlib.contextmanager
    def _in_flight(self) -> Iterator[None]:
        """Shutdown waits for the calling task while it is inside this block (and only
        then: a caller such as a test goes on living after it)."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def sweep(self) -> None:
        """Run whatever is due, then set timers for what falls due soon."""
        await self.run_due()
        await self.arm()

    async def arm(self) -> None:
        """A timer per moment a job falls due within the horizon. Jobs due at the same
        moment (2,000 reminders for meetups that all start at 18:00) share one timer: one
        pass claims them all. Ids are stable, so re-arming replaces; a timer whose jobs
        moved finds nothing to do."""
        if self._stopping:
            return
        now = self._clock()
        with self._in_flight():
            async with self._sessions() as session:
                upcoming = await jobs.pending_until(session, now + HORIZON)
        for moment in sorted({max(due_at, now) for _, due_at in upcoming}):
            self.scheduler.add_job(
                self.run_due,
                "date",
                run_date=moment,
                id=f"due-{moment.timestamp():.3f}",
                replace_existing=True,
            )

    def jobs_changed(self) -> None:
        """Jobs were added or re-timed: refresh the timers soon (not inside a transaction).

        Many changes at once share one refresh; a change during a refresh gets another
        after it, since that refresh may have read the jobs before this one existed. (Not
        an APScheduler job: it skips a job whose previous run is still going.)
        """
        if not self.scheduler.running:
            return
        self._rearm = True
        if self._arming is None or self._arming.done():
            self._arming = asyncio.create_task(self._arm_while_asked(), name="arm-timers")

    async def _arm_while_asked(self) -> None:
        while self._rearm and not self._stopping:
            self._rearm = False
            try:
                await self.arm()
            except Exception:
                log.exception("could not set timers; the next sweep will try again")

    async def run_due(self) -> None:
        """Claim due jobs and start each in its own task. Never raises.

        Only as many jobs are claimed as can start at once, so no claimed job waits in a
        queue while its lease runs; a slow job never holds up the others.
        """
        if self._stopping:
            return
        if self._running.locked():
            self._rerun = True  # the running pass will look again when done
            return
        with self._in_flight():
            await self._run_due()

    async def _run_due(self) -> None:
        async with self._running:
            self._rerun = True
            while self._rerun and not self._stopping:
                self._rerun = False
                free = CONCURRENT_JOBS - len(self._jobs)
                if free <= 0:
                    return  # each job that finishes looks for more
                try:
                    claimed = await self._claim(limit=free)
                except Exception:
                    log.exception("could not claim due jobs; the next sweep will try again")
                    return
                for job in claimed:
                    task = asyncio.create_task(self._perform(job), name=f"job-{job.id}")
                    self._jobs.add(task)
                    self._inflight.add(task)
                    task.add_done_callback(self._job_done)
                self._rerun = self._rerun or len(claimed) == free

    async def idle(self) -> None:
        """Until every job started so far has finished."""
        while self._jobs:
            await asyncio.wait(set(self._jobs))

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        self._inflight.discard(task)
        if not self._stopping:
            # A slot is free: anything still due can start. A second instance may start
            # beside a running pass (it only asks that pass to look again); with one,
            # APScheduler would skip it and warn each time a job ends mid-pass.
            self.scheduler.add_job(
                self.run_due, id="after-job", replace_existing=True, max_instances=2
            )

    async def _claim(self, *, limit: int) -> list[Job]:
        async with self._sessions.begin() as session:
            rows = await jobs.claim_due(
                session, now=self._clock(), owner=self.owner, lease=LEASE, limit=limit
            )
            return [
                Job(
                    id=row.id,
                    guild_id=row.guild_id,
                    kind=row.kind,
                    subject_id=row.subject_id,
                    detail=row.detail,
                    due_at=row.due_at,
                    revision=row.revision,
                    attempts=row.attempts,
                )
                for row in rows
            ]

    async def _perform(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        outcome: Outcome | None
        if handler is None:
            outcome = Outcome.failed(f"no handler for job kind {job.kind!r}")
        else:
            outcome = await self._run_handler(handler, job)
        if outcome is None:
            return
        async with self._sessions.begin() as session:
            recorded = await jobs.finish(
                session,
                job_id=job.id,
                revision=job.revision,
                owner=self.owner,
                state=outcome.state,
                result=outcome.result,
                now=self._clock(),
            )
        if not recorded:
            log.info("job %s changed while it ran; its new state stands", job.id)
        elif outcome.state == jobs.FAILED and self._report_failure is not None:
            self._gather_failure(job, outcome.result or "unknown reason")

    def _gather_failure(self, job: Job, why: str) -> None:
        waiting = self._unreported.setdefault(job.guild_id, [])
        waiting.append((job, why))
        if len(waiting) == 1:
            task = asyncio.create_task(self._report_soon(job.guild_id))
            self._reporting.add(task)
            task.add_done_callback(self._reporting.discard)

    async def _report_soon(self, guild_id: int) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._report_now.wait(), REPORT_GATHER.total_seconds())
        await self._report(guild_id)

    async def _report(self, guild_id: int) -> None:
        failures = self._unreported.pop(guild_id, [])
        if not failures or self._report_failure is None:
            return
        try:
            await self._report_failure(guild_id, failures)
        except Exception:
            log.exception("could not report %d failed jobs in guild %s", len(failures), guild_id)

    async def _run_handler(self, handler: Handler, job: Job) -> Outcome | None:
        """Run the handler; None when the job was handed back to be retried."""
        # Requests the job makes (and tasks it starts) wait for the pacer's tokens.
        background = in_background.set(True)
        try:
            return await handler(job, self._clock())
        except Exception as error:
            retry, why = classify(error)
            if not retry:
                if not isinstance(error, discord.NotFound | discord.Forbidden):
                    log.exception("job %s (%s) failed", job.id, job.kind)
                return Outcome.failed(why)
            return await self._retry(job, why)
        finally:
            in_background.reset(background)

    async def _retry(self, job: Job, why: str) -> Outcome | None:
        if job.attempts >= MAX_ATTEMPTS:
            return Outcome.failed(f"gave up after {job.attempts} attempts: {why}")
        delay = timedelta(seconds=5 * 2 ** (job.attempts - 1))
        log.warning("job %s (%s) will be retried in %s: %s", job.id, job.kind, delay, why)
        async with self._sessions.begin() as session:
            await jobs.retry_later(
                session,
                job_id=job.id,
                revision=job.revision,
                owner=self.owner,
                due_at=self._clock() + delay,
                result=why,
            )
        self.jobs_changed()
        return None


_CHANNEL_IN_PATH = re.compile(r"/channels/(\d+)")
CANNOT_DM = 50007  # Discord's code for "Cannot send messages to this user"


def _channel_of(error: discord.HTTPException) -> int | None:
    """The channel a refused request was for, so organisers know where to look (a mention
    shows its name); None for a member's DMs, which organisers cannot fix."""
    url = getattr(error.response, "url", None)
    found = _CHANNEL_IN_PATH.search(str(url)) if url is not None else None
    if found is None or error.code == CANNOT_DM:
        return None
    return int(found[1])


def classify(error: BaseException) -> tuple[bool, str]:
    """(retry?, why) for a failed job: Discord's and the network's answers sorted into
    worth retrying (5xx, 429, timeouts) and final (gone, forbidden, refused, bugs)."""
    if isinstance(error, discord.NotFound):
        return False, f"Discord says it no longer exists ({error.text or error.status})"
    if isinstance(error, discord.Forbidden):
        where = _channel_of(error)
        place = f"in <#{where}>" if where else "there"
        return False, f"the bot lacks a permission {place} ({error.text or error.status})"
    if isinstance(error, discord.HTTPException):
        if error.status == 429 or error.status >= 500:
            return True, f"Discord answered {error.status}"
        return False, f"Discord refused it ({error.status}: {error.text})"
    if isinstance(error, aiohttp.ClientError | TimeoutError | discord.RateLimited):
        return True, f"{type(error).__name__}: {error}"
    return False, f"unexpected error: {type(error).__name__}"
