"""Use cases behind /techmeet: schedule, RSVP, edit, cancel, remind, follow up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.batches import Batches, Turns
from bot.clock import Clock, utcnow
from bot.domain.guild_settings import ChannelPurpose, parse_offsets, region_choices
from bot.domain.meetups import (
    CANCEL_REASON_MAX,
    DEFAULT_DURATION,
    DESCRIPTION_MAX,
    TITLE_MAX,
    VENUE_MAX,
    Lateness,
    MeetupStatus,
    Repeat,
    RsvpStatus,
    check_capacity,
    check_duration,
    check_region,
    check_repeat,
    check_url,
    clean_text,
    next_occurrence,
    plan_reminders,
    reminder_lateness,
)
from bot.domain.members import Actor
from bot.domain.when import parse_date, parse_when
from bot.errors import BadInput, Conflict, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService, GuildSettingsView
from db.engine import Sessions
from db.models import Meetup, MeetupFeedback, MeetupSeries, MemberPreference, Rsvp, ScheduledJob
from db.raw import RawTransaction, to_datetime, within
from db.repositories import guild_settings as settings_repo
from db.repositories import jobs as jobs_repo
from db.repositories import meetups as repo
from db.repositories import topics as topics_repo

REMINDER = "reminder"
SERIES_NEXT = "series-next"
FOLLOW_UP = "follow-up"
MEETUP_JOBS = (REMINDER, SERIES_NEXT, FOLLOW_UP)
AUTOCOMPLETE_PAST = 5


@dataclass(frozen=True)
class MeetupView:
    """A meetup as the cogs show it, with RSVP counts."""

    id: int
    guild_id: int
    number: int
    title: str
    description: str | None
    venue: str | None
    online_url: str | None
    voice_channel_id: int | None
    region: str | None
    starts_at: datetime
    duration_minutes: int
    capacity: int | None
    status: MeetupStatus
    cancel_reason: str | None
    revision: int
    reminder_offsets: tuple[int, ...]
    announcement_channel_id: int | None
    announcement_message_id: int | None
    thread_id: int | None
    scheduled_event_id: int | None
    series_id: int | None
    repeat: Repeat
    created_by: int | None
    going: int = 0
    maybe: int = 0
    not_going: int = 0
    waitlisted: int = 0
    # Topics the members chose by vote, in order (issue: topic polls).
    agenda: tuple[str, ...] = ()

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def cancelled(self) -> bool:
        return self.status is MeetupStatus.CANCELLED

    @property
    def places_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.going, 0)


@dataclass(frozen=True)
class MeetupRef:
    """Just enough of a meetup to name it and find its messages (no counts)."""

    id: int
    guild_id: int
    number: int
    title: str
    starts_at: datetime
    status: MeetupStatus
    announcement_channel_id: int | None
    announcement_message_id: int | None
    thread_id: int | None


@dataclass(frozen=True)
class MeetupDraft:
    """What an organiser typed into /techmeet create (or the fields /techmeet edit changes)."""

    title: str | None = None
    when: str | None = None
    duration_minutes: int | None = None
    venue: str | None = None
    online_url: str | None = None
    voice_channel_id: int | None = None
    region: str | None = None
    capacity: int | None = None
    description: str | None = None
    repeat: Repeat = Repeat.NONE
    until: str | None = None
    reminders: str | None = None


@dataclass(frozen=True)
class Created:
    meetup: MeetupView
    skipped_offsets: list[int]


@dataclass(frozen=True)
class RsvpOutcome:
    meetup: MeetupRef
    status: RsvpStatus
    previous: RsvpStatus | None
    waitlist_rank: int | None = None
    promoted: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Changed:
    """The result of an edit or cancellation, with whom to tell."""

    meetup: MeetupView
    time_changed: bool = False
    place_changed: bool = False
    title_changed: bool = False
    notify: list[int] = field(default_factory=list)
    promoted: list[int] = field(default_factory=list)
    skipped_offsets: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Attendee:
    user_id: int
    status: RsvpStatus
    waitlist_rank: int | None
    updated_at: datetime


@dataclass(frozen=True)
class ReminderJobView:
    offset_minutes: int
    due_at: datetime
    state: str
    result: str | None


@dataclass(frozen=True)
class MeetupDetails:
    meetup: MeetupView
    my_rsvp: RsvpStatus | None
    my_waitlist_rank: int | None
    reminders: list[ReminderJobView]


@dataclass(frozen=True)
class Reminder:
    """Everything a reminder post needs, decided at the moment it fires."""

    meetup: MeetupView
    offset_minutes: int
    lateness: Lateness
    ping_role_id: int | None
    dm_user_ids: list[int]


@dataclass(frozen=True)
class MeetupStats:
    meetup: MeetupView
    ratings: list[int]
    rating_voters_going: int
    actions: list[str]

    @property
    def average(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None


class MeetupService:
    def __init__(
        self,
        sessions: Sessions,
        settings: GuildSettingsService,
        *,
        clock: Clock = utcnow,
        jobs_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._jobs_changed = jobs_changed
        # New Going answers on PostgreSQL, by (meetup, guild): a burst shares statements.
        self._going_together: Batches[tuple[int, int], tuple[int, datetime], RsvpOutcome | None]
        self._going_together = Batches(self._going_batch)
        self._answering: Turns[tuple[int, int]] = Turns()

    # --- organisers ---------------------------------------------------------------------

    async def require_organiser(self, actor: Actor) -> GuildSettingsView:
        settings = await self._settings.get(actor.guild_id)
        if not actor.is_organiser(settings.organiser_role_id):
            raise NotAllowed(
                "Only organisers can do that: members with the organiser role, Manage Events "
                "or Manage Server."
            )
        return settings

    async def create(self, actor: Actor, draft: MeetupDraft) -> Created:
        settings = await self.require_organiser(actor)
        channel_id = settings.channel(ChannelPurpose.ANNOUNCEMENTS)
        if channel_id is None:
            raise BadInput(
                "There is no announcements channel yet. A server manager can set one with "
                "`/setup channel purpose:announcements`."
            )
        now = self._clock()
        tz = ZoneInfo(settings.timezone)
        starts_at = parse_when(draft.when or "", now=now, tz=tz)
        fields = _checked_fields(draft, settings, required=True)
        offsets = parse_offsets(draft.reminders) if draft.reminders else settings.reminder_offsets
        until = _until(draft, now=now, tz=tz, starts_at=starts_at)
        if draft.repeat is not Repeat.NONE:
            check_repeat(draft.repeat, starts_at.astimezone(tz).replace(tzinfo=None))
        elif until is not None:
            raise BadInput("`until` is the end date of a repeating meetup: choose `repeat` too.")
        async with self._sessions.begin() as session:
            series_id = None
            if draft.repeat is not Repeat.NONE:
                series = MeetupSeries(
                    guild_id=actor.guild_id,
                    repeat=draft.repeat.value,
                    week_of_month=draft.repeat.week_of_month,
                    timezone=settings.timezone,
                    first_starts_at=starts_at,
                    until=until,
                    cancelled=False,
                    created_by=actor.user_id,
                )
                session.add(series)
                await session.flush()
                series_id = series.id
            meetup = Meetup(
                guild_id=actor.guild_id,
                number=await settings_repo.next_number(session, actor.guild_id, "meetup"),
                starts_at=starts_at,
                reminder_offsets=list(offsets),
                status=MeetupStatus.SCHEDULED.value,
                revision=0,
                going_count=0,
                waitlist_counter=0,
                announcement_channel_id=channel_id,
                series_id=series_id,
                series_slot=starts_at if series_id is not None else None,
                created_by=actor.user_id,
                created_at=now,
                updated_at=now,
                **fields,
            )
            session.add(meetup)
            await session.flush()
            skipped = await self._schedule_jobs(session, meetup, now=now)
            view = await self._view(session, meetup)
        self._jobs_changed()
        return Created(view, skipped)

    async def attach_announcement(
        self, meetup_id: int, *, channel_id: int, message_id: int, thread_id: int | None
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Meetup)
                .where(Meetup.id == meetup_id)
                .values(
                    announcement_channel_id=channel_id,
                    announcement_message_id=message_id,
                    thread_id=thread_id,
                )
            )

    async def attach_event(self, meetup_id: int, event_id: int | None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Meetup).where(Meetup.id == meetup_id).values(scheduled_event_id=event_id)
            )

    async def discard(self, meetup_id: int) -> None:
        """Undo a creation whose announcement could not be posted: nothing half-made stays."""
        async with self._sessions.begin() as session:
            meetup = await session.get(Meetup, meetup_id)
            if meetup is None:
                return
            await session.execute(
                delete(ScheduledJob).where(
                    ScheduledJob.kind.in_(MEETUP_JOBS), ScheduledJob.subject_id == meetup_id
                )
            )
            series_id = meetup.series_id
            await session.delete(meetup)
            await session.flush()
            if series_id is not None:
                remaining = await session.scalar(
                    select(Meetup.id).where(Meetup.series_id == series_id).limit(1)
                )
                if remaining is None:
                    await session.execute(delete(MeetupSeries).where(MeetupSeries.id == series_id))
        self._jobs_changed()

    async def edit(self, actor: Actor, number: int, draft: MeetupDraft) -> Changed:
        settings = await self.require_organiser(actor)
        now = self._clock()
        tz = ZoneInfo(settings.timezone)
        new_start = parse_when(draft.when, now=now, tz=tz) if draft.when else None
        fields = _checked_fields(draft, settings, required=False)
        offsets = parse_offsets(draft.reminders) if draft.reminders else None
        if not fields and new_start is None and offsets is None:
            raise BadInput("Nothing to change: give at least one field to edit.")
        async with self._sessions.begin() as session:
            meetup = await self._editable(session, actor.guild_id, number, now=now)
            time_changed = new_start is not None and new_start != meetup.starts_at
            place_changed = any(
                key in fields and fields[key] != getattr(meetup, key)
                for key in ("venue", "online_url", "voice_channel_id")
            )
            title_changed = "title" in fields and fields["title"] != meetup.title
            for key, value in fields.items():
                setattr(meetup, key, value)
            if new_start is not None:
                meetup.starts_at = new_start
            if offsets is not None:
                meetup.reminder_offsets = list(offsets)
            meetup.revision += 1
            meetup.updated_at = now
            skipped: list[int] = []
            if time_changed or offsets is not None or "duration_minutes" in fields:
                skipped = await self._retime_jobs(session, meetup, now=now)
            promoted = await self._promote(session, meetup.id, now=now)
            # Seats were counted in SQL; reload the row so the view shows the true count.
            await session.refresh(meetup)
            notify = await repo.rsvp_user_ids(session, meetup.id, ["going", "maybe"])
            view = await self._view(session, meetup)
        self._jobs_changed()
        return Changed(
            view,
            time_changed=time_changed,
            place_changed=place_changed,
            title_changed=title_changed,
            notify=notify if (time_changed or place_changed) else [],
            promoted=promoted,
            skipped_offsets=skipped,
        )

    async def cancel(
        self, actor: Actor, number: int, reason: str | None, *, whole_series: bool
    ) -> Changed:
        await self.require_organiser(actor)
        now = self._clock()
        why = clean_text(reason, field="reason", limit=CANCEL_REASON_MAX)
        async with self._sessions.begin() as session:
            meetup = await self._editable(session, actor.guild_id, number, now=now)
            meetup.status = MeetupStatus.CANCELLED.value
            meetup.cancel_reason = why
            meetup.revision += 1
            meetup.updated_at = now
            # Cancelling one occurrence keeps its series going: its series-next job stays.
            stop = MEETUP_JOBS if whole_series else (REMINDER, FOLLOW_UP)
            await jobs_repo.cancel_open(
                session, stop, meetup.id, now=now, why="the meetup was cancelled"
            )
            if whole_series and meetup.series_id is not None:
                await session.execute(
                    update(MeetupSeries)
                    .where(MeetupSeries.id == meetup.series_id)
                    .values(cancelled=True)
                )
            notify = await repo.rsvp_user_ids(session, meetup.id, ["going", "maybe", "waitlisted"])
            view = await self._view(session, meetup)
        self._jobs_changed()
        return Changed(view, notify=notify)

    async def attendees(self, actor: Actor, number: int) -> tuple[MeetupView, list[Attendee]]:
        await self.require_organiser(actor)
        async with self._sessions() as session:
            meetup = await self._by_number(session, actor.guild_id, number)
            rows = await repo.rsvps(session, meetup.id)
            view = await self._view(session, meetup)
        waitlist = sorted(
            (r for r in rows if r.status == RsvpStatus.WAITLISTED),
            key=lambda r: (r.waitlist_position or 0, r.id),
        )
        ranks = {row.id: rank for rank, row in enumerate(waitlist, start=1)}
        return view, [
            Attendee(row.user_id, RsvpStatus(row.status), ranks.get(row.id), row.updated_at)
            for row in rows
        ]

    async def stats(self, actor: Actor, *, last: int = 8) -> list[MeetupStats]:
        """Going vs capacity, feedback and committed actions for the last meetups."""
        await self.require_organiser(actor)
        async with self._sessions() as session:
            meetups = await repo.started_before(
                session, actor.guild_id, now=self._clock(), limit=last
            )
            views = await self._views(session, meetups)
            feedback = await repo.feedback(session, [m.id for m in meetups])
            going = {m.id: set(await repo.rsvp_user_ids(session, m.id, ["going"])) for m in meetups}
        result = []
        for view in views:
            mine = [f for f in feedback if f.meetup_id == view.id]
            rated = [f for f in mine if f.rating is not None]
            result.append(
                MeetupStats(
                    meetup=view,
                    ratings=[f.rating for f in rated if f.rating is not None],
                    rating_voters_going=sum(1 for f in rated if f.user_id in going[view.id]),
                    actions=[f.action for f in mine if f.action],
                )
            )
        return result

    # --- members ------------------------------------------------------------------------

    async def rsvp(
        self, guild_id: int, user_id: int, meetup_id: int, wanted: RsvpStatus
    ) -> RsvpOutcome:
        """Record a member's answer. Going takes a seat if one is free, else a waitlist place
        in the order answers are committed; leaving Going hands the seat to the next in line."""
        if wanted is RsvpStatus.WAITLISTED:
            raise BadInput("Choose Going, Maybe or Can't go.")
        # A member's clicks take effect in the order they were made (bot.batches.Turns);
        # which also keeps each batch to one click per member.
        async with self._answering.turn((meetup_id, user_id)):
            return await self._answer(guild_id, user_id, meetup_id, wanted)

    async def _answer(
        self, guild_id: int, user_id: int, meetup_id: int, wanted: RsvpStatus
    ) -> RsvpOutcome:
        now = self._clock()
        # On PostgreSQL a new Going answer is one statement, a seat or a waitlist place,
        # shared with the Going clicks on the same meetup that arrive meanwhile. If the
        # statement cannot decide (an earlier answer, closed, a race) the path below does.
        if wanted is RsvpStatus.GOING and self._sessions.postgres:
            outcome = await self._going_together.submit((meetup_id, guild_id), (user_id, now))
            if outcome is not None:
                return outcome
        # The hottest path: straight on the driver (db.raw), at most three statements for a
        # new answer.
        async with self._sessions.raw() as tx:
            row = await repo.raw_lock_with_rsvp(tx, meetup_id, user_id)
            if row is None or row["guild_id"] != guild_id:
                raise NotFound("That TechMeet no longer exists.")
            meetup = _ref_of_row(row)
            _check_open_for_rsvp(meetup, now)
            previous = RsvpStatus(row["rsvp_status"]) if row["rsvp_id"] else None
            status: RsvpStatus = wanted
            position = rank = None
            promoted: list[int] = []
            if wanted is RsvpStatus.GOING:
                status, position, rank = await _going(tx, row, previous)
            if status != previous:
                await repo.raw_upsert_rsvp(
                    tx,
                    guild_id=guild_id,
                    meetup_id=meetup.id,
                    user_id=user_id,
                    status=status.value,
                    waitlist_position=position,
                    now=now,
                )
            if previous is RsvpStatus.GOING and status is not RsvpStatus.GOING:
                await repo.raw_free_seat(tx, meetup.id)
                promoted = await repo.raw_promote(tx, meetup.id, now=now)
        return RsvpOutcome(meetup, status, previous, rank, promoted)

    async def _going_batch(
        self, key: tuple[int, int], clicks: Sequence[tuple[int, datetime]]
    ) -> list[RsvpOutcome | None]:
        """PostgreSQL: new Going answers by different members on one meetup, in one
        statement, and their waitlist ranks in one more if any of them wait."""
        meetup_id, guild_id = key
        async with self._sessions.autocommit() as once:
            rows = await repo.pg_going_at_once(
                once, meetup_id=meetup_id, guild_id=guild_id, clicks=clicks
            )
            waiting = [r["user_id"] for r in rows if r and r["waitlist_position"] is not None]
            ranks = await repo.pg_waitlist_ranks(once, meetup_id, waiting) if waiting else {}
        return [
            None
            if row is None
            else RsvpOutcome(
                _ref_of_row(row),
                RsvpStatus.GOING if row["waitlist_position"] is None else RsvpStatus.WAITLISTED,
                None,
                ranks.get(row["user_id"]),
            )
            for row in rows
        ]

    async def member_left(self, guild_id: int, user_id: int) -> list[tuple[MeetupRef, list[int]]]:
        """A member left the server: their RSVPs to coming meetups go, and seats move on."""
        now = self._clock()
        changed = []
        async with self._sessions.begin() as session:
            for meetup, rsvp in await repo.upcoming_for_member(session, guild_id, user_id, now=now):
                await repo.delete_rsvp(session, rsvp.id)
                promoted = []
                if rsvp.status == RsvpStatus.GOING:
                    await repo.raw_free_seat(await within(session), meetup.id)
                    promoted = await self._promote(session, meetup.id, now=now)
                changed.append((_ref(meetup), promoted))
        return changed

    async def set_dm_reminders(self, guild_id: int, user_id: int, on: bool) -> None:
        async with self._sessions.begin() as session:
            await repo.set_dm_reminders(session, guild_id, user_id, on)

    async def record_rating(self, guild_id: int, user_id: int, meetup_id: int, rating: int) -> None:
        if not 1 <= rating <= 5:
            raise BadInput("Ratings go from 1 to 5.")
        await self._feedback(guild_id, user_id, meetup_id, rating=rating)

    async def record_action(self, guild_id: int, user_id: int, meetup_id: int, action: str) -> None:
        text = clean_text(action, field="action", limit=300, required=True)
        await self._feedback(guild_id, user_id, meetup_id, action=text)

    async def _feedback(self, guild_id: int, user_id: int, meetup_id: int, **values: Any) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup = await session.get(Meetup, meetup_id)
            if meetup is None or meetup.guild_id != guild_id:
                raise NotFound("That TechMeet no longer exists.")
            if meetup.starts_at > now:
                raise Conflict("Feedback opens once the meetup has started.")
            await repo.upsert_feedback(
                session, guild_id=guild_id, meetup_id=meetup_id, user_id=user_id, now=now, **values
            )

    # --- reading ------------------------------------------------------------------------

    async def get(self, meetup_id: int) -> MeetupView | None:
        # Straight on the driver (repo.raw_meetup_view): announcements are redrawn from
        # this after bursts of RSVPs. It takes its turn like a click, which is what keeps
        # SQLite's connection for the event loop to one transaction at a time.
        async with self._sessions.raw() as tx:
            row = await repo.raw_meetup_view(tx, meetup_id)
        if row is None:
            return None
        repeat = Repeat(row["repeat"]) if row["repeat"] else Repeat.NONE
        return _view_of(row, repeat, counts=row, agenda=row["agenda"])

    async def details(self, guild_id: int, number: int, user_id: int) -> MeetupDetails:
        async with self._sessions() as session:
            meetup = await self._by_number(session, guild_id, number)
            view = await self._view(session, meetup)
            mine = await repo.rsvp_of(session, meetup.id, user_id)
            rank = None
            if mine is not None and mine.status == RsvpStatus.WAITLISTED and mine.waitlist_position:
                rank = await repo.waitlist_rank(session, meetup.id, mine.waitlist_position)
            jobs = await jobs_repo.for_subject(session, [REMINDER], meetup.id)
        return MeetupDetails(
            view,
            RsvpStatus(mine.status) if mine else None,
            rank,
            [ReminderJobView(j.detail or 0, j.due_at, j.state, j.result) for j in jobs],
        )

    async def upcoming(
        self,
        guild_id: int,
        region: str | None = None,
        *,
        include_cancelled: bool = False,
        limit: int | None = None,
    ) -> list[MeetupView]:
        async with self._sessions() as session:
            meetups = await repo.upcoming(
                session,
                guild_id,
                now=self._clock(),
                region=region,
                include_cancelled=include_cancelled,
                limit=limit,
            )
            return await self._views(session, meetups)

    async def count_upcoming(self, guild_id: int, region: str | None = None) -> int:
        async with self._sessions() as session:
            return await repo.count_upcoming(session, guild_id, now=self._clock(), region=region)

    async def series_occurrences_without_event(self, guild_id: int) -> list[MeetupView]:
        async with self._sessions() as session:
            meetups = await repo.series_occurrences_without_event(
                session, guild_id, now=self._clock()
            )
            return await self._views(session, meetups)

    async def choices(
        self, guild_id: int, *, include_past: bool, limit: int = 25
    ) -> list[MeetupRef]:
        """Meetups to offer in autocomplete: upcoming first, then recent past ones."""
        async with self._sessions() as session:
            found = await repo.search(
                session,
                guild_id,
                now=self._clock(),
                past=AUTOCOMPLETE_PAST if include_past else 0,
                limit=limit,
            )
        return [_ref(m) for m in found][:limit]

    async def by_number(self, guild_id: int, number: int) -> MeetupView:
        async with self._sessions() as session:
            return await self._view(session, await self._by_number(session, guild_id, number))

    async def rsvp_lists(self, meetup_id: int) -> dict[RsvpStatus, list[int]]:
        """Who said what, waitlist in order; for the Who's going button."""
        async with self._sessions() as session:
            rows = await repo.rsvps(session, meetup_id)
        lists: dict[RsvpStatus, list[int]] = {status: [] for status in RsvpStatus}
        for row in sorted(rows, key=lambda r: (r.waitlist_position or 0, r.updated_at, r.id)):
            lists[RsvpStatus(row.status)].append(row.user_id)
        return lists

    # --- scheduled jobs -------------------------------------------------------------------

    async def reminder(self, meetup_id: int, offset_minutes: int) -> Reminder | None:
        """What a due reminder should say, or None if its meetup is gone or cancelled."""
        now = self._clock()
        async with self._sessions() as session:
            meetup = await session.get(Meetup, meetup_id)
            if meetup is None or meetup.status != MeetupStatus.SCHEDULED:
                return None
            view = await self._view(session, meetup)
            attending = await repo.rsvp_user_ids(session, meetup_id, ["going", "maybe"])
            dm_ids = await repo.dm_reminder_user_ids(session, meetup.guild_id, attending)
        settings = await self._settings.get(view.guild_id)
        lateness = reminder_lateness(
            due_at=view.starts_at - timedelta(minutes=offset_minutes),
            starts_at=view.starts_at,
            offset_minutes=offset_minutes,
            now=now,
        )
        return Reminder(view, offset_minutes, lateness, settings.ping_role_id, dm_ids)

    async def create_next_occurrence(self, meetup_id: int) -> MeetupView | None:
        """The series' next meetup after this one, created once however often this runs."""
        now = self._clock()
        async with self._sessions() as session:
            guild_id = await session.scalar(select(Meetup.guild_id).where(Meetup.id == meetup_id))
        if guild_id is None:
            return None
        # Read before the write transaction: on SQLite a second session inside it would wait
        # for the first one's lock.
        settings = await self._settings.get(guild_id)
        async with self._sessions.begin() as session:
            plan = await self._next_in_series(session, meetup_id, now=now)
            if plan is None:
                return None
            meetup, series_id, starts_at = plan
            nxt = await repo.occurrence(session, series_id, slot=starts_at)
            if nxt is None:
                nxt = Meetup(
                    guild_id=meetup.guild_id,
                    number=await settings_repo.next_number(session, meetup.guild_id, "meetup"),
                    title=meetup.title,
                    description=meetup.description,
                    venue=meetup.venue,
                    online_url=meetup.online_url,
                    voice_channel_id=meetup.voice_channel_id,
                    region=meetup.region,
                    starts_at=starts_at,
                    duration_minutes=meetup.duration_minutes,
                    capacity=meetup.capacity,
                    going_count=0,
                    waitlist_counter=0,
                    reminder_offsets=list(meetup.reminder_offsets),
                    status=MeetupStatus.SCHEDULED.value,
                    revision=0,
                    announcement_channel_id=settings.channel(ChannelPurpose.ANNOUNCEMENTS)
                    or meetup.announcement_channel_id,
                    series_id=series_id,
                    series_slot=starts_at,
                    created_by=meetup.created_by,
                    created_at=now,
                    updated_at=now,
                )
                session.add(nxt)
                await session.flush()
                await self._schedule_jobs(session, nxt, now=now)
            view = await self._view(session, nxt)
        self._jobs_changed()
        return view

    async def _next_in_series(
        self, session: AsyncSession, meetup_id: int, *, now: datetime
    ) -> tuple[Meetup, int, datetime] | None:
        """(this meetup, its series, the next start) if the series goes on."""
        meetup = await session.get(Meetup, meetup_id)
        if meetup is None or meetup.series_id is None:
            return None
        series = await repo.series(session, meetup.series_id)
        if series is None or series.cancelled:
            return None
        starts_at = next_occurrence(
            repeat=Repeat(series.repeat),
            first_starts_at=series.first_starts_at,
            tz=ZoneInfo(series.timezone),
            # From the rule's slot, not the (possibly moved) start; missed weeks are not
            # created after downtime.
            after=max(meetup.series_slot or meetup.starts_at, now),
            until=series.until,
        )
        return None if starts_at is None else (meetup, series.id, starts_at)

    async def _schedule_jobs(
        self, session: AsyncSession, meetup: Meetup, *, now: datetime
    ) -> list[int]:
        planned, skipped = plan_reminders(meetup.starts_at, tuple(meetup.reminder_offsets), now=now)
        for reminder in planned:
            await jobs_repo.schedule(
                session,
                guild_id=meetup.guild_id,
                kind=REMINDER,
                subject_id=meetup.id,
                detail=reminder.offset_minutes,
                due_at=reminder.due_at,
            )
        if meetup.series_id is not None:
            await jobs_repo.schedule(
                session,
                guild_id=meetup.guild_id,
                kind=SERIES_NEXT,
                subject_id=meetup.id,
                due_at=meetup.starts_at,
            )
        await jobs_repo.schedule(
            session,
            guild_id=meetup.guild_id,
            kind=FOLLOW_UP,
            subject_id=meetup.id,
            due_at=meetup.starts_at + timedelta(minutes=meetup.duration_minutes),
        )
        return skipped

    async def _retime_jobs(
        self, session: AsyncSession, meetup: Meetup, *, now: datetime
    ) -> list[int]:
        """After a time or offset change: every reminder still ahead is (re-)armed, even one
        already sent for the old time; ones now in the past are cancelled."""
        existing = await jobs_repo.for_subject(session, MEETUP_JOBS, meetup.id)
        reminders = {job.detail: job for job in existing if job.kind == REMINDER}
        planned, skipped = plan_reminders(meetup.starts_at, tuple(meetup.reminder_offsets), now=now)
        wanted = {p.offset_minutes: p.due_at for p in planned}
        for offset, job in reminders.items():
            if offset in wanted:
                await jobs_repo.rearm(session, job, wanted.pop(offset))
            elif job.state in jobs_repo.OPEN_STATES:
                job.state = jobs_repo.CANCELLED
                job.result = "no longer wanted after an edit"
                job.finished_at = now
        for offset, due_at in wanted.items():
            await jobs_repo.schedule(
                session,
                guild_id=meetup.guild_id,
                kind=REMINDER,
                subject_id=meetup.id,
                detail=offset,
                due_at=due_at,
            )
        ends_at = meetup.starts_at + timedelta(minutes=meetup.duration_minutes)
        for job in existing:
            if job.kind == SERIES_NEXT:
                await jobs_repo.rearm(session, job, meetup.starts_at)
            elif job.kind == FOLLOW_UP:
                await jobs_repo.rearm(session, job, ends_at)
        return skipped

    async def _promote(self, session: AsyncSession, meetup_id: int, *, now: datetime) -> list[int]:
        """Fill free seats from the waitlist, first come first served (the same statements
        as an RSVP click, inside this session's transaction)."""
        await session.flush()
        return await repo.raw_promote(await within(session), meetup_id, now=now)

    # --- helpers --------------------------------------------------------------------------

    async def _by_number(self, session: AsyncSession, guild_id: int, number: int) -> Meetup:
        meetup = await repo.by_number(session, guild_id, number)
        if meetup is None:
            raise NotFound(f"There is no TechMeet #{number} here. Pick one from the list.")
        return meetup

    async def _editable(
        self, session: AsyncSession, guild_id: int, number: int, *, now: datetime
    ) -> Meetup:
        meetup = await self._by_number(session, guild_id, number)
        if meetup.status == MeetupStatus.CANCELLED:
            raise Conflict(f"TechMeet #{number} was cancelled; schedule a new one instead.")
        if meetup.starts_at <= now:
            raise Conflict(f"TechMeet #{number} has already started, so it can't be changed.")
        return meetup

    async def _view(self, session: AsyncSession, meetup: Meetup) -> MeetupView:
        [view] = await self._views(session, [meetup])
        return view

    async def _views(self, session: AsyncSession, meetups: Sequence[Meetup]) -> list[MeetupView]:
        counts = await repo.counts(session, [m.id for m in meetups])
        repeats: dict[int, Repeat] = {}
        for meetup in meetups:
            if meetup.series_id is not None and meetup.series_id not in repeats:
                series = await repo.series(session, meetup.series_id)
                if series is not None and not series.cancelled:
                    repeats[meetup.series_id] = Repeat(series.repeat)
        agendas = await topics_repo.agenda(session, [m.id for m in meetups])
        return [
            _view_of(
                {name: getattr(m, name) for name in repo.VIEW_COLUMNS},
                repeats.get(m.series_id or 0, Repeat.NONE),
                counts=counts[m.id],
                agenda=agendas[m.id],
            )
            for m in meetups
        ]


def _ref(meetup: Meetup) -> MeetupRef:
    return _ref_of_row({name: getattr(meetup, name) for name in _REF_COLUMNS})


async def _going(
    tx: RawTransaction, row: Mapping[str, Any], previous: RsvpStatus | None
) -> tuple[RsvpStatus, int | None, int | None]:
    """(status, waitlist position, waitlist rank) for a Going click, in the locked row."""
    if previous in (RsvpStatus.GOING, RsvpStatus.WAITLISTED):
        position = row["waitlist_position"]
        rank = None if position is None else await repo.raw_waitlist_rank(tx, row["id"], position)
        return previous, position, rank
    if _looks_free(row) and await repo.raw_take_seat(tx, row["id"]):
        return RsvpStatus.GOING, None, None
    position, rank = await repo.raw_join_waitlist(tx, row["id"])
    return RsvpStatus.WAITLISTED, position, rank


def _looks_free(row: Mapping[str, Any]) -> bool:
    """Whether the locked row shows a free place; the conditional UPDATE still decides."""
    return row["capacity"] is None or row["going_count"] < row["capacity"]


_REF_COLUMNS = (
    "id",
    "guild_id",
    "number",
    "title",
    "starts_at",
    "status",
    "announcement_channel_id",
    "announcement_message_id",
    "thread_id",
)


def _ref_of_row(row: Mapping[str, Any]) -> MeetupRef:
    return MeetupRef(
        id=row["id"],
        guild_id=row["guild_id"],
        number=row["number"],
        title=row["title"],
        starts_at=to_datetime(row["starts_at"]),
        status=MeetupStatus(row["status"]),
        announcement_channel_id=row["announcement_channel_id"],
        announcement_message_id=row["announcement_message_id"],
        thread_id=row["thread_id"],
    )


def _view_of(
    meetup: Mapping[str, Any],
    repeat: Repeat,
    *,
    counts: Mapping[str, int],
    agenda: Sequence[str],
) -> MeetupView:
    """A meetup's repo.VIEW_COLUMNS (from a row or a Meetup), with its series' rule, the
    maybe, not_going and waitlisted counts, and its agenda."""
    return MeetupView(
        id=meetup["id"],
        guild_id=meetup["guild_id"],
        number=meetup["number"],
        title=meetup["title"],
        description=meetup["description"],
        venue=meetup["venue"],
        online_url=meetup["online_url"],
        voice_channel_id=meetup["voice_channel_id"],
        region=meetup["region"],
        starts_at=meetup["starts_at"],
        duration_minutes=meetup["duration_minutes"],
        capacity=meetup["capacity"],
        status=MeetupStatus(meetup["status"]),
        cancel_reason=meetup["cancel_reason"],
        revision=meetup["revision"],
        reminder_offsets=tuple(meetup["reminder_offsets"]),
        announcement_channel_id=meetup["announcement_channel_id"],
        announcement_message_id=meetup["announcement_message_id"],
        thread_id=meetup["thread_id"],
        scheduled_event_id=meetup["scheduled_event_id"],
        series_id=meetup["series_id"],
        repeat=repeat,
        created_by=meetup["created_by"],
        going=meetup["going_count"],
        maybe=counts.get("maybe", 0),
        not_going=counts.get("not_going", 0),
        waitlisted=counts.get("waitlisted", 0),
        agenda=tuple(agenda),
    )


def _check_open_for_rsvp(meetup: MeetupRef, now: datetime) -> None:
    if meetup.status is MeetupStatus.CANCELLED:
        raise Conflict(f"TechMeet #{meetup.number} was cancelled, so RSVPs are closed.")
    if meetup.starts_at <= now:
        raise Conflict(f"TechMeet #{meetup.number} has already started, so RSVPs are closed.")


# In /techmeet edit, this in a text field clears it; capacity 0 removes the limit.
CLEAR = "-"


def _checked_fields(
    draft: MeetupDraft, settings: GuildSettingsView, *, required: bool
) -> dict[str, Any]:
    """The draft's fields, validated; for an edit only the ones given."""

    def given(value: object) -> bool:
        return required or value is not None

    def text(value: str | None) -> str | None:
        return None if not required and value is not None and value.strip() == CLEAR else value

    fields: dict[str, Any] = {}
    if given(draft.title):
        fields["title"] = clean_text(draft.title, field="title", limit=TITLE_MAX, required=True)
    if given(draft.duration_minutes):
        fields["duration_minutes"] = check_duration(
            draft.duration_minutes if draft.duration_minutes is not None else DEFAULT_DURATION
        )
    if given(draft.venue):
        fields["venue"] = clean_text(text(draft.venue), field="venue", limit=VENUE_MAX)
    if given(draft.online_url):
        fields["online_url"] = check_url(text(draft.online_url))
    if given(draft.voice_channel_id):
        fields["voice_channel_id"] = draft.voice_channel_id
    if given(draft.region):
        fields["region"] = check_region(text(draft.region), region_choices(settings.regions))
    if given(draft.capacity):
        no_limit = not required and draft.capacity == 0
        fields["capacity"] = None if no_limit else check_capacity(draft.capacity)
    if given(draft.description):
        fields["description"] = clean_text(
            text(draft.description), field="description", limit=DESCRIPTION_MAX
        )
    return fields


def _until(draft: MeetupDraft, *, now: datetime, tz: ZoneInfo, starts_at: datetime) -> date | None:
    if not draft.until:
        return None
    until = parse_date(draft.until, now=now, tz=tz)
    if until < starts_at.astimezone(tz).date():
        raise BadInput("`until` must be on or after the first meetup's date.")
    return until


class MeetupPersonalData:
    """Privacy: RSVPs, feedback, reminder preferences, and who created meetups."""

    name = "techmeets"

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        rsvps = await session.execute(
            select(Rsvp, Meetup)
            .join(Meetup, Meetup.id == Rsvp.meetup_id)
            .where(Rsvp.user_id == user_id)
        )
        feedback = await session.execute(
            select(MeetupFeedback, Meetup)
            .join(Meetup, Meetup.id == MeetupFeedback.meetup_id)
            .where(MeetupFeedback.user_id == user_id)
        )
        preferences = await session.scalars(
            select(MemberPreference).where(MemberPreference.user_id == user_id)
        )
        created = await session.scalars(select(Meetup).where(Meetup.created_by == user_id))
        return (
            [
                {
                    "server_id": str(m.guild_id),
                    "techmeet": m.number,
                    "rsvp": r.status,
                    "at": r.updated_at.isoformat(),
                }
                for r, m in rsvps
            ]
            + [
                {
                    "server_id": str(m.guild_id),
                    "techmeet": m.number,
                    "rating": f.rating,
                    "action": f.action,
                }
                for f, m in feedback
            ]
            + [
                {"server_id": str(p.guild_id), "reminders_by_dm": p.dm_reminders}
                for p in preferences
            ]
            + [{"server_id": str(m.guild_id), "created_techmeet": m.number} for m in created]
        )

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        changed = 0
        going = list(
            await session.scalars(
                select(Rsvp.meetup_id).where(Rsvp.user_id == user_id, Rsvp.status == "going")
            )
        )
        for model in (Rsvp, MeetupFeedback, MemberPreference):
            result = await session.execute(delete(model).where(model.user_id == user_id))
            changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        # Places the member held go to the next people waiting for them.
        raw = await within(session)
        for meetup_id in going:
            await repo.raw_free_seat(raw, meetup_id)
            await repo.raw_promote(raw, meetup_id, now=self._clock())
        for creator in (Meetup.created_by, MeetupSeries.created_by):
            result = await session.execute(
                update(creator.class_).where(creator == user_id).values(created_by=None)
            )
            changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return changed
