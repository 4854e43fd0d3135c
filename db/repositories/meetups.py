"""Meetups, RSVPs, member preferences and feedback."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Meetup, MeetupFeedback, MeetupSeries, MemberPreference, Rsvp
from db.raw import DuplicateRow, RawTransaction, to_datetime
from db.repositories._dialect import insert


async def by_number(session: AsyncSession, guild_id: int, number: int) -> Meetup | None:
    return await session.scalar(
        select(Meetup).where(Meetup.guild_id == guild_id, Meetup.number == number)
    )


rsvps_table = cast(Table, Rsvp.__table__)


async def rsvp_of(session: AsyncSession, meetup_id: int, user_id: int) -> Rsvp | None:
    return await session.scalar(
        select(Rsvp).where(Rsvp.meetup_id == meetup_id, Rsvp.user_id == user_id)
    )


async def waitlist_rank(session: AsyncSession, meetup_id: int, position: int) -> int:
    """1-based place on the waitlist of the entry holding `position`."""
    r = rsvps_table.c
    ahead = await session.scalar(
        select(func.count())
        .select_from(rsvps_table)
        .where(r.meetup_id == meetup_id, r.status == "waitlisted", r.waitlist_position < position)
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
    session: AsyncSession,
    guild_id: int,
    *,
    now: datetime,
    region: str | None = None,
    include_cancelled: bool = False,
    limit: int | None = None,
) -> Sequence[Meetup]:
    """Meetups that have not started yet, soonest first (cancelled ones only if asked)."""
    query = _upcoming(guild_id, now=now, region=region, include_cancelled=include_cancelled)
    result = await session.scalars(query.order_by(Meetup.starts_at).limit(limit))
    return result.all()


async def count_upcoming(
    session: AsyncSession, guild_id: int, *, now: datetime, region: str | None = None
) -> int:
    query = _upcoming(guild_id, now=now, region=region, include_cancelled=False)
    counted = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(counted or 0)


def _upcoming(
    guild_id: int, *, now: datetime, region: str | None, include_cancelled: bool
) -> Select[Meetup]:
    query = select(Meetup).where(Meetup.guild_id == guild_id, Meetup.starts_at > now)
    if not include_cancelled:
        query = query.where(Meetup.status == "scheduled")
    if region is not None:
        query = query.where(func.lower(Meetup.region) == region.lower())
    return query


async def series_occurrences_without_event(
    session: AsyncSession, guild_id: int, *, now: datetime
) -> Sequence[Meetup]:
    result = await session.scalars(
        select(Meetup).where(
            Meetup.guild_id == guild_id,
            Meetup.starts_at > now,
            Meetup.status == "scheduled",
            Meetup.series_id.is_not(None),
            Meetup.scheduled_event_id.is_(None),
        )
    )
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


async def occurrence(session: AsyncSession, series_id: int, *, slot: datetime) -> Meetup | None:
    return await session.scalar(
        select(Meetup).where(Meetup.series_id == series_id, Meetup.series_slot == slot)
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


# --- the RSVP click, straight on the driver (db.raw) ------------------------------------------

_LOCK = """
SELECT m.id, m.guild_id, m.number, m.title, m.starts_at, m.status, m.capacity, m.going_count,
       m.announcement_channel_id, m.announcement_message_id, m.thread_id,
       r.id AS rsvp_id, r.status AS rsvp_status, r.waitlist_position
FROM meetups AS m
LEFT OUTER JOIN rsvps AS r ON r.meetup_id = m.id AND r.user_id = $2
WHERE m.id = $1
"""


async def raw_lock_with_rsvp(
    tx: RawTransaction, meetup_id: int, user_id: int
) -> Mapping[str, Any] | None:
    """The meetup with the member's RSVP; on PostgreSQL the meetup row is locked, so answers
    to one meetup queue up (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    row = await tx.row(_LOCK + (" FOR UPDATE OF m" if tx.postgres else ""), meetup_id, user_id)
    if row is not None:
        row = {**row, "starts_at": to_datetime(row["starts_at"])}
    return row


_NOBODY_WAITING = (
    " AND NOT EXISTS (SELECT 1 FROM rsvps WHERE meetup_id = $1 AND status = 'waitlisted')"
)


async def raw_take_seat(tx: RawTransaction, meetup_id: int, *, from_waitlist: bool = False) -> bool:
    """One more Going, if the capacity allows; the database decides, not Python. A new
    answer never takes a place ahead of people already waiting for one."""
    changed = await tx.execute(
        "UPDATE meetups SET going_count = going_count + 1"
        " WHERE id = $1 AND (capacity IS NULL OR going_count < capacity)"
        + ("" if from_waitlist else _NOBODY_WAITING),
        meetup_id,
    )
    return changed == 1


async def raw_free_seat(tx: RawTransaction, meetup_id: int) -> None:
    await tx.execute("UPDATE meetups SET going_count = going_count - 1 WHERE id = $1", meetup_id)


async def raw_join_waitlist(tx: RawTransaction, meetup_id: int) -> tuple[int, int]:
    """(position, rank): a new place at the end of the waitlist, and how many are ahead of
    it plus one, in one statement (everyone waiting now joined earlier)."""
    row = await tx.row(
        "UPDATE meetups SET waitlist_counter = waitlist_counter + 1 WHERE id = $1"
        " RETURNING waitlist_counter, (SELECT count(*) FROM rsvps"
        " WHERE meetup_id = $1 AND status = 'waitlisted') AS ahead",
        meetup_id,
    )
    assert row is not None
    return int(row["waitlist_counter"]), int(row["ahead"]) + 1


async def raw_upsert_rsvp(
    tx: RawTransaction,
    *,
    guild_id: int,
    meetup_id: int,
    user_id: int,
    status: str,
    waitlist_position: int | None,
    now: datetime,
) -> None:
    await tx.execute(
        "INSERT INTO rsvps (guild_id, meetup_id, user_id, status, waitlist_position, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (meetup_id, user_id) DO UPDATE SET status = excluded.status,"
        " waitlist_position = excluded.waitlist_position, updated_at = excluded.updated_at",
        guild_id,
        meetup_id,
        user_id,
        status,
        waitlist_position,
        now,
    )


async def raw_promote(tx: RawTransaction, meetup_id: int, *, now: datetime) -> list[int]:
    """Fill free seats from the waitlist, first come first served."""
    promoted: list[int] = []
    while True:
        first = await tx.row(
            "SELECT id, user_id FROM rsvps WHERE meetup_id = $1 AND status = 'waitlisted'"
            " ORDER BY waitlist_position, id LIMIT 1",
            meetup_id,
        )
        if first is None or not await raw_take_seat(tx, meetup_id, from_waitlist=True):
            return promoted
        await tx.execute(
            "UPDATE rsvps SET status = 'going', waitlist_position = NULL, updated_at = $2"
            " WHERE id = $1",
            first["id"],
            now,
        )
        promoted.append(int(first["user_id"]))


async def raw_waitlist_rank(tx: RawTransaction, meetup_id: int, position: int) -> int:
    """1-based place on the waitlist of the entry holding `position`."""
    row = await tx.row(
        "SELECT count(*) AS ahead FROM rsvps"
        " WHERE meetup_id = $1 AND status = 'waitlisted' AND waitlist_position < $2",
        meetup_id,
        position,
    )
    return int(row["ahead"] if row else 0) + 1


# One statement (one round trip, its own transaction) for the commonest click on
# PostgreSQL, Going with no earlier answer: for one click, or for a batch of clicks by
# different members on one meetup that arrived together (bot.batches). The meetup's row is
# locked first, so answers to it queue up; places go in click order while they last, then
# places on the waitlist, numbered in the same order; a new answer never takes a place
# ahead of members already waiting. The row is read as the last transaction left it, but
# the rest (earlier answers, whether anyone is waiting) as the statement's snapshot saw
# them before it waited for the lock. So where the two disagree (someone waiting, yet a
# place free: the waitlist moved on meanwhile), and for a click with an earlier answer or
# on a meetup that is gone, closed or started, it decides nothing: no row. A click whose
# member answered meanwhile elsewhere hits the unique constraint: then the whole statement,
# every place in it, is rolled back.
_GOING_AT_ONCE = """
WITH clicks AS (
    SELECT user_id, at, ord
    FROM unnest($2::bigint[], $4::timestamptz[]) WITH ORDINALITY AS c (user_id, at, ord)
), fresh AS (
    SELECT user_id, at, row_number() OVER (ORDER BY ord) AS n FROM clicks
    WHERE NOT EXISTS (
        SELECT 1 FROM rsvps WHERE meetup_id = $1 AND rsvps.user_id = clicks.user_id
    )
), meetup AS (
    SELECT id, guild_id, number, title, starts_at, status, announcement_channel_id,
           announcement_message_id, thread_id, capacity, going_count, waitlist_counter
    FROM meetups
    WHERE id = $1 AND guild_id = $3 AND status = 'scheduled'
      AND starts_at > (SELECT max(at) FROM clicks)
    FOR UPDATE
), room AS (
    SELECT waitlist_counter,
           EXISTS (SELECT 1 FROM rsvps WHERE meetup_id = $1 AND status = 'waitlisted')
               AS someone_waiting,
           CASE WHEN capacity IS NULL THEN (SELECT count(*) FROM fresh)
                ELSE GREATEST(capacity - going_count, 0) END AS free
    FROM meetup
), places AS (
    SELECT waitlist_counter, CASE WHEN someone_waiting THEN 0 ELSE free END AS free
    FROM room WHERE NOT (someone_waiting AND free > 0)
), answers AS (
    INSERT INTO rsvps (guild_id, meetup_id, user_id, status, waitlist_position, updated_at)
    SELECT $3, $1, user_id,
           CASE WHEN n <= free THEN 'going' ELSE 'waitlisted' END,
           CASE WHEN n <= free THEN NULL ELSE waitlist_counter + n - free END,
           at
    FROM fresh, places
    RETURNING user_id, status, waitlist_position
), counted AS (
    UPDATE meetups
    SET going_count = going_count + (SELECT count(*) FROM answers WHERE status = 'going'),
        waitlist_counter = waitlist_counter
            + (SELECT count(*) FROM answers WHERE status = 'waitlisted')
    WHERE id = $1 AND EXISTS (SELECT 1 FROM answers)
)
SELECT meetup.id, guild_id, number, title, starts_at, meetup.status, announcement_channel_id,
       announcement_message_id, thread_id, answers.user_id, answers.waitlist_position
FROM meetup, answers
"""


async def pg_going_at_once(
    tx: RawTransaction,
    *,
    meetup_id: int,
    guild_id: int,
    clicks: Sequence[tuple[int, datetime]],
) -> list[Mapping[str, Any] | None]:
    """Per click (member, when), in order: the meetup with the member's
    `waitlist_position` (None: they are going); None where this statement decided nothing
    (see _GOING_AT_ONCE). One click per member."""
    user_ids = [user_id for user_id, _ in clicks]
    assert len(set(user_ids)) == len(user_ids), "one click per member in a batch"
    try:
        rows = await tx.rows(
            _GOING_AT_ONCE, meetup_id, user_ids, guild_id, [at for _, at in clicks]
        )
    except DuplicateRow:
        return [None] * len(clicks)
    by_member = {row["user_id"]: row for row in rows}
    return [by_member.get(user_id) for user_id in user_ids]


async def pg_waitlist_ranks(
    tx: RawTransaction, meetup_id: int, user_ids: Sequence[int]
) -> dict[int, int]:
    """Each member's 1-based place on the waitlist. Read after their places were committed,
    outside the meetup's lock: everyone numbered before them had committed by then, so the
    order is exact."""
    rows = await tx.rows(
        "SELECT user_id, rank FROM (SELECT user_id, row_number() OVER"
        " (ORDER BY waitlist_position, id) AS rank FROM rsvps"
        " WHERE meetup_id = $1 AND status = 'waitlisted') AS waitlist"
        " WHERE user_id = ANY($2::bigint[])",
        meetup_id,
        list(user_ids),
    )
    return {int(row["user_id"]): int(row["rank"]) for row in rows}


# A meetup as members see it, straight on the driver: its announcement is redrawn after
# bursts of RSVPs, and reading it through a session took ~3 ms of the event loop's time on
# SQLite (sixteen hops to aiosqlite's thread) for a handful of point reads.
VIEW_COLUMNS = (
    "id",
    "guild_id",
    "number",
    "title",
    "description",
    "venue",
    "online_url",
    "voice_channel_id",
    "region",
    "starts_at",
    "duration_minutes",
    "capacity",
    "status",
    "cancel_reason",
    "revision",
    "reminder_offsets",
    "announcement_channel_id",
    "announcement_message_id",
    "thread_id",
    "scheduled_event_id",
    "series_id",
    "created_by",
    "going_count",
)
_COUNT = "(SELECT count(*) FROM rsvps AS r WHERE r.meetup_id = m.id AND r.status = '{0}') AS {0}"
_MEETUP_VIEW = f"""
SELECT {", ".join(f"m.{name}" for name in VIEW_COLUMNS)},
  CASE WHEN s.cancelled THEN NULL ELSE s.repeat END AS repeat,
  {", ".join(_COUNT.format(status) for status in ("maybe", "not_going", "waitlisted"))}
FROM meetups AS m LEFT OUTER JOIN meetup_series AS s ON s.id = m.series_id
WHERE m.id = $1
"""
_AGENDA = (
    "SELECT title FROM topics WHERE meetup_id = $1 AND status = 'chosen' ORDER BY agenda_place"
)


async def raw_meetup_view(tx: RawTransaction, meetup_id: int) -> dict[str, Any] | None:
    """VIEW_COLUMNS as the session path reads them (aware datetimes, a list of offsets),
    with `repeat` (its series' rule, None if none or cancelled), the maybe, not_going and
    waitlisted counts, and `agenda` (chosen topics' titles in order); None if it is gone."""
    row = await tx.row(_MEETUP_VIEW, meetup_id)
    if row is None:
        return None
    offsets = row["reminder_offsets"]
    return {
        **row,
        "starts_at": to_datetime(row["starts_at"]),
        # SQLite and asyncpg both hand a JSON column over as its text.
        "reminder_offsets": json.loads(offsets) if isinstance(offsets, str) else offsets,
        "agenda": [found["title"] for found in await tx.rows(_AGENDA, meetup_id)],
    }
