"""/talk: members propose lightning talks; organisers review them, set the running order,
and run the night with a timer in the talks channel."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.talks import (
    MAX_BUDGET,
    MAX_CHANGEOVER,
    MAX_PER_MEMBER,
    Approval,
    OrderMode,
    TalkStatus,
)
from bot.services.talks import Changed
from bot.services.topics import TopicView
from cogs._ui import actor, cut, inert, message_nonce, reply, take_quota
from cogs.meetups._cog import MeetupNumber, MeetupsCog
from cogs.talks._views import (
    archive_messages,
    lineup_messages,
    list_embed,
    review_page,
    settings_embed,
    status_text,
    talk_line,
    talks_channel,
    talks_summary,
    tell_promoted,
    tell_speaker,
    timer_content,
    timer_view,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from bot.domain.members import Actor
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

TalkNumber = app_commands.Range[int, 1]
Minutes = app_commands.Range[int, 1, 30]

ORDER_CHOICES = [
    app_commands.Choice(name="Random: a fair shuffle", value=OrderMode.RANDOM.value),
    app_commands.Choice(name="Manual: move one talk to a position", value=OrderMode.MANUAL.value),
    app_commands.Choice(
        name="Draw: pick each next speaker live (fruit machine)", value=OrderMode.DRAW.value
    ),
]


class TalksCog(commands.Cog):
    talk = app_commands.Group(
        name="talk",
        description="Lightning talks: propose one, or run them on the night.",
        guild_only=True,
    )

    def __init__(self, bot: TechMeetBot, meetups: MeetupsCog) -> None:
        self.bot = bot
        self.meetups = meetups

    # --- autocomplete ---------------------------------------------------------------------

    async def upcoming_meetups(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.meetups.upcoming_meetups(interaction, current)

    async def any_meetups(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self.meetups.any_meetups(interaction, current)

    async def when_preview(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.meetups.when_preview(interaction, current)

    async def talk_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        """The member's own talks first, then everyone else's."""
        if interaction.guild_id is None:
            return []
        needle = current.strip().lstrip("#").casefold()
        mine = interaction.user.id
        return [
            app_commands.Choice(
                name=cut(
                    f"#{t.number} · {t.title} · {t.length} min · {t.status.value}"
                    + (" (yours)" if t.speaker_id == mine else ""),
                    100,
                ),
                value=t.number,
            )
            for t in await self.bot.talks.choices(interaction.guild_id, mine)
            if not needle or needle in f"{t.number} {t.title}".casefold()
        ][:25]

    async def length_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        """The lengths the chosen meetup (or the chosen talk's meetup) allows."""
        if interaction.guild_id is None:
            return []
        namespace = interaction.namespace
        lengths = await self.bot.talks.allowed_lengths(
            interaction.guild_id,
            meetup_number=getattr(namespace, "meetup", None),
            talk_number=getattr(namespace, "talk", None),
        )
        return [
            app_commands.Choice(name=f"{n} minutes", value=n)
            for n in lengths
            if not current.strip() or current.strip() in str(n)
        ]

    # --- members --------------------------------------------------------------------------

    @talk.command(name="propose", description="Offer a lightning talk at a TechMeet.")
    @app_commands.describe(
        meetup="Which TechMeet",
        title="What your talk is called (3 to 100 characters)",
        length="How many minutes (the TechMeet's allowed lengths, usually 2, 5 or 7)",
        summary="A few lines about it (up to 1000 characters)",
        slides_url="A link to your slides (https://...)",
    )
    @app_commands.autocomplete(meetup=upcoming_meetups, length=length_choices)
    async def propose(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        title: app_commands.Range[str, 1, 100],
        length: Minutes,
        summary: app_commands.Range[str, 1, 1000] | None = None,
        slides_url: app_commands.Range[str, 1, 512] | None = None,
    ) -> None:
        await take_quota(interaction)
        changed = await self.bot.talks.propose(
            actor(interaction), meetup, title, length, summary, slides_url
        )
        reminder = (
            " You'll get a reminder with your slot the day before."
            if changed.talk.status is TalkStatus.ACCEPTED
            else ""
        )
        await reply(
            interaction,
            f"Thanks! {talk_line(changed.talk, by=False)} is {status_text(changed)}.{reminder}",
        )

    @talk.command(name="withdraw", description="Withdraw your talk (a reserve speaker gets in).")
    @app_commands.autocomplete(talk=talk_choices)
    async def withdraw(self, interaction: Interaction, talk: TalkNumber) -> None:
        await take_quota(interaction)
        changed = await self.bot.talks.withdraw(actor(interaction), talk)
        moved = (
            f" Its minutes went to {len(changed.promoted)} reserve talk"
            f"{'s' if len(changed.promoted) != 1 else ''}."
            if changed.promoted
            else ""
        )
        await reply(interaction, f"Withdrawn: {talk_line(changed.talk, by=False)}.{moved}")
        await tell_promoted(self.bot, changed)

    @talk.command(name="edit", description="Change your talk before proposals close.")
    @app_commands.describe(length="A longer talk must still fit the meetup's budget")
    @app_commands.autocomplete(talk=talk_choices, length=length_choices)
    async def edit(
        self,
        interaction: Interaction,
        talk: TalkNumber,
        title: app_commands.Range[str, 1, 100] | None = None,
        summary: app_commands.Range[str, 1, 1000] | None = None,
        slides_url: app_commands.Range[str, 1, 512] | None = None,
        length: Minutes | None = None,
    ) -> None:
        await take_quota(interaction)
        changed = await self.bot.talks.edit(
            actor(interaction),
            talk,
            title=title,
            summary=summary,
            slides_url=slides_url,
            length=length,
        )
        await reply(
            interaction, f"Updated {talk_line(changed.talk, by=False)}: {status_text(changed)}."
        )
        await tell_promoted(self.bot, changed)

    @talk.command(name="mine", description="Your talks, with where each one stands.")
    async def mine(self, interaction: Interaction) -> None:
        who = actor(interaction)
        talks = await self.bot.talks.mine(who.guild_id, who.user_id)
        if not talks:
            await reply(
                interaction, "You have no talks coming up. Propose one with `/talk propose`!"
            )
            return
        lines = [f"• {talk_line(c.talk, by=False)}: {status_text(c)}." for c in talks]
        await reply(interaction, cut("Your talks:\n" + "\n".join(lines), 2000))

    @talk.command(name="list", description="A TechMeet's accepted, pending and reserve talks.")
    @app_commands.autocomplete(meetup=any_meetups)
    async def list_(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        lineup = await self.bot.talks.lineup(actor(interaction).guild_id, meetup)
        await reply(interaction, embed=list_embed(lineup))

    # --- organisers -----------------------------------------------------------------------

    @talk.command(name="settings", description="Talk lengths, budget and deadline (organisers).")
    @app_commands.describe(
        lengths="Allowed lengths in minutes, e.g. 2,5,7",
        budget=f"Total minutes of talks, 1 to {MAX_BUDGET} (default 40)",
        deadline="When proposals close (default: when the TechMeet starts)",
        approval="auto: accepted while the budget allows; review: organisers accept each",
        max_per_member=f"Talks one member may give, 1 to {MAX_PER_MEMBER} (default 2)",
        changeover=f"Minutes between talks, 0 to {MAX_CHANGEOVER} (default 1)",
    )
    @app_commands.autocomplete(meetup=upcoming_meetups)
    @app_commands.autocomplete(deadline=when_preview)
    async def settings(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        lengths: app_commands.Range[str, 1, 60] | None = None,
        budget: app_commands.Range[int, 1, MAX_BUDGET] | None = None,
        deadline: app_commands.Range[str, 1, 100] | None = None,
        approval: Literal["auto", "review"] | None = None,
        max_per_member: app_commands.Range[int, 1, MAX_PER_MEMBER] | None = None,
        changeover: app_commands.Range[int, 0, MAX_CHANGEOVER] | None = None,
    ) -> None:
        who = actor(interaction)
        if all(
            v is None for v in (lengths, budget, deadline, approval, max_per_member, changeover)
        ):
            await self.bot.meetups.require_organiser(who)
            settings = await self.bot.talks.settings_for(who.guild_id, meetup)
            await reply(interaction, "The current settings:", embed=settings_embed(settings))
            return
        await take_quota(interaction)
        settings, promoted = await self.bot.talks.update_settings(
            who,
            meetup,
            lengths=lengths,
            budget=budget,
            deadline=deadline,
            approval=Approval(approval) if approval else None,
            max_per_member=max_per_member,
            changeover=changeover,
        )
        moved = (
            f" {len(promoted)} reserve talk{'s' if len(promoted) != 1 else ''} moved up."
            if promoted
            else ""
        )
        await reply(interaction, f"Saved.{moved}", embed=settings_embed(settings))
        if promoted:
            await tell_promoted(
                self.bot, Changed(promoted[0], settings.meetup_number, promoted=promoted)
            )

    @talk.command(name="review", description="Accept or decline proposals (organisers).")
    @app_commands.autocomplete(meetup=any_meetups)
    async def review(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        # Only shows the proposals: Accept and Decline count as "talk review".
        await reply(interaction, **await review_page(self.bot, interaction, meetup, 0))

    @talk.command(name="remove", description="Take a talk off the list (organisers).")
    @app_commands.describe(reason="Told to the speaker")
    @app_commands.autocomplete(talk=talk_choices)
    async def remove(
        self,
        interaction: Interaction,
        talk: TalkNumber,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        await take_quota(interaction)
        changed = await self.bot.talks.remove(actor(interaction), talk, reason)
        await reply(interaction, f"Removed {talk_line(changed.talk)}.")
        why = f" The organisers said: {inert(changed.talk.reason)}" if changed.talk.reason else ""
        await tell_speaker(
            self.bot,
            changed.talk.guild_id,
            changed.talk.speaker_id,
            f"Your {talk_line(changed.talk, by=False)} was taken off the list for TechMeet "
            f"#{changed.meetup_number} by an organiser.{why}",
        )
        await tell_promoted(self.bot, changed)

    @talk.command(name="order", description="Set the running order (organisers).")
    @app_commands.describe(
        mode="How the order is decided",
        first_timers_first="Random: members who have never given a talk go first",
        talk="Manual: the talk to move",
        position="Manual: its new place (1 = first)",
    )
    @app_commands.choices(mode=ORDER_CHOICES)
    @app_commands.autocomplete(meetup=upcoming_meetups, talk=talk_choices)
    async def order(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        mode: app_commands.Choice[str],
        first_timers_first: bool = False,
        talk: TalkNumber | None = None,
        position: app_commands.Range[int, 1, 100] | None = None,
    ) -> None:
        await take_quota(interaction)
        lineup = await self.bot.talks.order(
            actor(interaction),
            meetup,
            OrderMode(mode.value),
            first_timers_first=first_timers_first,
            talk_number=talk,
            position=position,
        )
        await reply(
            interaction,
            "Running order saved. `/talk lineup` posts it for everyone.",
            embed=list_embed(lineup),
        )

    @talk.command(name="lineup", description="Post the running order in the talks channel.")
    @app_commands.autocomplete(meetup=any_meetups)
    async def lineup(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        await take_quota(interaction)
        who = actor(interaction)
        await self.bot.meetups.require_organiser(who)
        lineup = await self.bot.talks.lineup(who.guild_id, meetup)
        channel_id = await talks_channel(self.bot, who.guild_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=who.guild_id)
        posted = None
        for content, speakers in lineup_messages(lineup):
            # The speakers, and nobody else, are pinged: user text never mentions anyone.
            posted = await channel.send(
                content,
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(s) for s in speakers]
                ),
                nonce=message_nonce(None),
            )
        await reply(interaction, f"Posted the line-up: {posted.jump_url if posted else ''}")

    @talk.command(name="next", description="On the night: the next speaker, and their timer.")
    @app_commands.autocomplete(meetup=any_meetups)
    async def next_(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        # Acknowledged before any work: on a busy night organisers of several meetups press
        # at once and each waits its turn to write; a refusal still reaches them, privately.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await take_quota(interaction)
        who = actor(interaction)
        channel_id = await talks_channel(self.bot, who.guild_id)
        on_stage = await self.bot.talks.next_speaker(who, meetup)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=who.guild_id)
        finished = on_stage.finished
        if finished is not None and finished.message_id and finished.channel_id:
            try:
                await (
                    self.bot.get_partial_messageable(finished.channel_id)
                    .get_partial_message(finished.message_id)
                    .edit(content=timer_content(finished, "finished"), view=None)
                )
            except discord.HTTPException as error:
                log.info("could not close the previous timer: %s", error)
        timer = on_stage.timer
        if timer is None:
            await reply(
                interaction,
                "That was the last talk: its timer is stopped. That's the lot! "
                "`/talk archive` shares the slides afterwards.",
            )
            return
        speaker_id = timer.talk.speaker_id
        # A channel message, not an interaction reply: reply tokens expire after 15 minutes.
        message = await channel.send(
            timer_content(timer, "running"),
            view=timer_view(timer.talk.id),
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(speaker_id)] if speaker_id else False
            ),
            nonce=message_nonce(None),
        )
        await self.bot.talks.attach_timer(timer.talk.id, channel_id, message.id)
        after = (
            f" Up next: {talk_line(on_stage.up_next)} (told privately)."
            if on_stage.up_next
            else " This is the last talk."
        )
        await reply(interaction, f"Timer started: {message.jump_url}.{after}")

    @talk.command(name="archive", description="After a TechMeet: post its talks and slides.")
    @app_commands.autocomplete(meetup=any_meetups)
    async def archive(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        await take_quota(interaction)
        who = actor(interaction)
        number, talks = await self.bot.talks.archive(who, meetup)
        channel_id = await talks_channel(self.bot, who.guild_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=who.guild_id)
        posted = None
        for content in archive_messages(number, talks):
            posted = await channel.send(content, nonce=message_nonce(None))
        await reply(interaction, f"Posted the archive: {posted.jump_url if posted else ''}")

    # --- other features -------------------------------------------------------------------

    async def topic_led(self, who: Actor, topic: TopicView, meetup_id: int) -> str:
        """'I'll lead this' on an agenda topic proposes a talk about it."""
        changed = await self.bot.talks.propose_for_topic(who, topic.title, meetup_id)
        return (
            f"It's proposed as {talk_line(changed.talk, by=False)}, {status_text(changed)}. "
            "Change its length with `/talk edit`."
        )

    async def info_section(self, meetup_id: int) -> tuple[str, str] | None:
        """/techmeet info: the line-up in brief, once the meetup has talks."""
        lineup = await self.bot.talks.lineup_of(meetup_id)
        return None if lineup is None else ("Lightning talks", talks_summary(lineup))

    @commands.Cog.listener()
    async def on_meetup_moved(self, meetup_id: int, starts_at: datetime) -> None:
        """Speaker reminders follow the meetup."""
        await self.bot.talks.meetup_moved(meetup_id, starts_at)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A speaker left: their upcoming talks make room for reserves."""
        for changed in await self.bot.talks.remove_after_leaving(payload.guild_id, payload.user.id):
            await tell_promoted(self.bot, changed)
