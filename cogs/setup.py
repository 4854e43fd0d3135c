"""/setup: a server's managers tell the bot where to post, who organises and how to remind."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.guild_settings import (
    PERMISSION_LABELS,
    PURPOSE_DESCRIPTIONS,
    ChannelPurpose,
    format_offsets,
    region_choices,
    search_timezones,
)
from bot.domain.introductions import MAX_RETENTION_DAYS
from bot.errors import NotReady
from cogs._ui import actor, reply, take_quota

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from bot.services.guild_settings import GuildSettingsView
    from cogs._ui import Interaction

NOT_SET = "not set"


def _bot_permissions(channel: discord.abc.GuildChannel) -> frozenset[str]:
    me = channel.guild.me
    if me is None:
        raise NotReady("I'm still connecting to this server; try again in a minute.")
    granted = channel.permissions_for(me)
    # Look each name up: iterating Permissions yields discord.py's canonical aliases
    # (read_messages for view_channel), not the names the rules use.
    return frozenset(name for name in PERMISSION_LABELS if getattr(granted, name))


class SetupCog(commands.Cog):
    setup = app_commands.Group(
        name="setup",
        description="Set up the TechMeet bot for this server (Manage Server).",
        # A hint for Discord's UI only: admins can override it, so services check again.
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot

    @setup.command(name="show", description="Show the bot's settings for this server.")
    async def show(self, interaction: Interaction) -> None:
        settings = await self.bot.guild_settings.show(actor(interaction))
        await reply(interaction, embed=settings_embed(settings))

    @setup.command(name="channel", description="Choose the channel the bot uses for one purpose.")
    @app_commands.describe(purpose="What the channel is for", channel="A text channel")
    @app_commands.choices(
        purpose=[
            app_commands.Choice(name=f"{purpose.value}: {description}"[:100], value=purpose.value)
            for purpose, description in PURPOSE_DESCRIPTIONS.items()
        ]
    )
    async def channel(
        self, interaction: Interaction, purpose: str, channel: discord.TextChannel
    ) -> None:
        chosen = ChannelPurpose(purpose)
        await take_quota(interaction)
        await self.bot.guild_settings.set_channel(
            actor(interaction), chosen, channel.id, bot_permissions=_bot_permissions(channel)
        )
        await reply(
            interaction, f"Done: {channel.mention} is now used for {PURPOSE_DESCRIPTIONS[chosen]}."
        )

    @setup.command(
        name="organiser-role",
        description="Members with this role (or Manage Events / Manage Server) organise meetups.",
    )
    async def organiser_role(self, interaction: Interaction, role: discord.Role) -> None:
        await take_quota(interaction)
        await self.bot.guild_settings.set_organiser_role(actor(interaction), role.id)
        await reply(
            interaction,
            f"Done: members with {role.mention}, Manage Events or Manage Server are organisers.",
        )

    @setup.command(
        name="ping-role",
        description="The one role announcements and reminders may ping (leave out to stop pings).",
    )
    async def ping_role(self, interaction: Interaction, role: discord.Role | None = None) -> None:
        await take_quota(interaction)
        await self.bot.guild_settings.set_ping_role(actor(interaction), role.id if role else None)
        if role is None:
            await reply(interaction, "Done: announcements and reminders won't ping anyone.")
            return
        message = f"Done: announcements and reminders will ping {role.mention}."
        me = role.guild.me
        if not role.mentionable and not (me and me.guild_permissions.mention_everyone):
            message += (
                f"\n**Heads-up:** {role.mention} isn't mentionable, so the ping won't notify "
                "anyone. Turn on *Allow anyone to @mention this role* in Server Settings, Roles, "
                "or give the bot *Mention @everyone, @here, and All Roles*."
            )
        await reply(interaction, message)

    @setup.command(name="timezone", description="The timezone meetup times are typed in.")
    @app_commands.describe(tz="An IANA timezone name, e.g. Europe/London")
    async def timezone(self, interaction: Interaction, tz: str) -> None:
        await take_quota(interaction)
        settings = await self.bot.guild_settings.set_timezone(actor(interaction), tz)
        await reply(
            interaction,
            f"Done: times are now read in **{settings.timezone}**. Members still see every "
            "meetup time in their own timezone.",
        )

    @timezone.autocomplete("tz")
    async def timezone_autocomplete(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=name) for name in search_timezones(current)]

    @setup.command(name="reminders", description="Default reminder times before each meetup.")
    @app_commands.describe(offsets="e.g. 1w,1d,1h (units m, h, d, w; 1 to 6 reminders)")
    async def reminders(self, interaction: Interaction, offsets: str) -> None:
        await take_quota(interaction)
        settings = await self.bot.guild_settings.set_reminder_offsets(actor(interaction), offsets)
        await reply(
            interaction,
            f"Done: new meetups get reminders {format_offsets(settings.reminder_offsets)} "
            "before they start.",
        )

    topics = app_commands.Group(
        name="topics", description="Settings for topic suggestions.", parent=setup
    )

    @topics.command(
        name="max-per-member", description="Open topic suggestions one member may have per meetup."
    )
    @app_commands.describe(limit="1 to 25 (default 3)")
    async def topics_max_per_member(
        self, interaction: Interaction, limit: app_commands.Range[int, 1, 25]
    ) -> None:
        await take_quota(interaction)
        await self.bot.guild_settings.set_topics_max_per_member(actor(interaction), limit)
        plural = "s" if limit != 1 else ""
        await reply(
            interaction, f"Done: each member may have {limit} open suggestion{plural} per meetup."
        )

    @setup.command(name="regions", description="The regions members and meetups pick from.")
    @app_commands.describe(regions="Comma-separated, e.g. North West, Yorkshire and the Humber")
    async def regions(self, interaction: Interaction, regions: str) -> None:
        await take_quota(interaction)
        settings = await self.bot.guild_settings.set_regions(actor(interaction), regions)
        await reply(
            interaction,
            f"Done: regions are {', '.join(settings.regions)} (plus Online and Other).",
        )

    @setup.command(
        name="retention",
        description="How long a leaver's introduction is kept, in case they return.",
    )
    @app_commands.describe(days="1 to 365 days (default 30)")
    async def retention(
        self, interaction: Interaction, days: app_commands.Range[int, 1, MAX_RETENTION_DAYS]
    ) -> None:
        await take_quota(interaction)
        kept = await self.bot.introductions.set_retention(actor(interaction), days)
        await reply(
            interaction,
            f"Done: when a member leaves, their introduction leaves the directory at once and "
            f"is deleted after {kept} day{'s' if kept != 1 else ''} unless they come back.",
        )


def settings_embed(settings: GuildSettingsView) -> discord.Embed:
    def default(flag: bool) -> str:
        return " (default)" if flag else ""

    embed = discord.Embed(title="TechMeet settings", colour=discord.Colour.blurple())
    embed.add_field(
        name="Timezone",
        value=f"{settings.timezone}{default(settings.timezone_is_default)}",
        inline=True,
    )
    embed.add_field(
        name="Organisers",
        value=(f"<@&{settings.organiser_role_id}>, " if settings.organiser_role_id else "")
        + "Manage Events, Manage Server",
        inline=True,
    )
    embed.add_field(
        name="Ping role",
        value=f"<@&{settings.ping_role_id}>" if settings.ping_role_id else "none (no pings)",
        inline=True,
    )
    embed.add_field(
        name="Reminders before each meetup",
        value=format_offsets(settings.reminder_offsets)
        + default(settings.reminder_offsets_are_default),
        inline=False,
    )
    embed.add_field(
        name="Channels",
        value="\n".join(
            f"**{purpose.value}**: "
            + (f"<#{settings.channels[purpose]}>" if purpose in settings.channels else NOT_SET)
            for purpose in ChannelPurpose
        ),
        inline=False,
    )
    embed.add_field(
        name="Regions" + default(settings.regions_are_default),
        value=", ".join(region_choices(settings.regions))[:1024],
        inline=False,
    )
    embed.add_field(
        name="Leavers' introductions kept",
        value=f"{settings.retention_days} days",
        inline=True,
    )
    embed.set_footer(text="Change these with /setup.")
    if settings.updated_at is not None:
        who = f" by <@{settings.updated_by}>" if settings.updated_by else ""
        embed.add_field(
            name="Last changed",
            value=f"{discord.utils.format_dt(settings.updated_at, 'R')}{who}",
            inline=False,
        )
    return embed


async def setup(bot: TechMeetBot) -> None:
    await bot.add_cog(SetupCog(bot))
