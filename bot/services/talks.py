"""Use cases behind /talk: propose, the minutes budget and reserves, review, running order,
the night itself (next speaker, on-stage timer) and the archive."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.domain.meetups import Lateness, reminder_lateness
from bot.domain.members import Actor
from bot.domain.talks import (
    DEFAULT_BUDGET,
    DEFAULT_CHANGEOVER,
    DEFAULT_LEAD_LENGTH,
    DEFAULT_LENGTHS,
    DEFAULT_MAX_PER_MEMBER,
    SPEAKER_REMINDER,
    WARNING_BEFORE_END,
    Approval,
    OrderMode,
    Slot,
    TalkStatus,
    check_budget,
    check_changeover,
    check_length,
    check_max_per_member,
    check_slides,
    check_summary,
    check_title,
    draw,
    fair_order,
    move,
    parse_lengths,
    planned_slots,
    promotions,
)
from bot.domain.when import parse_when
from bot.errors import BadInput, Conflict, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupService
from db.engine import Sessions
from db.models import Meetup, Talk, TalkSettings
from db.repositories import guild_settings as settings_repo
from db.repositories import jobs as jobs_repo
from db.repositories import meetups as meetups_repo
from db.repositories._dialect import insert, is_postgres

TALK_REMINDER = "talk-reminder"
TALK_UP_NEXT = "talk-up-next"
TALK_WARNING = "talk-warning"
TALK_END = "talk-end"
TALK_JOBS = (TALK_REMINDER, TALK_UP_NEXT, TALK_WARNING, TALK_END)
# Talks still in the running: they count towards a member's limit.
LIVE = (TalkStatus.ACCEPTED.value, TalkStatus.PENDING.value, TalkStatus.RESERVE.value)


@dataclass(frozen=True)
class TalkView:
    id: int
    guild_id: int
    number: int
    meetup_id: int
    speaker_id: int | None
    title: str
    length: int
    summary: str | None
    slides_url: str | None
    status: TalkStatus
    on_stage_at: datetime | None
    reason: str | None  # why it was declined or removed


@dataclass(frozen=True)
class SettingsView:
    meetup_id: int
    meetup_number: int
    lengths: tuple[int, ...]
    budget: int
    deadline: datetime  # when proposals close: never after the meetup starts
    approval: Approval
    max_per_member: int
    changeover: int
    order_mode: OrderMode
    accepted_minutes: int


@dataclass(frozen=True)
class Changed:
    """A talk after a change, and reserve talks that got in because of it."""

    talk: TalkView
    meetup_number: int
    promoted: list[TalkView] = field(default_factory=list)
    reserve_rank: int | None = None  # 1 = first on the reserve list


@dataclass(frozen=True)
class Lineup:
    meetup_number: int
    starts_at: datetime
    timezone: str
    mode: OrderMode
    budget: int
    accepted_minutes: int
    talks: list[TalkView]  # accepted, in running order
    slots: dict[int, Slot]  # planned times by talk id; none in draw mode
    pending: list[TalkView] = field(default_factory=list)
    reserves: list[TalkView] = field(default_factory=list)


@dataclass(frozen=True)
class Timer:
    """A message in the talks channel counting a talk down."""

    talk: TalkView
    ends_at: datetime
    channel_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class OnStage:
    """What /talk next did: who is on now, whose timer stopped, who is up next."""

    meetup_number: int
    timer: Timer | None  # None: every talk has been on, and the last one has finished
    finished: Timer | None
    up_next: TalkView | None
    talks_left: int  # after this one


@dataclass(frozen=True)
class SpeakerReminder:
    talk: TalkView
    meetup_number: int
    slot_at: datetime  # the planned start, or the meetup's start in draw mode
    drawn_live: bool
    lateness: Lateness


@dataclass(frozen=True)
class UpNext:
    talk: TalkView
    meetup_number: int
    drawn_live: bool


class TalkService:
    def __init__(
        self,
        sessions: Sessions,
        settings: GuildSettingsService,
        meetups: MeetupService,
        *,
        clock: Clock = utcnow,
        jobs_changed: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._meetups = meetups
        self._clock = clock
        self._jobs_changed = jobs_changed
        # Shuffles and draws must not be predictable by members; tests pass a seeded one.
        self._rng = rng or random.SystemRandom()

    # --- settings ---------------------------------------------------------------------

    async def settings_for(self, guild_id: int, meetup_number: int) -> SettingsView:
        async with self._sessions() as session:
            meetup = await self._meetup(session, guild_id, meetup_number, allow_started=True)
            return _settings_view(meetup, await session.get(TalkSettings, meetup.id))

    async def update_settings(
        self,
        actor: Actor,
        meetup_number: int,
        *,
        lengths: str | None = None,
        budget: int | None = None,
        deadline: str | None = None,
        approval: Approval | None = None,
        max_per_member: int | None = None,
        changeover: int | None = None,
    ) -> tuple[SettingsView, list[TalkView]]:
        """Change a meetup's talk settings; a bigger budget lets reserves in."""
        guild = await self._meetups.require_organiser(actor)
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup = await self._meetup(session, actor.guild_id, meetup_number)
            row = await _settings_row(session, meetup, lock=True)
            if lengths is not None:
                row.lengths = list(parse_lengths(lengths))
            if budget is not None:
                row.budget = check_budget(budget, accepted_minutes=row.accepted_minutes)
            if deadline is not None:
                when = parse_when(deadline, now=now, tz=ZoneInfo(guild.timezone))
                if when > meetup.starts_at:
                    raise BadInput(
                        "Proposals must close before the TechMeet starts "
                        f"({_stamp(meetup.starts_at)}). Pick an earlier deadline."
                    )
                row.deadline = when
            if approval is not None:
                row.approval = approval.value
            if max_per_member is not None:
                row.max_per_member = check_max_per_member(max_per_member)
            if changeover is not None:
                row.changeover = check_changeover(changeover)
            await session.flush()
            promoted = await _promote(session, meetup, row, now=now)
            view = _settings_view(meetup, row)
        self._jobs_changed()
        return view, promoted

    # --- speakers ---------------------------------------------------------------------

    async def propose(
        self,
        actor: Actor,
        meetup_number: int,
        title: str,
        length: int,
        summary: str | None = None,
        slides_url: str | None = None,
    ) -> Changed:
        """Accepted (or pending review) while the budget has room, else on the reserve list
        in arrival order. Proposals to one meetup queue up, so the budget always holds."""
        title = check_title(title)
        summary, slides_url = check_summary(summary), check_slides(slides_url)
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup = await self._meetup(session, actor.guild_id, meetup_number)
            row = await _settings_row(session, meetup, lock=True)
            check_length(length, row.lengths)
            closes = _deadline(meetup, row)
            if now >= closes:
                raise Conflict(
                    f"Proposals for TechMeet #{meetup.number} closed {_stamp(closes)}. "
                    "Ask an organiser if there's still room on the night."
                )
            held = await session.scalar(
                select(func.count())
                .select_from(Talk)
                .where(
                    Talk.meetup_id == meetup.id,
                    Talk.speaker_id == actor.user_id,
                    Talk.status.in_(LIVE),
                )
            )
            if int(held or 0) >= row.max_per_member:
                raise Conflict(
                    f"You already have {held} talks for TechMeet #{meetup.number}, the most one "
                    "member may give. Withdraw one first (`/talk withdraw`)."
                )
            talk = Talk(
                guild_id=actor.guild_id,
                number=await settings_repo.next_number(session, actor.guild_id, "talk"),
                meetup_id=meetup.id,
                speaker_id=actor.user_id,
                title=title,
                length=length,
                summary=summary,
                slides_url=slides_url,
                status=TalkStatus.RESERVE.value,
                proposed_at=now,
            )
            session.add(talk)
            await session.flush()
            # Pending proposals hold no minutes: review mode asks only "does it fit now?".
            fits = row.budget - row.accepted_minutes >= length
            if fits and row.approval == Approval.REVIEW:
                talk.status = TalkStatus.PENDING.value
            elif fits and await _take_minutes(session, meetup.id, length):
                await _accept(session, meetup, talk, now=now)
            else:
                talk.reserve_position = await _next_reserve(session, meetup.id)
            await session.flush()
            changed = Changed(_view(talk), meetup.number, reserve_rank=await _rank(session, talk))
        self._jobs_changed()
        return changed

    async def withdraw(self, actor: Actor, number: int) -> Changed:
        """The speaker steps back; the freed minutes go to the first reserve that fits."""
        async with self._sessions.begin() as session:
            talk = await self._talk(session, actor.guild_id, number)
            if talk.speaker_id != actor.user_id:
                raise NotAllowed(
                    f"Talk #{number} isn't yours: only its speaker can withdraw it. "
                    "`/talk mine` lists your talks."
                )
            changed = await self._drop(session, talk, TalkStatus.WITHDRAWN)
        self._jobs_changed()
        return changed

    async def remove(self, actor: Actor, number: int, reason: str | None) -> Changed:
        """Organisers take an accepted, pending or reserve talk off the list."""
        await self._meetups.require_organiser(actor)
        async with self._sessions.begin() as session:
            talk = await self._talk(session, actor.guild_id, number)
            changed = await self._drop(session, talk, TalkStatus.REMOVED, reason=reason)
        self._jobs_changed()
        return changed

    async def edit(
        self,
        actor: Actor,
        number: int,
        *,
        title: str | None = None,
        summary: str | None = None,
        slides_url: str | None = None,
        length: int | None = None,
    ) -> Changed:
        """The speaker, before the deadline; a longer talk must still fit the budget, and
        a shorter one lets reserves in."""
        now = self._clock()
        async with self._sessions.begin() as session:
            talk = await self._talk(session, actor.guild_id, number)
            if talk.speaker_id != actor.user_id:
                raise NotAllowed(
                    f"Talk #{number} isn't yours: only its speaker can edit it. "
                    "`/talk mine` lists your talks."
                )
            meetup = await _meetup_of(session, talk)
            row = await _settings_row(session, meetup, lock=True)
            talk = await _reread(session, talk)  # as it is now that changes to it queue up
            if talk.status not in LIVE:
                raise Conflict(f"Talk #{number} was {talk.status}, so it can't change now.")
            if now >= _deadline(meetup, row):
                raise Conflict(
                    f"Proposals closed {_stamp(_deadline(meetup, row))}, so talks can't change "
                    "now. Ask an organiser."
                )
            new_title = check_title(title) if title is not None else talk.title
            new_summary = check_summary(summary) if summary is not None else talk.summary
            new_slides = check_slides(slides_url) if slides_url is not None else talk.slides_url
            promoted: list[TalkView] = []
            if length is not None and length != talk.length:
                check_length(length, row.lengths)
                grow = length - talk.length
                if talk.status == TalkStatus.ACCEPTED:
                    if grow > 0 and not await _take_minutes(session, meetup.id, grow):
                        free = row.budget - row.accepted_minutes
                        raise Conflict(
                            f"A {length}-minute talk doesn't fit: {free} more minutes are free "
                            "in the budget. Keep the length, or ask an organiser."
                        )
                    if grow < 0:
                        await _release_minutes(session, meetup.id, -grow)
                talk.length = length
                await session.flush()
                promoted = await _promote(session, meetup, row, now=now)
            talk.title, talk.summary, talk.slides_url = new_title, new_summary, new_slides
            await session.flush()
            changed = Changed(_view(talk), meetup.number, promoted, await _rank(session, talk))
        self._jobs_changed()
        return changed

    async def mine(self, guild_id: int, user_id: int) -> list[Changed]:
        """The member's talks still in the running, soonest meetup first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Talk, Meetup.number)
                .join(Meetup, Meetup.id == Talk.meetup_id)
                .where(
                    Talk.guild_id == guild_id,
                    Talk.speaker_id == user_id,
                    Talk.status.in_(LIVE),
                    Meetup.status == "scheduled",
                    Meetup.starts_at > self._clock() - timedelta(days=1),
                )
                .order_by(Meetup.starts_at, Talk.number)
            )
            return [
                Changed(_view(talk), number, reserve_rank=await _rank(session, talk))
                for talk, number in rows
            ]

    async def choices(self, guild_id: int, user_id: int) -> list[TalkView]:
        """For autocomplete: the member's own talks first, then everyone else's."""
        async with self._sessions() as session:
            talks = await session.scalars(
                select(Talk)
                .where(Talk.guild_id == guild_id, Talk.status.in_(LIVE))
                .order_by((Talk.speaker_id == user_id).desc(), Talk.number.desc())
                .limit(25)
            )
            return [_view(t) for t in talks]

    # --- organisers -------------------------------------------------------------------

    async def pending(
        self, actor: Actor, meetup_number: int
    ) -> tuple[SettingsView, list[TalkView]]:
        await self._meetups.require_organiser(actor)
        async with self._sessions() as session:
            meetup = await self._meetup(session, actor.guild_id, meetup_number, allow_started=True)
            talks = await session.scalars(
                select(Talk)
                .where(Talk.meetup_id == meetup.id, Talk.status == TalkStatus.PENDING)
                .order_by(Talk.proposed_at, Talk.id)
            )
            settings = _settings_view(meetup, await session.get(TalkSettings, meetup.id))
            return settings, [_view(t) for t in talks]

    async def accept(self, actor: Actor, talk_id: int) -> Changed:
        """Review mode: the talk takes its minutes now, if they are still free."""
        await self._meetups.require_organiser(actor)
        now = self._clock()
        async with self._sessions.begin() as session:
            talk = await self._pending(session, actor.guild_id, talk_id)
            meetup = await _meetup_of(session, talk)
            row = await _settings_row(session, meetup, lock=True)
            # Again under the lock: another organiser's accept or decline may have won.
            talk = await self._pending(session, actor.guild_id, talk_id)
            if not await _take_minutes(session, meetup.id, talk.length):
                free = row.budget - row.accepted_minutes
                raise Conflict(
                    f"Talk #{talk.number} ({talk.length} min) no longer fits: {free} minutes are "
                    "left in the budget. Raise the budget in `/talk settings`, or decline it."
                )
            await _accept(session, meetup, talk, now=now)
            changed = Changed(_view(talk), meetup.number)
        self._jobs_changed()
        return changed

    async def decline(self, actor: Actor, talk_id: int, reason: str | None) -> Changed:
        await self._meetups.require_organiser(actor)
        now = self._clock()
        async with self._sessions.begin() as session:
            talk = await self._pending(session, actor.guild_id, talk_id)
            meetup = await _meetup_of(session, talk)
            row = await _settings_row(session, meetup, lock=True)
            # Again under the lock: another organiser's accept or decline may have won.
            talk = await self._pending(session, actor.guild_id, talk_id)
            talk.status = TalkStatus.DECLINED.value
            talk.reason = _reason(reason)
            await session.flush()
            # A declined proposal makes room in the review queue for the next reserve.
            promoted = await _promote(session, meetup, row, now=now)
            changed = Changed(_view(talk), meetup.number, promoted)
        self._jobs_changed()
        return changed

    async def order(
        self,
        actor: Actor,
        meetup_number: int,
        mode: OrderMode,
        *,
        first_timers_first: bool = False,
        talk_number: int | None = None,
        position: int | None = None,
    ) -> Lineup:
        await self._meetups.require_organiser(actor)
        async with self._sessions.begin() as session:
            # On the night too: organisers may still shuffle who goes when.
            meetup = await self._meetup(session, actor.guild_id, meetup_number, allow_started=True)
            row = await _settings_row(session, meetup, lock=True)
            accepted = await _accepted(session, meetup.id)
            ids = [t.id for t in accepted]
            if mode is OrderMode.RANDOM:
                first = (
                    await self._first_timers(session, meetup, accepted)
                    if first_timers_first
                    else set()
                )
                ids = fair_order(ids, first_timers=first, rng=self._rng)
            elif mode is OrderMode.MANUAL:
                if talk_number is None or position is None:
                    raise BadInput("To move a talk, give both `talk` and `position`.")
                found = [t for t in accepted if t.number == talk_number]
                if not found:
                    raise BadInput(
                        f"Talk #{talk_number} isn't an accepted talk for TechMeet "
                        f"#{meetup.number}; only accepted talks have a place in the order."
                    )
                ids = move(ids, found[0].id, position)
            row.order_mode = mode.value
            by_id = {t.id: t for t in accepted}
            for place, talk_id in enumerate(ids, start=1):
                by_id[talk_id].order_position = place
            await session.flush()
            return await self._lineup(session, meetup, row)

    async def lineup(self, guild_id: int, meetup_number: int) -> Lineup:
        async with self._sessions() as session:
            meetup = await self._meetup(session, guild_id, meetup_number, allow_started=True)
            row = await session.get(TalkSettings, meetup.id)
            return await self._lineup(session, meetup, row)

    async def lineup_of(self, meetup_id: int) -> Lineup | None:
        """For /techmeet info: the meetup's talks, if it has any settings or proposals."""
        async with self._sessions() as session:
            meetup = await session.get(Meetup, meetup_id)
            if meetup is None:
                return None
            row = await session.get(TalkSettings, meetup.id)
            return None if row is None else await self._lineup(session, meetup, row)

    async def remove_after_leaving(self, guild_id: int, user_id: int) -> list[Changed]:
        """A member left the server: their talks for meetups still ahead are withdrawn, so
        reserves move up. One Changed per talk, with the reserves it let in."""
        now = self._clock()
        async with self._sessions.begin() as session:
            talks = await session.scalars(
                select(Talk)
                .join(Meetup, Meetup.id == Talk.meetup_id)
                .where(
                    Talk.guild_id == guild_id,
                    Talk.speaker_id == user_id,
                    Talk.status.in_(LIVE),
                    Meetup.starts_at > now,
                )
            )
            changes = [
                await self._drop(session, talk, TalkStatus.WITHDRAWN, reason="left the server")
                for talk in list(talks)
            ]
        self._jobs_changed()
        return changes

    async def meetup_moved(self, meetup_id: int, starts_at: datetime) -> None:
        """Speaker reminders follow the meetup's new start."""
        now = self._clock()
        due = starts_at - SPEAKER_REMINDER
        async with self._sessions.begin() as session:
            meetup = await session.get(Meetup, meetup_id)
            if meetup is None:
                return
            talk_ids = await session.scalars(
                select(Talk.id).where(
                    Talk.meetup_id == meetup_id, Talk.status == TalkStatus.ACCEPTED
                )
            )
            for talk_id in list(talk_ids):
                jobs = await jobs_repo.for_subject(session, [TALK_REMINDER], talk_id)
                if not jobs:
                    if due > now:
                        await jobs_repo.schedule(
                            session,
                            guild_id=meetup.guild_id,
                            kind=TALK_REMINDER,
                            subject_id=talk_id,
                            due_at=due,
                        )
                    continue
                job = jobs[-1]
                # Pending: follow the new start. Sent already: again only if the meetup
                # moved to a later day (the speaker must hear the new slot).
                if job.state == jobs_repo.PENDING or (due > now and job.due_at != due):
                    await jobs_repo.rearm(session, job, due)
        self._jobs_changed()

    # --- the night --------------------------------------------------------------------

    async def next_speaker(self, actor: Actor, meetup_number: int) -> OnStage:
        """The next talk goes on stage (drawn now in draw mode, with the one after it drawn
        privately so they can get ready); the talk before it finishes."""
        await self._meetups.require_organiser(actor)
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup = await self._meetup(session, actor.guild_id, meetup_number, allow_started=True)
            row = await _settings_row(session, meetup, lock=True)
            finished = await _finish_current(session, row, now=now)
            accepted = await _accepted(session, meetup.id)
            waiting = [t for t in accepted if t.on_stage_at is None]
            if not waiting:
                if finished is None:
                    raise Conflict(
                        f"Every accepted talk for TechMeet #{meetup.number} has been on stage."
                        " That's the lot! `/talk archive` shares the slides afterwards."
                    )
                return OnStage(meetup.number, None, finished, None, 0)
            if row.order_mode == OrderMode.DRAW:
                ids = [t.id for t in waiting]
                # Whoever was told they're up next is on now; otherwise draw.
                chosen = row.up_next_id if row.up_next_id in ids else draw(ids, self._rng)
                talk = next(t for t in waiting if t.id == chosen)
                rest = [t for t in waiting if t.id != talk.id]
                following = draw([t.id for t in rest], self._rng)
                nxt = next((t for t in rest if t.id == following), None)
                talk.order_position = len(accepted) - len(waiting) + 1
            else:
                talk, *rest = waiting
                nxt = rest[0] if rest else None
            row.up_next_id = nxt.id if nxt else None
            talk.on_stage_at = now
            row.on_stage_id = talk.id
            row.timer_channel_id = row.timer_message_id = None
            ends_at = now + timedelta(minutes=talk.length)
            warn_at = max(ends_at - WARNING_BEFORE_END, now)
            for kind, due in ((TALK_WARNING, warn_at), (TALK_END, ends_at)):
                await jobs_repo.schedule(
                    session, guild_id=talk.guild_id, kind=kind, subject_id=talk.id, due_at=due
                )
            if nxt is not None:
                await jobs_repo.schedule(
                    session, guild_id=nxt.guild_id, kind=TALK_UP_NEXT, subject_id=nxt.id, due_at=now
                )
            on_stage = OnStage(
                meetup.number,
                Timer(_view(talk), ends_at, None, None),
                finished,
                _view(nxt) if nxt else None,
                len(rest),
            )
        self._jobs_changed()
        return on_stage

    async def attach_timer(self, talk_id: int, channel_id: int, message_id: int) -> bool:
        """Record the timer's message; False if the talk already left the stage."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(TalkSettings)
                .where(TalkSettings.on_stage_id == talk_id)
                .values(timer_channel_id=channel_id, timer_message_id=message_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def stop(self, actor: Actor, talk_id: int) -> Timer | None:
        """The Stop button: organisers or the speaker. None if this timer already ended."""
        settings = await self._settings.get(actor.guild_id)
        async with self._sessions.begin() as session:
            talk = await session.get(Talk, talk_id)
            if talk is None or talk.guild_id != actor.guild_id:
                raise NotFound("That talk no longer exists.")
            if talk.speaker_id != actor.user_id and not actor.is_organiser(
                settings.organiser_role_id
            ):
                raise NotAllowed("Only organisers or the speaker can stop this timer.")
            row = await session.get(
                TalkSettings, talk.meetup_id, with_for_update=is_postgres(session)
            )
            if row is None or row.on_stage_id != talk.id:
                return None
            finished = await _finish_current(session, row, now=self._clock())
        self._jobs_changed()
        return finished

    async def timer(self, talk_id: int) -> Timer | None:
        """The talk's timer while it is on stage (for the 30-seconds-left job)."""
        async with self._sessions() as session:
            talk = await session.get(Talk, talk_id)
            row = await session.get(TalkSettings, talk.meetup_id) if talk else None
            if talk is None or row is None or row.on_stage_id != talk.id:
                return None
            return _timer(talk, row)

    async def time_up(self, talk_id: int) -> Timer | None:
        """The talk's time ran out: its timer ends (the organiser calls the next one).

        Asked again, as when the job is retried because its edit failed, it returns the
        same timer: the timer's message stays recorded until the next talk goes on stage.
        """
        async with self._sessions.begin() as session:
            talk = await session.get(Talk, talk_id)
            row = (
                await session.get(
                    TalkSettings, talk.meetup_id, with_for_update=is_postgres(session)
                )
                if talk
                else None
            )
            if talk is None or row is None:
                return None
            if row.on_stage_id == talk.id:
                timer = _timer(talk, row)
                row.on_stage_id = None
                return timer
            if (
                row.on_stage_id is None
                and row.timer_message_id is not None
                and await _last_on_stage(session, talk.meetup_id) == talk.id
            ):
                return _timer(talk, row)
            return None

    async def archive(self, actor: Actor, meetup_number: int) -> tuple[int, list[TalkView]]:
        """After the meetup: the talks given, in running order, with their slides."""
        await self._meetups.require_organiser(actor)
        async with self._sessions() as session:
            meetup = await self._meetup(session, actor.guild_id, meetup_number, allow_started=True)
            if meetup.starts_at > self._clock():
                raise Conflict(
                    f"TechMeet #{meetup_number} hasn't happened yet ({_stamp(meetup.starts_at)}). "
                    "Post the archive after it."
                )
            talks = await _accepted(session, meetup.id)
            # Talks that went on stage first, in the order given; then the rest as planned.
            talks.sort(key=lambda t: (t.on_stage_at is None, t.on_stage_at or meetup.starts_at))
            return meetup.number, [_view(t) for t in talks]

    # --- jobs -------------------------------------------------------------------------

    async def speaker_reminder(self, talk_id: int) -> SpeakerReminder | None:
        """The day-before note to an accepted speaker; None if the talk is no longer on."""
        now = self._clock()
        async with self._sessions() as session:
            talk = await session.get(Talk, talk_id)
            if talk is None or talk.status != TalkStatus.ACCEPTED:
                return None
            meetup = await _meetup_of(session, talk)
            if meetup.status != "scheduled":
                return None
            lineup = await self._lineup(session, meetup, await session.get(TalkSettings, meetup.id))
        slot = lineup.slots.get(talk.id)
        drawn = lineup.mode is OrderMode.DRAW
        lateness = reminder_lateness(
            due_at=meetup.starts_at - SPEAKER_REMINDER,
            starts_at=meetup.starts_at,
            offset_minutes=int(SPEAKER_REMINDER.total_seconds() // 60),
            now=now,
        )
        slot_at = meetup.starts_at if drawn or slot is None else slot.starts_at
        return SpeakerReminder(_view(talk), meetup.number, slot_at, drawn, lateness)

    async def up_next(self, talk_id: int) -> UpNext | None:
        """'You're up next', if the talk is still waiting for its turn."""
        async with self._sessions() as session:
            talk = await session.get(Talk, talk_id)
            if talk is None or talk.status != TalkStatus.ACCEPTED or talk.on_stage_at:
                return None
            meetup = await _meetup_of(session, talk)
            row = await session.get(TalkSettings, meetup.id)
            drawn = row is not None and row.order_mode == OrderMode.DRAW
            return UpNext(_view(talk), meetup.number, drawn)

    async def allowed_lengths(
        self, guild_id: int, *, meetup_number: int | None, talk_number: int | None
    ) -> tuple[int, ...]:
        """For autocomplete: the lengths the meetup (or the talk's meetup) allows."""
        async with self._sessions() as session:
            meetup_id = None
            if meetup_number is not None:
                meetup = await meetups_repo.by_number(session, guild_id, meetup_number)
                meetup_id = meetup.id if meetup else None
            elif talk_number is not None:
                talk = await session.scalar(
                    select(Talk).where(Talk.guild_id == guild_id, Talk.number == talk_number)
                )
                meetup_id = talk.meetup_id if talk else None
            row = await session.get(TalkSettings, meetup_id) if meetup_id else None
            return tuple(row.lengths) if row else DEFAULT_LENGTHS

    async def talk(self, guild_id: int, number: int) -> TalkView:
        async with self._sessions() as session:
            return _view(await self._talk(session, guild_id, number))

    async def propose_for_topic(self, actor: Actor, title: str, meetup_id: int) -> Changed:
        """'I'll lead this' on a chosen topic becomes a talk proposal (length editable)."""
        async with self._sessions() as session:
            meetup = await session.get(Meetup, meetup_id)
            row = await session.get(TalkSettings, meetup_id)
        if meetup is None:
            raise NotFound("That TechMeet no longer exists.")
        lengths = row.lengths if row else list(DEFAULT_LENGTHS)
        length = DEFAULT_LEAD_LENGTH if DEFAULT_LEAD_LENGTH in lengths else lengths[0]
        return await self.propose(actor, meetup.number, title, length)

    # --- helpers ----------------------------------------------------------------------

    async def _meetup(
        self, session: AsyncSession, guild_id: int, number: int, *, allow_started: bool = False
    ) -> Meetup:
        meetup = await meetups_repo.by_number(session, guild_id, number)
        if meetup is None:
            raise NotFound(f"There is no TechMeet #{number} here. `/techmeet list` shows them.")
        if meetup.status != "scheduled":
            raise Conflict(f"TechMeet #{number} was cancelled.")
        if not allow_started and meetup.starts_at <= self._clock():
            raise Conflict(f"TechMeet #{number} has already started.")
        return meetup

    async def _drop(
        self, session: AsyncSession, talk: Talk, status: TalkStatus, *, reason: str | None = None
    ) -> Changed:
        """The talk leaves the list; minutes it held go to reserves that fit."""
        now = self._clock()
        meetup = await _meetup_of(session, talk)
        row = await _settings_row(session, meetup, lock=True)
        # Read it again under the lock: a racing withdraw or remove (a double click) may
        # have dropped it meanwhile, and its minutes must come back only once.
        talk = await _reread(session, talk)
        if talk.status not in LIVE:
            raise Conflict(f"Talk #{talk.number} was already {talk.status}.")
        held = talk.status == TalkStatus.ACCEPTED
        talk.status, talk.reserve_position, talk.reason = status.value, None, _reason(reason)
        await jobs_repo.cancel_pending(
            session, TALK_JOBS, talk.id, now=now, why=f"the talk was {status.value}"
        )
        if row.on_stage_id == talk.id:
            row.on_stage_id = row.timer_channel_id = row.timer_message_id = None
        if held:
            await _release_minutes(session, meetup.id, talk.length)
        await session.flush()
        promoted = await _promote(session, meetup, row, now=now)
        return Changed(_view(talk), meetup.number, promoted)

    async def _first_timers(
        self, session: AsyncSession, meetup: Meetup, talks: Sequence[Talk]
    ) -> set[int]:
        """Talks by members who have not spoken at an earlier meetup of this server."""
        before = min(meetup.starts_at, self._clock())
        spoke = set(
            await session.scalars(
                select(Talk.speaker_id)
                .join(Meetup, Meetup.id == Talk.meetup_id)
                .where(
                    Talk.guild_id == meetup.guild_id,
                    Talk.status == TalkStatus.ACCEPTED,
                    Meetup.status == "scheduled",
                    Meetup.starts_at < before,
                )
            )
        )
        return {t.id for t in talks if t.speaker_id not in spoke}

    async def _lineup(
        self, session: AsyncSession, meetup: Meetup, row: TalkSettings | None
    ) -> Lineup:
        settings = _settings_view(meetup, row)
        accepted = await _accepted(session, meetup.id)
        waiting = list(
            await session.scalars(
                select(Talk)
                .where(
                    Talk.meetup_id == meetup.id,
                    Talk.status.in_([TalkStatus.PENDING.value, TalkStatus.RESERVE.value]),
                )
                .order_by(Talk.reserve_position, Talk.proposed_at, Talk.id)
            )
        )
        slots = {}
        if settings.order_mode is not OrderMode.DRAW:
            planned = planned_slots(
                meetup.starts_at,
                [(t.id, t.length) for t in accepted],
                changeover=settings.changeover,
            )
            slots = {slot.talk_id: slot for slot in planned}
        guild = await self._settings.get(meetup.guild_id)
        return Lineup(
            meetup_number=meetup.number,
            starts_at=meetup.starts_at,
            timezone=guild.timezone,
            mode=settings.order_mode,
            budget=settings.budget,
            accepted_minutes=settings.accepted_minutes,
            talks=[_view(t) for t in accepted],
            slots=slots,
            pending=[_view(t) for t in waiting if t.status == TalkStatus.PENDING],
            reserves=[_view(t) for t in waiting if t.status == TalkStatus.RESERVE],
        )

    async def _talk(self, session: AsyncSession, guild_id: int, number: int) -> Talk:
        talk = await session.scalar(
            select(Talk).where(Talk.guild_id == guild_id, Talk.number == number)
        )
        if talk is None:
            raise NotFound(f"There is no Talk #{number} here. `/talk mine` lists your talks.")
        return talk

    async def _pending(self, session: AsyncSession, guild_id: int, talk_id: int) -> Talk:
        talk = await session.get(Talk, talk_id, populate_existing=True)
        if talk is None or talk.guild_id != guild_id:
            raise NotFound("That talk no longer exists.")
        if talk.status != TalkStatus.PENDING:
            raise Conflict(f"Talk #{talk.number} is already {talk.status}.")
        return talk


# --- the budget, shared with privacy erasure ---------------------------------------------


async def _settings_row(
    session: AsyncSession, meetup: Meetup, *, lock: bool = False
) -> TalkSettings:
    """The meetup's settings, created with the defaults on first use. `lock` queues changes
    to one meetup's talks behind each other on PostgreSQL (SQLite's writer lock does too)."""
    await session.execute(
        insert(session)(TalkSettings)
        .values(
            meetup_id=meetup.id,
            guild_id=meetup.guild_id,
            lengths=list(DEFAULT_LENGTHS),
            budget=DEFAULT_BUDGET,
            approval=Approval.AUTO.value,
            max_per_member=DEFAULT_MAX_PER_MEMBER,
            changeover=DEFAULT_CHANGEOVER,
            order_mode=OrderMode.PROPOSED.value,
            accepted_minutes=0,
            reserve_counter=0,
        )
        .on_conflict_do_nothing()
    )
    row = await session.get(
        TalkSettings,
        meetup.id,
        populate_existing=True,
        with_for_update=lock and is_postgres(session),
    )
    assert row is not None
    return row


async def _take_minutes(session: AsyncSession, meetup_id: int, minutes: int) -> bool:
    """Minutes of the budget for an accepted talk, if they are free: the database decides,
    in one conditional UPDATE, so the accepted total can never pass the budget."""
    result = await session.execute(
        update(TalkSettings)
        .where(
            TalkSettings.meetup_id == meetup_id,
            TalkSettings.accepted_minutes + minutes <= TalkSettings.budget,
        )
        .values(accepted_minutes=TalkSettings.accepted_minutes + minutes)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _release_minutes(session: AsyncSession, meetup_id: int, minutes: int) -> None:
    await session.execute(
        update(TalkSettings)
        .where(TalkSettings.meetup_id == meetup_id)
        .values(accepted_minutes=TalkSettings.accepted_minutes - minutes)
    )


async def _next_reserve(session: AsyncSession, meetup_id: int) -> int:
    value = await session.scalar(
        update(TalkSettings)
        .where(TalkSettings.meetup_id == meetup_id)
        .values(reserve_counter=TalkSettings.reserve_counter + 1)
        .returning(TalkSettings.reserve_counter)
    )
    return int(value)  # type: ignore[arg-type]


async def _accept(session: AsyncSession, meetup: Meetup, talk: Talk, *, now: datetime) -> None:
    """The talk holds its minutes now: last in the running order, its reminder planned."""
    talk.status = TalkStatus.ACCEPTED.value
    talk.reserve_position = None
    last = await session.scalar(
        select(func.max(Talk.order_position)).where(Talk.meetup_id == meetup.id)
    )
    talk.order_position = int(last or 0) + 1
    due = meetup.starts_at - SPEAKER_REMINDER
    if due > now:
        await jobs_repo.schedule(
            session, guild_id=talk.guild_id, kind=TALK_REMINDER, subject_id=talk.id, due_at=due
        )


async def _promote(
    session: AsyncSession, meetup: Meetup, row: TalkSettings, *, now: datetime
) -> list[TalkView]:
    """Reserves that now fit, first in reserve order that fits. In review mode they become
    pending, and the pending queue counts against the room so it can't outgrow the budget."""
    if meetup.starts_at <= now:
        return []  # the night has begun: the running order is what it is
    await session.refresh(row)
    talks = list(
        await session.scalars(
            select(Talk)
            .where(
                Talk.meetup_id == meetup.id,
                Talk.status.in_([TalkStatus.RESERVE.value, TalkStatus.PENDING.value]),
            )
            .order_by(Talk.reserve_position, Talk.id)
        )
    )
    reserves = [t for t in talks if t.status == TalkStatus.RESERVE]
    free = row.budget - row.accepted_minutes
    if row.approval == Approval.REVIEW:
        free -= sum(t.length for t in talks if t.status == TalkStatus.PENDING)
    by_id = {t.id: t for t in reserves}
    moved = []
    for talk_id in promotions(free, [(t.id, t.length) for t in reserves]):
        talk = by_id[talk_id]
        if row.approval == Approval.REVIEW:
            talk.status, talk.reserve_position = TalkStatus.PENDING.value, None
        elif await _take_minutes(session, meetup.id, talk.length):
            await _accept(session, meetup, talk, now=now)
        moved.append(_view(talk))
    await session.flush()
    return moved


async def _finish_current(
    session: AsyncSession, row: TalkSettings, *, now: datetime
) -> Timer | None:
    """The talk on stage leaves it: its timer's pending edits are called off."""
    if row.on_stage_id is None:
        return None
    current = await session.get(Talk, row.on_stage_id)
    timer = _timer(current, row) if current else None
    row.on_stage_id = row.timer_channel_id = row.timer_message_id = None
    if current is not None:
        await jobs_repo.cancel_pending(
            session, (TALK_WARNING, TALK_END), current.id, now=now, why="the talk finished"
        )
    return timer


async def _last_on_stage(session: AsyncSession, meetup_id: int) -> int | None:
    """The talk that went on stage most recently (its timer is the one recorded)."""
    return await session.scalar(
        select(Talk.id)
        .where(Talk.meetup_id == meetup_id, Talk.on_stage_at.is_not(None))
        .order_by(Talk.on_stage_at.desc(), Talk.id.desc())
        .limit(1)
    )


async def _accepted(session: AsyncSession, meetup_id: int) -> list[Talk]:
    """Accepted talks in running order."""
    result = await session.scalars(
        select(Talk)
        .where(Talk.meetup_id == meetup_id, Talk.status == TalkStatus.ACCEPTED)
        .order_by(Talk.order_position, Talk.id)
    )
    return list(result)


async def _meetup_of(session: AsyncSession, talk: Talk) -> Meetup:
    meetup = await session.get(Meetup, talk.meetup_id)
    assert meetup is not None  # talks are deleted with their meetup
    return meetup


async def _reread(session: AsyncSession, talk: Talk) -> Talk:
    """The talk as committed now (call it holding the meetup's settings lock)."""
    fresh = await session.get(Talk, talk.id, populate_existing=True)
    if fresh is None:
        raise NotFound(f"Talk #{talk.number} no longer exists.")
    return fresh


async def _rank(session: AsyncSession, talk: Talk) -> int | None:
    """The talk's place on the reserve list (1 = next in), or None if not a reserve."""
    if talk.status != TalkStatus.RESERVE or talk.reserve_position is None:
        return None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Talk)
        .where(
            Talk.meetup_id == talk.meetup_id,
            Talk.status == TalkStatus.RESERVE,
            Talk.reserve_position < talk.reserve_position,
        )
    )
    return int(ahead or 0) + 1


def _deadline(meetup: Meetup, row: TalkSettings | None) -> datetime:
    """Proposals close at the deadline, and never after the meetup starts (it may move)."""
    if row is None or row.deadline is None:
        return meetup.starts_at
    return min(row.deadline, meetup.starts_at)


def _reason(text: str | None) -> str | None:
    return " ".join((text or "").split())[:300] or None


def _stamp(when: datetime) -> str:
    return f"<t:{int(when.timestamp())}:f>"


def _timer(talk: Talk, row: TalkSettings) -> Timer:
    started = talk.on_stage_at
    assert started is not None  # only talks on stage have a timer
    return Timer(
        _view(talk),
        started + timedelta(minutes=talk.length),
        row.timer_channel_id,
        row.timer_message_id,
    )


def _view(talk: Talk) -> TalkView:
    return TalkView(
        id=talk.id,
        guild_id=talk.guild_id,
        number=talk.number,
        meetup_id=talk.meetup_id,
        speaker_id=talk.speaker_id,
        title=talk.title,
        length=talk.length,
        summary=talk.summary,
        slides_url=talk.slides_url,
        status=TalkStatus(talk.status),
        on_stage_at=talk.on_stage_at,
        reason=talk.reason,
    )


def _settings_view(meetup: Meetup, row: TalkSettings | None) -> SettingsView:
    return SettingsView(
        meetup_id=meetup.id,
        meetup_number=meetup.number,
        lengths=tuple(row.lengths) if row else DEFAULT_LENGTHS,
        budget=row.budget if row else DEFAULT_BUDGET,
        deadline=_deadline(meetup, row),
        approval=Approval(row.approval) if row else Approval.AUTO,
        max_per_member=row.max_per_member if row else DEFAULT_MAX_PER_MEMBER,
        changeover=row.changeover if row else DEFAULT_CHANGEOVER,
        order_mode=OrderMode(row.order_mode) if row else OrderMode.PROPOSED,
        accepted_minutes=row.accepted_minutes if row else 0,
    )


class TalkPersonalData:
    """Privacy: the member's talks. Erasing them gives their minutes to reserves."""

    name = "talks"

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        talks = await session.execute(
            select(Talk, Meetup.number)
            .join(Meetup, Meetup.id == Talk.meetup_id)
            .where(Talk.speaker_id == user_id)
            .order_by(Talk.guild_id, Talk.number)
        )
        return [
            {
                "server_id": str(t.guild_id),
                "talk": t.number,
                "techmeet": number,
                "title": t.title,
                "length_minutes": t.length,
                "summary": t.summary,
                "slides": t.slides_url,
                "status": t.status,
                "reason": t.reason,
                "proposed_at": t.proposed_at.isoformat(),
            }
            for t, number in talks
        ]

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        now = self._clock()
        if is_postgres(session):
            # Queue with other changes to these meetups' talks (as _settings_row does), so
            # a talk withdrawn at this very moment has its minutes released only once.
            await session.execute(
                select(TalkSettings.meetup_id)
                .where(
                    TalkSettings.meetup_id.in_(
                        select(Talk.meetup_id).where(Talk.speaker_id == user_id)
                    )
                )
                .order_by(TalkSettings.meetup_id)
                .with_for_update()
            )
        talks = list(await session.scalars(select(Talk).where(Talk.speaker_id == user_id)))
        freed: set[int] = set()
        for talk in talks:
            await jobs_repo.cancel_open(session, TALK_JOBS, talk.id, now=now, why="erased")
            if talk.status == TalkStatus.ACCEPTED:
                await _release_minutes(session, talk.meetup_id, talk.length)
                freed.add(talk.meetup_id)
            await session.execute(
                update(TalkSettings)
                .where(TalkSettings.on_stage_id == talk.id)
                .values(on_stage_id=None, timer_channel_id=None, timer_message_id=None)
            )
        if talks:
            await session.execute(delete(Talk).where(Talk.speaker_id == user_id))
        for meetup_id in freed:
            meetup = await session.get(Meetup, meetup_id)
            row = await session.get(TalkSettings, meetup_id)
            if meetup is not None and row is not None:
                await _promote(session, meetup, row, now=now)
        return len(talks)
