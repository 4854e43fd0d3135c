"""/topic: members suggest what to talk about and dot-vote; the winners become the agenda."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.topics import DEFAULT_AGENDA_SIZE, DEFAULT_VOTES, Results
from bot.errors import BadInput
from bot.scheduler import Job, Outcome
from bot.services.topics import Outcome as PollOutcome
from bot.services.topics import Suggested, TopicView
from cogs._ui import actor, cut, handle_error, inert, message_nonce, reply, take_quota
from cogs.meetups._cog import MeetupNumber, MeetupsCog
from cogs.meetups._views import refresh_announcement
from cogs.topics._views import (
    BackButton,
    poll_embed,
    poll_view,
    refresh_poll,
    results_message,
    topic_line,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

TopicNumber = app_commands.Range[int, 1]
PAGE = 10


class TopicsCog(commands.Cog):
    topic = app_commands.Group(
        name="topic",
        description="Suggest what to talk about, and vote on the agenda.",
        guild_only=True,
    )

    def __init__(self, bot: TechMeetBot, meetups: MeetupsCog) -> None:
        self.bot = bot
        self.meetups = meetups

    # --- autocomplete ---------------------------------------------------------------------

    async def topic_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        needle = current.strip().lstrip("#").casefold()
        return [
            app_commands.Choice(name=cut(f"#{t.number} · {t.title}", 100), value=t.number)
            for t in await self.bot.topics.choices(interaction.guild_id)
            if not needle or needle in f"{t.number} {t.title}".casefold()
        ][:25]

    async def upcoming_meetups(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.meetups.upcoming_meetups(interaction, current)

    # --- members --------------------------------------------------------------------------

    @topic.command(name="suggest", description="Suggest a topic for a TechMeet.")
    @app_commands.describe(
        title="What to talk about (3 to 100 characters)",
        details="A bit more context (up to 1000 characters)",
        meetup="Which TechMeet (default: the next one)",
    )
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def suggest(
        self,
        interaction: Interaction,
        title: app_commands.Range[str, 1, 100],
        details: app_commands.Range[str, 1, 1000] | None = None,
        meetup: MeetupNumber | None = None,
    ) -> None:
        who = actor(interaction)
        await take_quota(interaction)
        suggested = await self.bot.topics.suggest(who, title, details, meetup)
        if suggested.duplicate_of is not None:
            existing = suggested.duplicate_of
            view = SuggestAnyway(self, title, details, meetup, owner=who.user_id)
            view.add_item(BackButton(existing.number))
            await reply(
                interaction,
                f"That looks like **{topic_line(existing)}** ({existing.support} backing it). "
                "Back it, or suggest yours anyway?",
                view=view,
            )
            return
        await reply(interaction, suggested_message(suggested))

    @topic.command(name="edit", description="Change your topic before a poll opens on it.")
    @app_commands.autocomplete(topic=topic_choices)
    async def edit(
        self,
        interaction: Interaction,
        topic: TopicNumber,
        title: app_commands.Range[str, 1, 100] | None = None,
        details: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        await take_quota(interaction)
        changed = await self.bot.topics.edit(actor(interaction), topic, title, details)
        await reply(interaction, f"Updated {topic_line(changed)}.")

    @topic.command(name="withdraw", description="Withdraw your topic before a poll opens on it.")
    @app_commands.autocomplete(topic=topic_choices)
    async def withdraw(self, interaction: Interaction, topic: TopicNumber) -> None:
        await take_quota(interaction)
        gone = await self.bot.topics.withdraw(actor(interaction), topic)
        await reply(interaction, f"Withdrawn: {topic_line(gone)}.")

    @topic.command(name="list", description="Open topics for a TechMeet, with their backers.")
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def list_(self, interaction: Interaction, meetup: MeetupNumber | None = None) -> None:
        number, topics = await self.bot.topics.topics(actor(interaction).guild_id, meetup)
        heading = f"Topics for TechMeet #{number}" if number else "Topics in the pool"
        if not topics:
            await reply(interaction, f"{heading}: none yet. Suggest one with `/topic suggest`.")
            return
        pages = [topics[i : i + PAGE] for i in range(0, len(topics), PAGE)]
        view = Pages(heading, pages)  # an ephemeral message: only its reader can turn pages
        await reply(
            interaction, embed=view.embed(), view=view if len(pages) > 1 else discord.utils.MISSING
        )

    # --- organisers -----------------------------------------------------------------------

    @topic.command(name="merge", description="Fold a duplicate topic into another (organisers).")
    @app_commands.autocomplete(source=topic_choices, target=topic_choices)
    async def merge(
        self, interaction: Interaction, source: TopicNumber, target: TopicNumber
    ) -> None:
        await take_quota(interaction)
        merged, into = await self.bot.topics.merge(actor(interaction), source, target)
        await reply(
            interaction,
            f"Merged #{merged.number} into {topic_line(into)}; it now has {into.support} backers.",
        )
        if merged.suggested_by:
            await self.tell(
                merged.suggested_by,
                f"Your topic #{merged.number} ({inert(merged.title)}) was merged into "
                f"{topic_line(into)}, so your support counts there.",
            )

    @topic.command(name="remove", description="Remove a topic (organisers).")
    @app_commands.autocomplete(topic=topic_choices)
    async def remove(
        self,
        interaction: Interaction,
        topic: TopicNumber,
        reason: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        await take_quota(interaction)
        removed = await self.bot.topics.remove(actor(interaction), topic)
        await reply(interaction, f"Removed {topic_line(removed)}.")
        if removed.suggested_by:
            because = f" Reason: {inert(reason)}" if reason else ""
            await self.tell(
                removed.suggested_by,
                f"Your topic #{removed.number} ({inert(removed.title)}) was removed by an "
                f"organiser.{because}",
            )

    @topic.command(name="poll", description="Open the agenda vote for a TechMeet (organisers).")
    @app_commands.describe(
        votes="Dots per member, 1 to 10 (default 3)",
        closes="When voting ends: a time, or a duration like 2d (default 24 h before the start)",
        results="Show the tally while voting (live) or only at the end (hidden)",
        agenda_size="How many topics make the agenda, 1 to 10 (default 5)",
    )
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def poll(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        votes: app_commands.Range[int, 1, 10] = DEFAULT_VOTES,
        closes: str | None = None,
        results: Literal["live", "hidden"] = "live",
        agenda_size: app_commands.Range[int, 1, 10] = DEFAULT_AGENDA_SIZE,
    ) -> None:
        await take_quota(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll = await self.bot.topics.open_poll(
            actor(interaction),
            meetup,
            votes=votes,
            closes=closes,
            results=Results(results),
            agenda_size=agenda_size,
        )
        meetup_view = await self.bot.meetups.get(poll.meetup_id)
        # In the meetup's own thread when it has one.
        where = meetup_view and (meetup_view.thread_id or meetup_view.announcement_channel_id)
        if not where:
            await self.bot.topics.discard_poll(poll.id)
            raise BadInput("That meetup has no announcement to hold its vote.")
        try:
            message = await self.bot.get_partial_messageable(where, guild_id=poll.guild_id).send(
                embed=poll_embed(poll), view=poll_view(poll.id)
            )
        except discord.HTTPException as error:
            await self.bot.topics.discard_poll(poll.id)
            raise BadInput(
                "I couldn't post the vote in the meetup's thread or announcements channel "
                f"({error.status}: {error.text or 'refused'}), so it was not opened. Check the "
                "bot's permissions there with `/setup channel`."
            ) from None
        await self.bot.topics.attach_poll_message(poll.id, message.channel.id, message.id)
        await reply(interaction, f"The vote is open: {message.jump_url}")

    @topic.command(name="close", description="Close a TechMeet's vote now (organisers).")
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def close(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        await take_quota(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await self.bot.topics.close_meetup_poll(actor(interaction), meetup)
        await self.announce_results(outcome)
        await reply(interaction, f"Closed. {len(outcome.agenda)} topics made the agenda.")

    @topic.command(name="poll-status", description="Who has voted so far, never how (organisers).")
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def poll_status(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        poll, voters = await self.bot.topics.poll_status(actor(interaction), meetup)
        shown = ", ".join(f"<@{uid}>" for uid in voters[:80]) or "nobody yet"
        more = f" and {len(voters) - 80} more" if len(voters) > 80 else ""
        state = "open" if poll.open else "closed"
        await reply(
            interaction,
            f"The vote for TechMeet #{meetup} is {state}. Voted ({len(voters)}): {shown}{more}",
        )

    # --- results, jobs, members leaving ------------------------------------------------------

    async def announce_results(self, outcome: PollOutcome, *, nonce: str | None = None) -> None:
        """Post the ranked results (until they are recorded as posted) and settle the poll
        message. A failed post is retried by the close job; its nonce stops a double."""
        poll = outcome.poll
        refresh_poll(self.bot, poll.id)
        refresh_announcement(self.bot, poll.meetup_id)
        if poll.results_message_id is not None or poll.channel_id is None:
            return
        embed, view = results_message(outcome)
        message = await self.bot.get_partial_messageable(poll.channel_id).send(
            embed=embed, view=view, nonce=message_nonce(nonce or f"res{poll.id}")
        )
        await self.bot.topics.record_results(poll.id, message.id)

    async def close_job(self, job: Job, now: datetime) -> Outcome:
        """A state change: runs however late after downtime, exactly once."""
        outcome = await self.bot.topics.close(job.subject_id)
        await self.announce_results(outcome, nonce=job.nonce)
        return Outcome.done(f"closed; {len(outcome.agenda)} topics on the agenda")

    async def tell(self, user_id: int, text: str) -> None:
        try:
            dm = await self.bot.create_dm(discord.Object(user_id))
            await dm.send(text)
        except discord.HTTPException as error:
            log.info("could not tell %s: %s", user_id, error)

    @commands.Cog.listener()
    async def on_meetup_cancelled(self, meetup_id: int) -> None:
        """Its vote stops without an agenda; its topics go back to the pool."""
        stopped = await self.bot.topics.meetup_cancelled(meetup_id)
        if stopped is not None:
            refresh_poll(self.bot, stopped)

    @commands.Cog.listener()
    async def on_meetup_moved(self, meetup_id: int, starts_at: datetime) -> None:
        """A vote closes before its meetup starts, however the start moves."""
        await self.bot.topics.meetup_moved(meetup_id, starts_at)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left: their votes leave the tallies."""
        for poll_id in await self.bot.topics.member_left(payload.guild_id, payload.user.id):
            refresh_poll(self.bot, poll_id)


def suggested_message(suggested: Suggested) -> str:
    topic = suggested.topic
    where = "the pool for the next TechMeet's vote" if topic.meetup_id is None else "the next vote"
    note = (
        f" TechMeet #{suggested.already_voted} has already had its vote, so it waits for the "
        "next one."
        if suggested.already_voted
        else ""
    )
    return f"Thanks! {topic_line(topic)} is in {where}.{note} Others can back it in `/topic list`."


class SuggestAnyway(discord.ui.View):
    """'That looks like Topic #7': back it (a persistent button) or suggest yours anyway."""

    def __init__(
        self, cog: TopicsCog, title: str, details: str | None, meetup: int | None, *, owner: int
    ) -> None:
        super().__init__(timeout=600)
        self.cog, self.title, self.details, self.meetup, self.owner = (
            cog,
            title,
            details,
            meetup,
            owner,
        )

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return bool(interaction.user.id == self.owner)

    @discord.ui.button(label="Suggest mine anyway", style=discord.ButtonStyle.secondary)
    async def anyway(
        self, interaction: Interaction, button: discord.ui.Button[SuggestAnyway]
    ) -> None:
        # No quota of its own: it finishes the /topic suggest that counted; one click, then gone.
        suggested = await self.cog.bot.topics.suggest(
            actor(interaction), self.title, self.details, self.meetup, anyway=True
        )
        await interaction.response.edit_message(content=suggested_message(suggested), view=None)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await handle_error(interaction, error)


class Pages(discord.ui.View):
    """A long topic list, ten at a time."""

    def __init__(self, heading: str, pages: list[list[TopicView]]) -> None:
        super().__init__(timeout=600)
        self.heading, self.pages, self.page = heading, pages, 0

    def embed(self) -> discord.Embed:
        lines = [
            f"{topic_line(t)}: {t.support} backing"
            + (f", suggested by <@{t.suggested_by}>" if t.suggested_by else "")
            + (" (carried over)" if t.carried_over else "")
            + (" (on the ballot)" if t.status == "in_poll" else "")
            for t in self.pages[self.page]
        ]
        embed = discord.Embed(title=self.heading, description="\n".join(lines))
        if len(self.pages) > 1:
            embed.set_footer(text=f"Page {self.page + 1} of {len(self.pages)}")
        return embed

    async def _turn(self, interaction: Interaction, step: int) -> None:
        self.page = (self.page + step) % len(self.pages)
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: Interaction, button: discord.ui.Button[Pages]) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: Interaction, button: discord.ui.Button[Pages]) -> None:
        await self._turn(interaction, 1)
