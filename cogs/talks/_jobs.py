"""What the dispatcher does when a talk's job falls due: remind the speaker the day before,
tell the next one they're up, and move the on-stage timer on (30 seconds left, time's up)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from discord.utils import format_dt

from bot.domain.meetups import Lateness
from bot.scheduler import Job, Outcome
from bot.services.talks import TALK_END, TALK_REMINDER, TALK_UP_NEXT, TALK_WARNING, Timer
from cogs.talks._views import talk_line, tell_speaker, timer_content, timer_view

if TYPE_CHECKING:
    from bot.client import TechMeetBot


class TalkJobs:
    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot

    def register(self) -> None:
        dispatcher = self.bot.dispatcher
        dispatcher.register(TALK_REMINDER, self.reminder, what="A speaker's day-before reminder")
        dispatcher.register(TALK_UP_NEXT, self.up_next, what="Telling the next speaker")
        dispatcher.register(TALK_WARNING, self.warning, what="The talk timer's 30-second warning")
        dispatcher.register(TALK_END, self.end, what="The talk timer's time's-up edit")

    async def reminder(self, job: Job, now: datetime) -> Outcome:
        reminder = await self.bot.talks.speaker_reminder(job.subject_id)
        if reminder is None:
            return Outcome.skipped("the talk or its meetup is off")
        if reminder.lateness is Lateness.TOO_LATE:
            return Outcome.skipped(f"too late to be useful ({now:%d %b %H:%M} UTC)")
        talk = reminder.talk
        slot = (
            f"Talks are drawn live, so be ready from the start, {format_dt(reminder.slot_at, 'f')}"
            if reminder.drawn_live
            else f"Your planned slot is {format_dt(reminder.slot_at, 'f')} "
            f"({format_dt(reminder.slot_at, 'R')})"
        )
        await tell_speaker(
            self.bot,
            talk.guild_id,
            talk.speaker_id,
            f"Reminder: you're giving {talk_line(talk, by=False)} at TechMeet "
            f"#{reminder.meetup_number}. {slot}. Can't make it? `/talk withdraw` lets a reserve "
            "speaker in.",
            nonce=job.nonce,
        )
        return Outcome.done(f"reminded the speaker of Talk #{talk.number}")

    async def up_next(self, job: Job, now: datetime) -> Outcome:
        nxt = await self.bot.talks.up_next(job.subject_id)
        if nxt is None:
            return Outcome.skipped("the talk is no longer waiting")
        how = " (drawn just now)" if nxt.drawn_live else ""
        await tell_speaker(
            self.bot,
            nxt.talk.guild_id,
            nxt.talk.speaker_id,
            f"You're **up next**{how} at TechMeet #{nxt.meetup_number}: "
            f"{talk_line(nxt.talk, by=False)}. Get ready!",
            nonce=job.nonce,
        )
        return Outcome.done(f"told the speaker of Talk #{nxt.talk.number}")

    async def warning(self, job: Job, now: datetime) -> Outcome:
        timer = await self.bot.talks.timer(job.subject_id)
        if timer is None:
            return Outcome.skipped("the talk is no longer on stage")
        if now >= timer.ends_at:
            return Outcome.skipped("time is already up")
        return await self._edit(timer, "warning")

    async def end(self, job: Job, now: datetime) -> Outcome:
        timer = await self.bot.talks.time_up(job.subject_id)
        if timer is None:
            return Outcome.skipped("the talk is no longer on stage")
        return await self._edit(timer, "up")

    async def _edit(self, timer: Timer, state: str) -> Outcome:
        if timer.channel_id is None or timer.message_id is None:
            return Outcome.skipped("the timer message was never posted")
        message = self.bot.get_partial_messageable(timer.channel_id).get_partial_message(
            timer.message_id
        )
        # The Stop button stays while the talk runs; at time's up it goes.
        await message.edit(
            content=timer_content(timer, state),
            view=timer_view(timer.talk.id) if state == "warning" else None,
        )
        return Outcome.done(f"timer of Talk #{timer.talk.number}: {state}")
