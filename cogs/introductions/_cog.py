"""/intro and /members: introductions, the member directory and "people you should meet";
welcomes for new members, and what happens when a member leaves or comes back."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.introductions import Criteria
from bot.errors import NotFound
from bot.scheduler import Job, Outcome
from bot.services.introductions import INTRO_PURGE
from cogs._ui import actor, cut, inert, reply, take_quota
from cogs.introductions._views import (
    introduction_embed,
    open_basics,
    search_embed,
    search_view,
    skills_text,
    welcome_view,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

Search = app_commands.Range[str, 1, 100]


class IntroductionsCog(commands.Cog):
    members = app_commands.Group(
        name="members",
        description="The member directory: find people by skill, region or organisation.",
        guild_only=True,
    )

    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot
        self.view_menu = app_commands.ContextMenu(
            name="View introduction", callback=self.view_introduction
        )
        self.view_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.view_menu)
        self.bot.dispatcher.register(
            INTRO_PURGE, self.purge_job, what="Deleting a leaver's introduction"
        )

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.view_menu.name, type=self.view_menu.type)

    # --- introductions ----------------------------------------------------------------------

    @app_commands.command(
        name="intro", description="Introduce yourself, or edit your introduction."
    )
    @app_commands.guild_only()
    async def intro(self, interaction: Interaction) -> None:
        # Only opens the form: sending it counts as "intro" (see BasicsModal).
        await open_basics(interaction)

    async def view_introduction(self, interaction: Interaction, member: discord.Member) -> None:
        await self._show(interaction, member)

    @members.command(name="profile", description="Show a member's introduction.")
    @app_commands.describe(user="Whose introduction")
    async def profile(self, interaction: Interaction, user: discord.Member) -> None:
        await self._show(interaction, user)

    async def _show(self, interaction: Interaction, member: discord.Member | discord.User) -> None:
        me = actor(interaction)
        intro = await self.bot.introductions.get(me.guild_id, member.id)
        if intro is None:
            hint = "`/intro` introduces you." if member.id == me.user_id else "Maybe say hello?"
            raise NotFound(f"{inert(member.display_name)} hasn't introduced themselves yet. {hint}")
        await reply(interaction, embed=introduction_embed(intro))

    @members.command(name="remove", description="Organisers: take down a member's introduction.")
    @app_commands.describe(
        user="Whose introduction", reason="Sent to the member (up to 300 characters)"
    )
    @app_commands.default_permissions(manage_events=True)
    async def remove(
        self,
        interaction: Interaction,
        user: discord.Member | discord.User,
        reason: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        await take_quota(interaction)
        intro = await self.bot.introductions.remove(actor(interaction), user.id)
        if intro.channel_id and intro.message_id:
            message = self.bot.get_partial_messageable(intro.channel_id).get_partial_message(
                intro.message_id
            )
            with contextlib.suppress(discord.NotFound):  # already gone
                await message.delete()
        told = await self._tell(
            user.id,
            "An organiser removed your introduction in the TechMeet server"
            + (f": {inert(reason)}" if reason else ".")
            + " You're welcome to introduce yourself again with `/intro`.",
        )
        await reply(
            interaction,
            f"Removed {inert(intro.name)}'s introduction."
            + ("" if told else " Their DMs are closed, so they weren't told."),
        )

    async def _tell(self, user_id: int, text: str) -> bool:
        try:
            dm = await self.bot.create_dm(discord.Object(user_id))
            await dm.send(text)
        except discord.HTTPException as error:
            log.info("could not DM member %s: %s", user_id, error)
            return False
        return True

    # --- directory --------------------------------------------------------------------------

    async def _known(
        self, interaction: Interaction, field: str, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        values = await self.bot.introductions.known_values(interaction.guild_id, field, current)
        return [app_commands.Choice(name=cut(v, 100), value=v[:100]) for v in values]

    async def skill_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._known(interaction, "skill", current)

    async def region_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._known(interaction, "region", current)

    async def organisation_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._known(interaction, "organisation", current)

    @members.command(
        name="find", description="Find members by skill, region, organisation, role or any text."
    )
    @app_commands.describe(
        skill="A skill or platform, e.g. moodle",
        region="Where they are",
        organisation="Their college, school or trust",
        role="Their job role, e.g. network technician",
        text="Any words in their introduction",
    )
    @app_commands.autocomplete(
        skill=skill_choices, region=region_choices, organisation=organisation_choices
    )
    async def find(
        self,
        interaction: Interaction,
        skill: Search | None = None,
        region: Search | None = None,
        organisation: Search | None = None,
        role: Search | None = None,
        text: Search | None = None,
    ) -> None:
        criteria = Criteria.of(
            skill=skill, region=region, organisation=organisation, role=role, text=text
        )
        await take_quota(interaction)
        page = await self.bot.introductions.find(actor(interaction), criteria)
        view = search_view(page)
        if view is None:
            await reply(interaction, embed=search_embed(page))
        else:
            await reply(interaction, embed=search_embed(page), view=view)

    @members.command(name="skills", description="The most common skills in the community.")
    async def skills(self, interaction: Interaction) -> None:
        me = actor(interaction)
        counted = await self.bot.introductions.skills(me.guild_id)
        if not counted:
            await reply(interaction, "No skills listed yet: `/intro` adds yours.")
            return
        lines = [f"{skills_text((tag,))} · {n} member{'s' if n != 1 else ''}" for tag, n in counted]
        embed = discord.Embed(
            title="What the community knows", description="\n".join(lines)
        ).set_footer(text="Find people with /members find skill:")
        await reply(interaction, embed=embed)

    @members.command(name="suggest", description="People you should meet, and why.")
    async def suggest(self, interaction: Interaction) -> None:
        suggested = await self.bot.introductions.suggestions(actor(interaction))
        if not suggested:
            await reply(
                interaction,
                "No suggestions yet: add more skills, or say what you're looking for, with "
                "`/intro`. Suggestions grow as more members introduce themselves.",
            )
            return
        lines = [
            f"**{inert(cut(s.introduction.name, 64))}** (<@{s.introduction.user_id}>): "
            f"{inert(cut(s.reason, 200))}"
            for s in suggested
        ]
        await reply(
            interaction,
            embed=discord.Embed(title="People you should meet", description="\n".join(lines)),
        )

    # --- joining and leaving --------------------------------------------------------------

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        if member.bot:
            return
        back = await self.bot.introductions.member_returned(member.guild.id, member.id)
        settings = await self.bot.guild_settings.get(member.guild.id)
        channel_id = settings.channel(ChannelPurpose.INTRODUCTIONS)
        if channel_id is None:
            return
        text = (
            f"Welcome back, {member.mention}! Your introduction is back in the directory."
            if back
            else f"Welcome, {member.mention}! Tell the community who you are, where you work "
            "and what you know: technicians here swap what worked and help each other."
        )
        try:
            channel = self.bot.get_partial_messageable(channel_id)
            mention_only = discord.AllowedMentions(users=[member])
            if back:
                await channel.send(text, allowed_mentions=mention_only)
            else:
                await channel.send(text, view=welcome_view(), allowed_mentions=mention_only)
        except discord.HTTPException:
            log.exception("could not welcome %s in guild %s", member.id, member.guild.id)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """Out of the directory at once; deleted after the retention period."""
        await self.bot.introductions.member_left(payload.guild_id, payload.user.id)

    async def purge_job(self, job: Job, now: datetime) -> Outcome:
        outcome = await self.bot.introductions.purge(job.subject_id)
        if outcome is None:
            return Outcome.skipped("the member came back or the introduction is gone")
        if isinstance(outcome, datetime):
            return Outcome.skipped(f"retention lengthened: now due {outcome:%d %b %Y}")
        if outcome.channel_id and outcome.message_id:
            message = self.bot.get_partial_messageable(outcome.channel_id).get_partial_message(
                outcome.message_id
            )
            with contextlib.suppress(discord.NotFound):
                await message.delete()
        return Outcome.done(f"deleted introduction {outcome.id}")
