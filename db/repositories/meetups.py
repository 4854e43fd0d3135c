"""Meetups, RSVPs, member preferences and feedback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Meetup, MeetupFeedback, MeetupSeries, MemberPreference, Rsvp
from db.repositories._dialect import insert, is_postgres


async def by_number(session: AsyncSession, guild_id: int, number: int) -> Meetup | None:
    return await session.scalar(
        select(Meetup).where(Meetup.guild_id == guild_id, Meetup.number == number)
    )


async def lock_with_rsvp(
    session: AsyncSession, meetup_id: int, user_id: int
) -> tuple[Meetup, Rsvp | None] | None:
    """The meetup, locked for this transaction, with the member's RSVP, in one query.

    PostgreSQL locks the meetup row (RSVPs to one meetup queue up behind each other);
    SQLite's BEGIN IMMEDIATE already serialises writers.
    """
    query = (
        select(Meetup, Rsvp)
        .outerjoin(Rsvp, (Rsvp.meetup_id == Meetup.id) & (Rsvp.user_id == user_id))
        .where(Meetup.id == meetup_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update(of=Meetup)
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])


async def rsvp_of(session: AsyncSession, meetup_id: int, user_id: int) -> Rsvp | None:
    return await session.scalar(
        select(Rsvp).where(Rsvp.meetup_id == meetup_id, Rsvp.user_id == user_id)
    )


async def take_seat(session: AsyncSession, meetup_id: int) -> bool:
    """One more Going, if the capacity allows; the database decides, not Python."""
    result = await session.execute(
        update(Meetup)
        .where(
            Meetup.id == meetup_id,
            (Meetup.capacity.is_(None)) | (Meetup.going_count < Meetup.capacity),
        )
        .values(going_count=Meetup.going_count + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def free_seat(session: AsyncSession, meetup_id: int) -> None:
    await session.execute(
        update(Meetup).where(Meetup.id == meetup_id).values(going_count=Meetup.going_count - 1)
    )


async def next_waitlist_position(session: AsyncSession, meetup_id: int) -> int:
    value = await session.scalar(
        update(Meetup)
        .where(Meetup.id == meetup_id)
        .values(waitlist_counter=Meetup.waitlist_counter + 1)
        .returning(Meetup.waitlist_counter)
    )
    return int(value)  # type: ignore[arg-type]


async def upsert_rsvp(
    session: AsyncSession,
    *,
    guild_id: int,
    meetup_id: int,
    user_id: int,
    status: str,
    waitlist_position: int | None,
    now: datetime,
) -> None:
    values = {"status": status, "waitlist_position": waitlist_position, "updated_at": now}
    await session.execute(
        insert(session)(Rsvp)
        .values(guild_id=guild_id, meetup_id=meetup_id, user_id=user_id, **values)
        .on_conflict_do_update(index_elements=["meetup_id", "user_id"], set_=values)
    )


async def first_waitlisted(session: AsyncSession, meetup_id: int) -> Rsvp | None:
    return await session.scalar(
        select(Rsvp)
        .where(Rsvp.meetup_id == meetup_id, Rsvp.status == "waitlisted")
        .order_by(Rsvp.waitlist_position, Rsvp.id)
        .limit(1)
    )


async def waitlist_rank(session: AsyncSession, meetup_id: int, position: int) -> int:
    """1-based place on the waitlist of the entry holding `position`."""
    ahead = await session.scalar(
        select(func.count())
        .select_from(Rsvp)
        .where(
            Rsvp.meetup_id == meetup_id,
            Rsvp.status == "waitlisted",
            Rsvp.waitlist_position < position,
        )
    )
    return int(ahead or 0) + 1


async def counts(session: AsyncSession, meetup_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """RSVP counts per status for each meetup."""
    result: dict[int, dict[str, int]] = {meetup_id: {} for meetup_id in meetup_ids}
    if not meetup_ids:
        return result
    rows = await session.execute(
        select(Rsvp.meetup_id, Rsvp.status, func.count())
        .where(Rsvp.meetup_id.in_(meetup_ids))
        .group_by(Rsvp.meetup_id, Rsvp.status)
    )
    for meetup_id, status, count in rows:
        result[meetup_id][status] = count
    return result


async def rsvps(session: AsyncSession, meetup_id: int) -> Sequence[Rsvp]:
    result = await session.scalars(
        select(Rsvp)
        .where(Rsvp.meetup_id == meetup_id)
        .order_by(Rsvp.status, Rsvp.waitlist_position, Rsvp.updated_at, Rsvp.id)
    )
    return result.all()


async def rsvp_user_ids(
    session: AsyncSession, meetup_id: int, statuses: Sequence[str]
) -> list[int]:
    result = await session.scalars(
        select(Rsvp.user_id).where(Rsvp.meetup_id == meetup_id, Rsvp.status.in_(statuses))
    )
    return list(result)


async def upcoming(
    session: AsyncSession, guild_id: int, *, now: datetime, region: str | None = None
) -> Sequence[Meetup]:
    """Scheduled meetups that have not started yet, soonest first."""
    query = select(Meetup).where(
        Meetup.guild_id == guild_id, Meetup.status == "scheduled", Meetup.starts_at > now
    )
    if region is not None:
        query = query.where(func.lower(Meetup.region) == region.lower())
    result = await session.scalars(query.order_by(Meetup.starts_at))
    return result.all()


async def search(
    session: AsyncSession, guild_id: int, *, now: datetime, past: int, limit: int
) -> Sequence[Meetup]:
    """For autocomplete: upcoming meetups, then the last `past` ones that started."""
    coming = await session.scalars(
        select(Meetup)
        .where(Meetup.guild_id == guild_id, Meetup.starts_at > now)
        .order_by(Meetup.starts_at)
        .limit(limit)
    )
    gone = await session.scalars(
        select(Meetup)
        .where(Meetup.guild_id == guild_id, Meetup.starts_at <= now)
        .order_by(Meetup.starts_at.desc())
        .limit(past)
    )
    return [*coming.all(), *gone.all()]


async def upcoming_for_member(
    session: AsyncSession, guild_id: int, user_id: int, *, now: datetime
) -> Sequence[tuple[Meetup, Rsvp]]:
    result = await session.execute(
        select(Meetup, Rsvp)
        .join(Rsvp, Rsvp.meetup_id == Meetup.id)
        .where(
            Meetup.guild_id == guild_id,
            Meetup.status == "scheduled",
            Meetup.starts_at > now,
            Rsvp.user_id == user_id,
        )
    )
    return [(row[0], row[1]) for row in result]


async def delete_rsvp(session: AsyncSession, rsvp_id: int) -> None:
    await session.execute(delete(Rsvp).where(Rsvp.id == rsvp_id))


async def dm_reminder_user_ids(
    session: AsyncSession, guild_id: int, user_ids: list[int]
) -> list[int]:
    if not user_ids:
        return []
    result = await session.scalars(
        select(MemberPreference.user_id).where(
            MemberPreference.guild_id == guild_id,
            MemberPreference.user_id.in_(user_ids),
            MemberPreference.dm_reminders.is_(True),
        )
    )
    return list(result)


async def set_dm_reminders(session: AsyncSession, guild_id: int, user_id: int, on: bool) -> None:
    await session.execute(
        insert(session)(MemberPreference)
        .values(guild_id=guild_id, user_id=user_id, dm_reminders=on)
        .on_conflict_do_update(index_elements=["guild_id", "user_id"], set_={"dm_reminders": on})
    )


async def series(session: AsyncSession, series_id: int) -> MeetupSeries | None:
    return await session.get(MeetupSeries, series_id)


async def occurrence(session: AsyncSession, series_id: int, starts_at: datetime) -> Meetup | None:
    return await session.scalar(
        select(Meetup).where(Meetup.series_id == series_id, Meetup.starts_at == starts_at)
    )


async def upsert_feedback(
    session: AsyncSession,
    *,
    guild_id: int,
    meetup_id: int,
    user_id: int,
    now: datetime,
    rating: int | None = None,
    action: str | None = None,
) -> None:
    changes: dict[str, object] = {"updated_at": now}
    if rating is not None:
        changes["rating"] = rating
    if action is not None:
        changes["action"] = action
    await session.execute(
        insert(session)(MeetupFeedback)
        .values(guild_id=guild_id, meetup_id=meetup_id, user_id=user_id, **changes)
        .on_conflict_do_update(index_elements=["meetup_id", "user_id"], set_=changes)
    )


async def feedback(session: AsyncSession, meetup_ids: Sequence[int]) -> Sequence[MeetupFeedback]:
    if not meetup_ids:
        return []
    result = await session.scalars(
        select(MeetupFeedback).where(MeetupFeedback.meetup_id.in_(meetup_ids))
    )
    return result.all()


async def started_before(
    session: AsyncSession, guild_id: int, *, now: datetime, limit: int
) -> Sequence[Meetup]:
    result = await session.scalars(
        select(Meetup)
        .where(Meetup.guild_id == guild_id, Meetup.status == "scheduled", Meetup.starts_at <= now)
        .order_by(Meetup.starts_at.desc())
        .limit(limit)
    )
    return result.all()
