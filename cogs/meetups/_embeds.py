"""How meetups look in Discord: announcement, reminder, details and attendee lists."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import discord
from discord.utils import format_dt

from bot.domain.guild_settings import format_offset
from bot.domain.meetups import Lateness, Repeat, describe_repeat
from bot.services.meetups import MeetupDetails, MeetupStats, MeetupView, Reminder
from cogs._ui import cut, inert

COLOUR = discord.Colour.from_rgb(46, 134, 171)
CANCELLED_COLOUR = discord.Colour.dark_grey()


def when_text(meetup: MeetupView) -> str:
    """Discord timestamps: every reader sees their own local time."""
    return f"{format_dt(meetup.starts_at, 'F')} ({format_dt(meetup.starts_at, 'R')})"


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return " ".join(
        part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if part
    )


def counts_text(meetup: MeetupView) -> str:
    going = f"**{meetup.going}** going"
    if meetup.capacity is not None:
        going += f" of {meetup.capacity}"
        if meetup.places_left == 0:
            going += " (full)"
    parts = [going, f"**{meetup.maybe}** maybe"]
    if meetup.waitlisted:
        parts.append(f"**{meetup.waitlisted}** on the waitlist")
    return " · ".join(parts)


def _where(meetup: MeetupView) -> list[tuple[str, str]]:
    fields = []
    if meetup.venue:
        fields.append(("Venue", inert(meetup.venue)))
    if meetup.voice_channel_id:
        fields.append(("On Discord", f"<#{meetup.voice_channel_id}>"))
    if meetup.online_url:
        fields.append(("Online", meetup.online_url))
    if meetup.region:
        fields.append(("Region", meetup.region))
    return fields


def announcement(meetup: MeetupView, *, tz_name: str) -> discord.Embed:
    title = f"TechMeet #{meetup.number}: {meetup.title}"
    embed = discord.Embed(
        title=cut(inert(title), 256),
        description=inert(meetup.description) if meetup.description else None,
        colour=CANCELLED_COLOUR if meetup.cancelled else COLOUR,
    )
    if meetup.cancelled:
        reason = f": {inert(meetup.cancel_reason)}" if meetup.cancel_reason else ""
        embed.add_field(
            name="Cancelled", value=f"This TechMeet was cancelled{reason}", inline=False
        )
    embed.add_field(name="When", value=when_text(meetup), inline=False)
    embed.add_field(name="Duration", value=_duration(meetup.duration_minutes), inline=True)
    for name, value in _where(meetup):
        embed.add_field(name=name, value=cut(value, 1024), inline=True)
    if meetup.repeat is not Repeat.NONE:
        local = meetup.starts_at.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)
        embed.add_field(name="Repeats", value=describe_repeat(meetup.repeat, local), inline=True)
    embed.add_field(name="RSVPs", value=counts_text(meetup), inline=False)
    add_agenda(embed, meetup)
    embed.set_footer(text="RSVP with the buttons below. Times show in your own timezone.")
    return embed


def add_agenda(embed: discord.Embed, meetup: MeetupView) -> None:
    """The topics members chose by vote, in order."""
    if meetup.agenda:
        lines = [f"{place}. {inert(title)}" for place, title in enumerate(meetup.agenda, start=1)]
        embed.add_field(
            name="Agenda (chosen by vote)", value=cut("\n".join(lines), 1024), inline=False
        )


def reminder(r: Reminder) -> tuple[str, discord.Embed]:
    meetup = r.meetup
    late = (
        " (sent late: the bot was offline at the planned time)"
        if r.lateness is Lateness.LATE
        else ""
    )
    content = (
        f"Reminder: **TechMeet #{meetup.number}** starts {format_dt(meetup.starts_at, 'R')}{late}."
    )
    embed = discord.Embed(title=cut(inert(meetup.title), 256), colour=COLOUR)
    embed.add_field(name="When", value=when_text(meetup), inline=False)
    for name, value in _where(meetup):
        embed.add_field(name=name, value=cut(value, 1024), inline=True)
    embed.add_field(name="RSVPs", value=counts_text(meetup), inline=False)
    add_agenda(embed, meetup)
    return content, embed


def details(d: MeetupDetails, *, tz_name: str) -> discord.Embed:
    embed = announcement(d.meetup, tz_name=tz_name)
    embed.set_footer(text=None)
    mine = {
        None: "You haven't answered yet.",
        "going": "You're going.",
        "maybe": "You said maybe.",
        "not_going": "You said you can't go.",
        "waitlisted": f"You're on the waitlist (position {d.my_waitlist_rank}).",
    }[d.my_rsvp.value if d.my_rsvp else None]
    embed.add_field(name="Your RSVP", value=mine, inline=False)
    if d.reminders:
        lines = []
        for job in d.reminders:
            state = {
                "pending": "planned",
                "claimed": "being sent",
                "done": "sent",
                "skipped": "skipped",
                "failed": "**failed**",
                "cancelled": "cancelled",
            }.get(job.state, job.state)
            why = (
                f": {inert(job.result)}"
                if job.state in ("failed", "skipped") and job.result
                else ""
            )
            lines.append(
                f"{format_offset(job.offset_minutes)} before, "
                f"{format_dt(job.due_at, 'f')}: {state}{why}"
            )
        embed.add_field(name="Reminders", value=cut("\n".join(lines), 1024), inline=False)
    return embed


def people(title: str, user_ids: list[int]) -> str:
    if not user_ids:
        return f"**{title}**: nobody yet"
    shown = ", ".join(f"<@{uid}>" for uid in user_ids[:80])
    more = f" and {len(user_ids) - 80} more" if len(user_ids) > 80 else ""
    return f"**{title} ({len(user_ids)})**: {shown}{more}"


def stats(rows: list[MeetupStats]) -> discord.Embed:
    embed = discord.Embed(title="Is the network worth it? The last TechMeets", colour=COLOUR)
    if not rows:
        embed.description = "No TechMeet has happened yet."
        return embed
    lines = []
    for row in rows:
        m = row.meetup
        going = f"{m.going}/{m.capacity}" if m.capacity else f"{m.going}"
        rating = (
            f"{row.average:.1f}/5 from {len(row.ratings)} "
            f"({row.rating_voters_going} had said Going)"
            if row.average is not None
            else "no ratings"
        )
        lines.append(
            f"**#{m.number}** {format_dt(m.starts_at, 'd')}: {going} going · {rating} · "
            f"{len(row.actions)} actions"
        )
    embed.description = cut("\n".join(lines), 4096)
    rated = [r.average for r in rows if r.average is not None]
    embed.add_field(
        name="Trend",
        value=(
            f"Average going: {sum(r.meetup.going for r in rows) / len(rows):.1f} per meetup\n"
            + (f"Average rating: {sum(rated) / len(rated):.1f}/5" if rated else "No ratings yet")
        ),
        inline=False,
    )
    actions = [f"• {inert(a)}" for r in rows for a in r.actions][:15]
    if actions:
        embed.add_field(
            name="What people said they'd do", value=cut("\n".join(actions), 1024), inline=False
        )
    return embed
