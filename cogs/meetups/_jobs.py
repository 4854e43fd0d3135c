"""What the dispatcher does when a meetup's job falls due: remind, repeat, follow up."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord.utils import format_dt

from bot.domain.guild_settings import ChannelPurpose, format_offset
from bot.domain.meetups import Lateness, follow_up_too_late
from bot.scheduler import Job, Outcome
from bot.services.meetups import FOLLOW_UP, REMINDER, SERIES_NEXT, Reminder
from cogs._ui import cut, ping_only
from cogs.meetups import _embeds
from cogs.meetups._feedback import feedback_view

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs.meetups._cog import MeetupsCog

log = logging.getLogger(__name__)

# A failure report lists this many jobs by name (the message must fit Discord's 2,000
# characters), then how many more.
REPORT_LISTED = 10
WHY_LENGTH = 120


def _why(why: str) -> str:
    return discord.utils.escape_markdown(cut(why, WHY_LENGTH))


class MeetupJobs:
    def __init__(self, bot: TechMeetBot, cog: MeetupsCog) -> None:
        self.bot = bot
        self.cog = cog
        self._background: set[asyncio.Task[None]] = set()

    def register(self) -> None:
        dispatcher = self.bot.dispatcher
        dispatcher.register(REMINDER, self.reminder)
        dispatcher.register(SERIES_NEXT, self.series_next)
        dispatcher.register(FOLLOW_UP, self.follow_up)
        dispatcher.on_failure(self.report_failures)

    async def reminder(self, job: Job, now: datetime) -> Outcome:
        reminder = await self.bot.meetups.reminder(job.subject_id, job.detail or 0)
        if reminder is None:
            return Outcome.skipped("the meetup was cancelled")
        if reminder.lateness is Lateness.TOO_LATE:
            return Outcome.skipped(
                f"too late to be useful when the bot got to it ({now:%d %b %H:%M} UTC)"
            )
        meetup = reminder.meetup
        if meetup.announcement_channel_id is None:
            return Outcome.failed("the meetup has no announcements channel")
        content, embed = _embeds.reminder(reminder)
        ping = reminder.ping_role_id
        reference = (
            discord.MessageReference(
                message_id=meetup.announcement_message_id,
                channel_id=meetup.announcement_channel_id,
                fail_if_not_exists=False,
            )
            if meetup.announcement_message_id
            else None
        )
        message = await self.bot.get_partial_messageable(meetup.announcement_channel_id).send(
            content=(f"<@&{ping}> " if ping else "") + content,
            embed=embed,
            allowed_mentions=ping_only(ping),
            reference=reference,  # type: ignore[arg-type]
            mention_author=False,
            nonce=job.nonce,
        )
        if reminder.dm_user_ids:
            # Best effort and in the background: the channel post is the reminder that
            # counts, and a long DM fan-out must not hold the job's claim.
            task = asyncio.create_task(self._dm_reminder(reminder, content, embed, job.nonce))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return Outcome.done(str(message.id))

    async def _dm_reminder(
        self, reminder: Reminder, content: str, embed: discord.Embed, nonce: str
    ) -> None:
        for user_id in reminder.dm_user_ids:
            try:
                dm = await self.bot.create_dm(discord.Object(user_id))
                # The job's nonce: a retried reminder does not DM anyone twice.
                await dm.send(content, embed=embed, nonce=nonce)
            except discord.HTTPException as error:
                # Closed DMs, a deleted account...: the channel reminder still reached them.
                log.info("no reminder DM for %s: %s", user_id, error)

    async def series_next(self, job: Job, now: datetime) -> Outcome:
        """State change, so it runs however late: the series' next meetup must exist."""
        nxt = await self.bot.meetups.create_next_occurrence(job.subject_id)
        if nxt is None:
            return Outcome.done("the series has ended or was stopped")
        if nxt.announcement_message_id is None:
            message = await self.cog.announce(nxt, nonce=job.nonce)
            # Before the gateway has delivered the guild (a job run at start-up), the
            # event is mirrored when the guild becomes available (MeetupsCog).
            guild = self.bot.get_guild(nxt.guild_id)
            await self.cog.mirror_event(guild, nxt)
            return Outcome.done(f"TechMeet #{nxt.number} announced: {message.id}")
        return Outcome.done(f"TechMeet #{nxt.number} already announced")

    async def follow_up(self, job: Job, now: datetime) -> Outcome:
        meetup = await self.bot.meetups.get(job.subject_id)
        if meetup is None or meetup.cancelled:
            return Outcome.skipped("the meetup was cancelled")
        if follow_up_too_late(ends_at=meetup.ends_at, now=now):
            return Outcome.skipped("too late to ask: the bot was offline when the meetup ended")
        where = meetup.thread_id or meetup.announcement_channel_id
        if where is None:
            return Outcome.failed("the meetup has no thread or announcements channel")
        message = await self.bot.get_partial_messageable(where).send(
            f"**TechMeet #{meetup.number}** has finished ({format_dt(meetup.ends_at, 'R')}). "
            "Thanks for coming! Two quick questions help the organisers: was it worth your "
            "time, and what's one thing you'll do after tonight?",
            view=feedback_view(meetup.id),
            nonce=job.nonce,
        )
        return Outcome.done(str(message.id))

    async def report_failures(self, guild_id: int, failures: list[tuple[Job, str]]) -> None:
        """Jobs failed for good: organisers hear it in their channel (and /techmeet info),
        in one message for those that failed together."""
        settings = await self.bot.guild_settings.get(guild_id)
        channel_id = settings.channel(ChannelPurpose.ORGANISERS)
        if channel_id is None:
            for job, why in failures:
                log.warning("job %s failed and there is no organisers channel: %s", job.id, why)
            return
        advice = (
            "Check the bot's permissions with `/setup channel`; `/techmeet info` shows the state."
        )
        if len(failures) == 1:
            [(job, why)] = failures
            text = f"{await self._what(job)} could not be done: {_why(why)}. {advice}"
        else:
            shown = failures[:REPORT_LISTED]
            lines = [f"- {await self._what(job)} ({_why(why)})" for job, why in shown]
            if len(failures) > len(shown):
                lines.append(f"- …and {len(failures) - len(shown)} more")
            text = f"{len(failures)} scheduled posts could not be done:\n" + "\n".join(lines)
            text += f"\n{advice}"
        await self.bot.get_partial_messageable(channel_id).send(
            text, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _what(self, job: Job) -> str:
        """The job in organisers' words, e.g. "The 1h reminder for TechMeet #3"."""
        meetup_jobs = (REMINDER, SERIES_NEXT, FOLLOW_UP)
        # Other features' jobs are about their own things (a poll, a talk), not a meetup.
        meetup = await self.bot.meetups.get(job.subject_id) if job.kind in meetup_jobs else None
        name = f"TechMeet #{meetup.number}" if meetup else "a TechMeet"
        return {
            REMINDER: f"The {format_offset(job.detail or 0)} reminder for {name}",
            SERIES_NEXT: f"Creating the next meetup after {name}",
            FOLLOW_UP: f"The follow-up post for {name}",
        }.get(job.kind) or self.bot.dispatcher.what(job.kind)
