"""/techmeet: organisers schedule TechMeets, members RSVP, everyone gets reminded."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.domain.guild_settings import format_offsets, region_choices
from bot.domain.meetups import Repeat, RsvpStatus
from bot.domain.when import preview_when
from bot.errors import BadInput, NotFound
from bot.services.meetups import Attendee, Changed, MeetupDraft, MeetupView
from cogs._ui import (
    actor,
    cut,
    handle_error,
    inert,
    message_nonce,
    ping_only,
    reply,
    take_quota,
)
from cogs.meetups import _embeds
from cogs.meetups._views import (
    announcement_view,
    notify_promoted,
    refresh_announcement,
    send_calendar,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

# /techmeet list shows this many, soonest first, and says how many more there are.
LIST_LENGTH = 20

REPEAT_CHOICES = [
    app_commands.Choice(name="Does not repeat", value=Repeat.NONE.value),
    app_commands.Choice(name="Every week", value=Repeat.WEEKLY.value),
    app_commands.Choice(name="Every other week", value=Repeat.FORTNIGHTLY.value),
    app_commands.Choice(
        name="Monthly: first <weekday> of the month", value=Repeat.MONTHLY_FIRST.value
    ),
    app_commands.Choice(name="Monthly: second <weekday>", value=Repeat.MONTHLY_SECOND.value),
    app_commands.Choice(name="Monthly: third <weekday>", value=Repeat.MONTHLY_THIRD.value),
    app_commands.Choice(name="Monthly: fourth <weekday>", value=Repeat.MONTHLY_FOURTH.value),
    app_commands.Choice(
        name="Monthly: last <weekday> of the month", value=Repeat.MONTHLY_LAST.value
    ),
]
# Formula injection: spreadsheet apps run cells starting with these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

MeetupNumber = app_commands.Range[int, 1]
VoiceOrStage = discord.VoiceChannel | discord.StageChannel


def choice_name(number: int, starts_at_local: str, title: str) -> str:
    return cut(f"#{number} · {starts_at_local} · {title}", 100)


class MeetupsCog(commands.Cog):
    techmeet = app_commands.Group(
        name="techmeet", description="Schedule TechMeets, RSVP and get reminded.", guild_only=True
    )

    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot
        # Other features add to /techmeet info: (field name, value) for a meetup's id.
        self.info_sections: list[Callable[[int], Awaitable[tuple[str, str] | None]]] = []

    # --- autocomplete ---------------------------------------------------------------------

    async def _meetup_choices(
        self, interaction: Interaction, current: str, *, include_past: bool
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        settings = await self.bot.guild_settings.get(interaction.guild_id)
        tz = ZoneInfo(settings.timezone)
        found = await self.bot.meetups.choices(interaction.guild_id, include_past=include_past)
        needle = current.strip().lstrip("#").casefold()
        return [
            app_commands.Choice(
                name=choice_name(
                    m.number, f"{m.starts_at.astimezone(tz):%a %-d %b %H:%M}", m.title
                ),
                value=m.number,
            )
            for m in found
            if not needle or needle in f"{m.number} {m.title}".casefold()
        ][:25]

    async def upcoming_meetups(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._meetup_choices(interaction, current, include_past=False)

    async def any_meetups(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        return await self._meetup_choices(interaction, current, include_past=True)

    async def when_preview(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or not current.strip():
            return []
        settings = await self.bot.guild_settings.get(interaction.guild_id)
        preview = preview_when(current, now=self.bot.clock(), tz=ZoneInfo(settings.timezone))
        # The value is what was typed: the command parses it again, the same way.
        return [app_commands.Choice(name=cut(preview, 100), value=current[:100])]

    async def regions(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        settings = await self.bot.guild_settings.get(interaction.guild_id)
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=region, value=region)
            for region in region_choices(settings.regions)
            if needle in region.casefold()
        ][:25]

    # --- organisers -----------------------------------------------------------------------

    @techmeet.command(name="create", description="Schedule a TechMeet (organisers).")
    @app_commands.describe(
        title="What it's about (up to 100 characters)",
        when="Start, in the server's timezone, e.g. 2026-12-03 18:00, 3 Dec 6pm, tuesday 18:00",
        duration="Minutes, 15 to 720 (default 120)",
        venue="Where, for in-person meetups",
        online_url="Link to join online (https://...)",
        channel="A voice or stage channel where it happens on Discord",
        region="The region it's in",
        capacity="How many can come (leave out for no limit)",
        description="More details (up to 1000 characters)",
        repeat="Make it a repeating series",
        until="Last date of a series, e.g. 2027-07-01",
        reminders="Reminder times before the start, e.g. 1d,1h (default: the server's)",
    )
    @app_commands.choices(repeat=REPEAT_CHOICES)
    @app_commands.autocomplete(when=when_preview, region=regions)
    async def create(
        self,
        interaction: Interaction,
        title: app_commands.Range[str, 1, 100],
        when: str,
        duration: app_commands.Range[int, 15, 720] = 120,
        venue: app_commands.Range[str, 1, 100] | None = None,
        online_url: str | None = None,
        channel: VoiceOrStage | None = None,
        region: str | None = None,
        capacity: app_commands.Range[int, 1] | None = None,
        description: app_commands.Range[str, 1, 1000] | None = None,
        repeat: str = Repeat.NONE.value,
        until: str | None = None,
        reminders: str | None = None,
    ) -> None:
        await take_quota(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        draft = MeetupDraft(
            title=title,
            when=when,
            duration_minutes=duration,
            venue=venue,
            online_url=online_url,
            voice_channel_id=channel.id if channel else None,
            region=region,
            capacity=capacity,
            description=description,
            repeat=Repeat(repeat),
            until=until,
            reminders=reminders,
        )
        created = await self.bot.meetups.create(actor(interaction), draft)
        meetup = created.meetup
        try:
            message = await self.announce(meetup)
        except discord.HTTPException as error:
            await self.bot.meetups.discard(meetup.id)
            raise BadInput(
                f"I couldn't post the announcement in <#{meetup.announcement_channel_id}> "
                f"({error.status}: {error.text or 'refused'}), so nothing was scheduled. Check the "
                "bot's permissions there (`/setup channel` says what is missing) and try again."
            ) from None
        event_note = await self.mirror_event(interaction.guild, meetup)
        lines = [
            f"Scheduled **TechMeet #{meetup.number}** for {_embeds.when_text(meetup)}: "
            + message.jump_url
        ]
        if meetup.reminder_offsets:
            lines.append(f"Reminders: {format_offsets(meetup.reminder_offsets)} before.")
        if created.skipped_offsets:
            lines.append(
                "Not created, already past: "
                f"{format_offsets(tuple(created.skipped_offsets))} before."
            )
        if event_note:
            lines.append(event_note)
        await reply(interaction, "\n".join(lines))

    async def announce(self, meetup: MeetupView, *, nonce: str | None = None) -> discord.Message:
        """Post the announcement (pinging only the ping role) and open its thread."""
        settings = await self.bot.guild_settings.get(meetup.guild_id)
        channel = self.bot.get_partial_messageable(
            meetup.announcement_channel_id or 0,
            guild_id=meetup.guild_id,
            type=discord.ChannelType.text,
        )
        ping = settings.ping_role_id
        message: discord.Message = await channel.send(
            content=f"<@&{ping}> a new TechMeet!" if ping else None,
            embed=_embeds.announcement(meetup, tz_name=settings.timezone),
            view=announcement_view(meetup.id, status=meetup.status),
            allowed_mentions=ping_only(ping),
            # A series' next announcement, re-posted after a crash, must not appear twice.
            nonce=message_nonce(nonce),
        )
        thread_id = None
        try:
            thread = await message.create_thread(
                name=thread_name(meetup),
                auto_archive_duration=10080,
            )
            thread_id = thread.id
        except discord.HTTPException as error:
            log.warning("no thread for TechMeet %s: %s", meetup.id, error)
        await self.bot.meetups.attach_announcement(
            meetup.id, channel_id=message.channel.id, message_id=message.id, thread_id=thread_id
        )
        return message

    async def mirror_event(self, guild: discord.Guild | None, meetup: MeetupView) -> str | None:
        """A Discord Scheduled Event mirroring the meetup, when the bot may create one."""
        if guild is None or guild.me is None:
            return None
        perms = guild.me.guild_permissions
        if not (perms.create_events or perms.manage_events):
            return (
                "No Discord event was added: give the bot *Create Events* to mirror meetups there."
            )
        try:
            event = await guild.create_scheduled_event(**_event_fields(guild, meetup))
        except discord.HTTPException as error:
            log.warning("could not create a scheduled event for %s: %s", meetup.id, error)
            return "The Discord event could not be added; the meetup itself is fine."
        await self.bot.meetups.attach_event(meetup.id, event.id)
        return None

    async def rename_thread(self, meetup: MeetupView) -> None:
        """The meetup's thread carries its title; follow a new one."""
        if meetup.thread_id is None:
            return
        try:
            thread = await self.bot.fetch_channel(meetup.thread_id)
            if isinstance(thread, discord.Thread):
                await thread.edit(name=thread_name(meetup))
        except discord.HTTPException as error:
            log.warning("could not rename the thread of TechMeet %s: %s", meetup.id, error)

    async def sync_event(self, guild: discord.Guild | None, meetup: MeetupView) -> None:
        if guild is None or meetup.scheduled_event_id is None:
            return
        try:
            event = await guild.fetch_scheduled_event(meetup.scheduled_event_id)
            if meetup.cancelled:
                await event.cancel()
            else:
                await event.edit(**_event_fields(guild, meetup))
        except discord.HTTPException as error:
            log.warning("could not update scheduled event %s: %s", meetup.scheduled_event_id, error)

    @techmeet.command(name="edit", description="Change a TechMeet (organisers).")
    @app_commands.describe(
        meetup="Which TechMeet",
        when="New start time",
        venue="New venue; - to clear",
        online_url="New link; - to clear",
        capacity="New capacity; 0 for no limit",
        reminders="New reminder times, e.g. 1d,1h",
    )
    @app_commands.autocomplete(meetup=upcoming_meetups)
    @app_commands.autocomplete(when=when_preview, region=regions)
    async def edit(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        title: app_commands.Range[str, 1, 100] | None = None,
        when: str | None = None,
        duration: app_commands.Range[int, 15, 720] | None = None,
        venue: app_commands.Range[str, 1, 100] | None = None,
        online_url: str | None = None,
        channel: VoiceOrStage | None = None,
        region: str | None = None,
        capacity: app_commands.Range[int, 0] | None = None,
        description: app_commands.Range[str, 1, 1000] | None = None,
        reminders: str | None = None,
    ) -> None:
        await take_quota(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        draft = MeetupDraft(
            title=title,
            when=when,
            duration_minutes=duration,
            venue=venue,
            online_url=online_url,
            voice_channel_id=channel.id if channel else None,
            region=region,
            capacity=capacity,
            description=description,
            reminders=reminders,
        )
        changed = await self.bot.meetups.edit(actor(interaction), meetup, draft)
        view = changed.meetup
        refresh_announcement(self.bot, view.id)
        await self.sync_event(interaction.guild, view)
        if changed.time_changed:
            self.bot.dispatch("meetup_moved", view.id, view.starts_at)
        if changed.title_changed:
            await self.rename_thread(view)
        told = ""
        if changed.notify:
            await self.tell_attendees(view, changed.notify, change_notice(view, changed))
            told = f" I told the {len(changed.notify)} people going or maybe."
        if changed.promoted:
            await notify_promoted(self.bot, view.id, changed.promoted)
        skipped = (
            f" Reminders already past, not sent: {format_offsets(tuple(changed.skipped_offsets))}."
            if changed.skipped_offsets
            else ""
        )
        await reply(interaction, f"Updated TechMeet #{view.number}.{told}{skipped}")

    @techmeet.command(name="cancel", description="Cancel a TechMeet (organisers).")
    @app_commands.autocomplete(meetup=upcoming_meetups)
    async def cancel(
        self,
        interaction: Interaction,
        meetup: MeetupNumber,
        reason: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        # Counted when asked: each question leads to at most one cancellation.
        await take_quota(interaction)
        view = await self.bot.meetups.by_number(actor(interaction).guild_id, meetup)
        await self.bot.meetups.require_organiser(actor(interaction))
        if view.cancelled:
            raise BadInput(f"TechMeet #{meetup} is already cancelled.")
        confirm = ConfirmCancel(
            self, meetup, reason, series=view.series_id is not None, owner=interaction.user.id
        )
        question = (
            f"Cancel **TechMeet #{view.number}: {inert(view.title)}** on {_embeds.when_text(view)}?"
        )
        if view.series_id is not None:
            question += " It is part of a repeating series."
        await reply(interaction, question, view=confirm)

    async def do_cancel(
        self, interaction: Interaction, number: int, reason: str | None, *, whole_series: bool
    ) -> None:
        changed = await self.bot.meetups.cancel(
            actor(interaction), number, reason, whole_series=whole_series
        )
        view = changed.meetup
        series = " The series is stopped too." if whole_series and view.series_id else ""
        told = " Everyone who had answered is being told." if changed.notify else ""
        # Answer within Discord's 3 s; telling people and Discord's event can take longer.
        await interaction.response.edit_message(
            content=f"Cancelled TechMeet #{view.number}.{series}{told}", view=None
        )
        refresh_announcement(self.bot, view.id)
        await self.sync_event(interaction.guild, view)
        # Other features (the agenda vote) follow; they listen rather than being called.
        self.bot.dispatch("meetup_cancelled", view.id)
        if changed.notify:
            because = f" Reason: {inert(reason)}" if reason else ""
            await self.tell_attendees(
                view,
                changed.notify,
                f"**TechMeet #{view.number}** on {_embeds.when_text(view)} is cancelled.{because}",
            )

    async def tell_attendees(self, meetup: MeetupView, user_ids: list[int], text: str) -> None:
        """One post in the meetup's thread mentioning those affected (100 per message)."""
        where = meetup.thread_id or meetup.announcement_channel_id
        if where is None:
            return
        channel = self.bot.get_partial_messageable(where)
        for start in range(0, len(user_ids), 50):
            chunk = user_ids[start : start + 50]
            try:
                await channel.send(
                    " ".join(f"<@{uid}>" for uid in chunk) + "\n" + text,
                    allowed_mentions=discord.AllowedMentions(
                        users=[discord.Object(u) for u in chunk]
                    ),
                )
            except discord.HTTPException as error:
                log.warning("could not tell attendees of %s: %s", meetup.id, error)
                return

    @techmeet.command(name="attendees", description="Who is going, maybe and waiting (organisers).")
    @app_commands.autocomplete(meetup=any_meetups)
    async def attendees(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        view, people = await self.bot.meetups.attendees(actor(interaction), meetup)
        by_status: dict[RsvpStatus, list[int]] = {status: [] for status in RsvpStatus}
        for person in sorted(people, key=lambda p: p.waitlist_rank or 0):
            by_status[person.status].append(person.user_id)
        embed = discord.Embed(
            title=cut(f"TechMeet #{view.number}: {inert(view.title)}", 256),
            description="\n".join(
                [
                    _embeds.people("Going", by_status[RsvpStatus.GOING]),
                    _embeds.people("Maybe", by_status[RsvpStatus.MAYBE]),
                    _embeds.people("Waitlist", by_status[RsvpStatus.WAITLISTED]),
                    _embeds.people("Can't go", by_status[RsvpStatus.NOT_GOING]),
                ]
            )[:4096],
        )
        await reply(
            interaction,
            embed=embed,
            file=discord.File(
                io.BytesIO(self.attendees_csv(interaction.guild, people)),
                f"techmeet-{view.number}-attendees.csv",
            ),
        )

    def attendees_csv(self, guild: discord.Guild | None, people: list[Attendee]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["status", "waitlist position", "name", "user id", "answered at (UTC)"])
        for person in people:
            member = guild.get_member(person.user_id) if guild else None
            name = member.display_name if member else ""
            writer.writerow(
                [
                    person.status.value.replace("_", " "),
                    person.waitlist_rank or "",
                    _spreadsheet_safe(name),
                    str(person.user_id),
                    person.updated_at.strftime("%Y-%m-%d %H:%M"),
                ]
            )
        return out.getvalue().encode("utf-8-sig")

    @techmeet.command(
        name="stats",
        description="Turnout, feedback and actions over recent TechMeets (organisers).",
    )
    async def stats(self, interaction: Interaction) -> None:
        rows = await self.bot.meetups.stats(actor(interaction))
        await reply(interaction, embed=_embeds.stats(rows))

    # --- everyone -------------------------------------------------------------------------

    @techmeet.command(name="list", description="Upcoming TechMeets, soonest first.")
    @app_commands.autocomplete(region=regions)
    async def list_(self, interaction: Interaction, region: str | None = None) -> None:
        guild_id = actor(interaction).guild_id
        meetups = await self.bot.meetups.upcoming(guild_id, region, limit=LIST_LENGTH)
        if not meetups:
            where = f" in {inert(region)}" if region else ""
            await reply(
                interaction,
                f"No TechMeets coming up{where}. "
                "Organisers can schedule one with `/techmeet create`.",
            )
            return
        lines = [
            f"**#{m.number}** {format_dt(m.starts_at, 'f')} · {inert(m.title)}"
            + (f" · {m.region}" if m.region else "")
            + f" · {_embeds.counts_text(m)}"
            for m in meetups
        ]
        embed = discord.Embed(
            title="Coming up", description=cut("\n".join(lines), 4096), colour=_embeds.COLOUR
        )
        if len(meetups) == LIST_LENGTH:
            more = await self.bot.meetups.count_upcoming(guild_id, region) - LIST_LENGTH
            if more:
                embed.set_footer(text=f"and {more} more")
        await reply(interaction, embed=embed)

    @techmeet.command(name="info", description="Everything about one TechMeet, and your RSVP.")
    @app_commands.autocomplete(meetup=any_meetups)
    async def info(self, interaction: Interaction, meetup: MeetupNumber) -> None:
        guild_id = actor(interaction).guild_id
        details = await self.bot.meetups.details(guild_id, meetup, interaction.user.id)
        settings = await self.bot.guild_settings.get(guild_id)
        view = details.meetup
        buttons = announcement_view(
            view.id, status=view.status, closed=view.starts_at <= self.bot.clock()
        )
        embed = _embeds.details(details, tz_name=settings.timezone)
        for section in self.info_sections:
            added = await section(view.id)
            if added is not None:
                embed.add_field(name=added[0], value=added[1], inline=False)
        await reply(interaction, embed=embed, view=buttons)

    @techmeet.command(
        name="calendar", description="A calendar file for one TechMeet, or all upcoming ones."
    )
    @app_commands.autocomplete(meetup=any_meetups)
    async def calendar(self, interaction: Interaction, meetup: MeetupNumber | None = None) -> None:
        guild_id = actor(interaction).guild_id
        if meetup is not None:
            meetups = [await self.bot.meetups.by_number(guild_id, meetup)]
        else:
            # Cancelled ones too: a calendar that imported them learns they are off.
            meetups = await self.bot.meetups.upcoming(guild_id, include_cancelled=True)
            if not meetups:
                raise NotFound("No TechMeets coming up to put in a calendar.")
        await send_calendar(interaction, meetups)

    @techmeet.command(
        name="remind-me", description="Also get meetup reminders by DM (or stop them)."
    )
    async def remind_me(self, interaction: Interaction, setting: Literal["on", "off"]) -> None:
        await take_quota(interaction)
        who = actor(interaction)
        await self.bot.meetups.set_dm_reminders(who.guild_id, who.user_id, setting == "on")
        await reply(
            interaction,
            "Done: reminders for meetups you're going to (or maybe) will also come by DM."
            if setting == "on"
            else "Done: no reminder DMs. Reminders still appear in the announcements channel.",
        )

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Series occurrences created while the guild was not yet known (jobs run at start-up,
        before the gateway delivers guilds) get their Discord event now."""
        for meetup in await self.bot.meetups.series_occurrences_without_event(guild.id):
            await self.mirror_event(guild, meetup)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left: their places go to the next on each waitlist."""
        changed = await self.bot.meetups.member_left(payload.guild_id, payload.user.id)
        for meetup, promoted in changed:
            refresh_announcement(self.bot, meetup.id)
            if promoted:
                await notify_promoted(self.bot, meetup.id, promoted)


class ConfirmCancel(discord.ui.View):
    """Asks before cancelling. Short-lived on purpose: after a restart, cancel again. No
    quota of its own: the /techmeet cancel that asked counted, and one click ends it."""

    def __init__(
        self, cog: MeetupsCog, number: int, reason: str | None, *, series: bool, owner: int
    ) -> None:
        super().__init__(timeout=300)
        self.cog, self.number, self.reason, self.owner = cog, number, reason, owner
        if not series:
            self.remove_item(self.cancel_series)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return bool(interaction.user.id == self.owner)

    @discord.ui.button(label="Cancel this TechMeet", style=discord.ButtonStyle.danger)
    async def cancel_one(
        self, interaction: Interaction, button: discord.ui.Button[ConfirmCancel]
    ) -> None:
        await self.cog.do_cancel(interaction, self.number, self.reason, whole_series=False)

    @discord.ui.button(label="Cancel it and stop the series", style=discord.ButtonStyle.danger)
    async def cancel_series(
        self, interaction: Interaction, button: discord.ui.Button[ConfirmCancel]
    ) -> None:
        await self.cog.do_cancel(interaction, self.number, self.reason, whole_series=True)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await handle_error(interaction, error)


def thread_name(meetup: MeetupView) -> str:
    return cut(f"TechMeet #{meetup.number}: {meetup.title}", 100)


def change_notice(view: MeetupView, changed: Changed) -> str:
    """What changed, said plainly: the new time and/or where it now happens."""
    what = " and ".join(
        part
        for part, did in (("time", changed.time_changed), ("place", changed.place_changed))
        if did
    )
    details = [f"now {_embeds.when_text(view)}"]
    if changed.place_changed:
        details += [
            f"at {inert(view.venue)}" if view.venue else "no venue",
            f"online at {view.online_url}" if view.online_url else "",
            f"in <#{view.voice_channel_id}>" if view.voice_channel_id else "",
        ]
    return (
        f"**TechMeet #{view.number}** has changed {what}: "
        + ", ".join(detail for detail in details if detail)
        + "."
    )


def _spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _event_fields(guild: discord.Guild, meetup: MeetupView) -> dict[str, Any]:
    note = (
        "Discord's Interested is not an RSVP: use the Going / Maybe buttons on the "
        "announcement so the organisers know who's coming."
    )
    # The note always fits: the organiser's description is cut around it.
    room = 1000 - len(note) - 2
    description = f"{cut(meetup.description, room)}\n\n{note}" if meetup.description else note
    fields: dict[str, Any] = {
        "name": cut(f"TechMeet #{meetup.number}: {meetup.title}", 100),
        "start_time": meetup.starts_at,
        "end_time": meetup.starts_at + timedelta(minutes=meetup.duration_minutes),
        "description": description,
        "privacy_level": discord.PrivacyLevel.guild_only,
    }
    channel = guild.get_channel(meetup.voice_channel_id) if meetup.voice_channel_id else None
    if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
        fields["channel"] = channel
        fields["entity_type"] = (
            discord.EntityType.stage_instance
            if isinstance(channel, discord.StageChannel)
            else discord.EntityType.voice
        )
    else:
        fields["entity_type"] = discord.EntityType.external
        fields["location"] = cut(meetup.venue or meetup.online_url or "Online", 100)
    return fields
