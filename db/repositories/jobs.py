"""The scheduled_jobs queue: schedule, re-arm, cancel, claim due jobs and record results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ScheduledJob
from db.repositories._dialect import is_postgres

PENDING, CLAIMED, DONE, SKIPPED, FAILED, CANCELLED = (
    "pending",
    "claimed",
    "done",
    "skipped",
    "failed",
    "cancelled",
)
OPEN_STATES = (PENDING, CLAIMED)
TURN_WINDOW = timedelta(hours=1)


async def schedule(
    session: AsyncSession,
    *,
    guild_id: int,
    kind: str,
    subject_id: int,
    due_at: datetime,
    detail: int | None = None,
) -> ScheduledJob:
    job = ScheduledJob(
        guild_id=guild_id,
        kind=kind,
        subject_id=subject_id,
        detail=detail,
        due_at=due_at,
        state=PENDING,
        revision=0,
        attempts=0,
    )
    session.add(job)
    await session.flush()
    return job


async def for_subject(
    session: AsyncSession, kinds: Iterable[str], subject_id: int
) -> Sequence[ScheduledJob]:
    result = await session.scalars(
        select(ScheduledJob)
        .where(ScheduledJob.kind.in_(list(kinds)), ScheduledJob.subject_id == subject_id)
        .order_by(ScheduledJob.due_at)
    )
    return result.all()


async def rearm(session: AsyncSession, job: ScheduledJob, due_at: datetime) -> None:
    """Make a job pending again for a new time, whatever happened to it before.

    The revision changes the message nonce: Discord must not take the new post for a
    repeat of the old one.
    """
    job.due_at = due_at
    job.state = PENDING
    job.revision += 1
    job.attempts = 0
    job.result = None
    job.lease_owner = None
    job.lease_until = None
    job.finished_at = None


async def cancel_open(
    session: AsyncSession, kinds: Iterable[str], subject_id: int, *, now: datetime, why: str
) -> int:
    result = await session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.kind.in_(list(kinds)),
            ScheduledJob.subject_id == subject_id,
            ScheduledJob.state.in_(OPEN_STATES),
        )
        .values(state=CANCELLED, result=why, finished_at=now, lease_owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def cancel_pending(
    session: AsyncSession, kinds: Iterable[str], subject_id: int, *, now: datetime, why: str
) -> int:
    """Like cancel_open, but a job already running (claimed) is left to finish."""
    result = await session.execute(
        update(ScheduledJob)
        .where(
            ScheduledJob.kind.in_(list(kinds)),
            ScheduledJob.subject_id == subject_id,
            ScheduledJob.state == PENDING,
        )
        .values(state=CANCELLED, result=why, finished_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def pending_until(session: AsyncSession, until: datetime) -> Sequence[tuple[int, datetime]]:
    """Open jobs due before `until` (claimed ones by their lease end), soonest first."""
    result = await session.execute(
        select(ScheduledJob.id, ScheduledJob.due_at)
        .where(ScheduledJob.state == PENDING, ScheduledJob.due_at <= until)
        .order_by(ScheduledJob.due_at)
    )
    return [(row.id, row.due_at) for row in result]


def _claimable(now: datetime) -> object:
    return or_(
        and_(ScheduledJob.state == PENDING, ScheduledJob.due_at <= now),
        # A claim whose lease ran out belongs to a process that died or stalled.
        and_(ScheduledJob.state == CLAIMED, ScheduledJob.lease_until < now),
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> Sequence[ScheduledJob]:
    """Claim up to `limit` due jobs for `owner`, atomically.

    PostgreSQL: the due rows are locked with SKIP LOCKED, so several processes claim
    disjoint sets without waiting on each other. SQLite: the transaction already holds the
    database's write lock (BEGIN IMMEDIATE), so the conditional UPDATE cannot race.
    """
    # Jobs due at the same moment (many meetups starting at 18:00) go round robin between
    # servers: every server's first before anyone's second, so the burst spreads over the
    # servers' channels instead of queueing on one channel's rate limit (5 messages per
    # 5 s). The turn counts finished jobs too, so it stays put as the burst is worked off;
    # looking back an hour is enough for that.
    turn = (
        func.row_number()
        .over(
            partition_by=(ScheduledJob.guild_id, ScheduledJob.due_at),
            order_by=ScheduledJob.id,
        )
        .label("turn")
    )
    ranked = (
        select(ScheduledJob.id.label("id"), turn)
        .where(ScheduledJob.due_at <= now, ScheduledJob.due_at > now - TURN_WINDOW)
        .cte("ranked")
    )
    due = (
        select(ScheduledJob.id)
        .outerjoin(ranked, ranked.c.id == ScheduledJob.id)
        .where(_claimable(now))  # type: ignore[arg-type]
        .order_by(ScheduledJob.due_at, func.coalesce(ranked.c.turn, 0), ScheduledJob.id)
        .limit(limit)
    )
    if is_postgres(session):
        due = due.with_for_update(of=ScheduledJob, skip_locked=True)
    result = await session.scalars(
        update(ScheduledJob)
        .where(ScheduledJob.id.in_(due.scalar_subquery()), _claimable(now))  # type: ignore[arg-type]
        .values(
            state=CLAIMED,
            lease_owner=owner,
            lease_until=now + lease,
            attempts=ScheduledJob.attempts + 1,
        )
        .returning(ScheduledJob)
        .execution_options(populate_existing=True)
    )
    return sorted(result.all(), key=lambda job: job.due_at)


def _still_held(job_id: int, revision: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    """The claim is still this owner's, for this revision (not re-armed, not taken over)."""
    return (
        ScheduledJob.id == job_id,
        ScheduledJob.revision == revision,
        ScheduledJob.lease_owner == owner,
        ScheduledJob.state == CLAIMED,
    )


async def finish(
    session: AsyncSession,
    *,
    job_id: int,
    revision: int,
    owner: str,
    state: str,
    result: str | None,
    now: datetime,
) -> bool:
    """Record a claimed job's outcome; False if it was re-armed or re-claimed meanwhile."""
    outcome = await session.execute(
        update(ScheduledJob)
        .where(*_still_held(job_id, revision, owner))
        .values(
            state=state,
            result=(result or "")[:300] or None,
            finished_at=now,
            lease_owner=None,
            lease_until=None,
        )
    )
    return bool(outcome.rowcount)  # type: ignore[attr-defined]


async def retry_later(
    session: AsyncSession,
    *,
    job_id: int,
    revision: int,
    owner: str,
    due_at: datetime,
    result: str,
) -> bool:
    """Hand a claimed job back for another attempt at `due_at` (same revision: same nonce)."""
    outcome = await session.execute(
        update(ScheduledJob)
        .where(*_still_held(job_id, revision, owner))
        .values(
            state=PENDING, due_at=due_at, result=result[:300], lease_owner=None, lease_until=None
        )
    )
    return bool(outcome.rowcount)  # type: ignore[attr-defined]
