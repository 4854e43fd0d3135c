"""Persistent buttons on meetup messages. custom_ids carry the meetup id; every click
re-loads the meetup and re-checks what the member may do."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.domain.meetups import MeetupStatus, RsvpStatus
from bot.errors import NotFound
from bot.services import calendar
from cogs._ui import ReportsErrors, reply
from cogs.meetups import _embeds

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

_ANSWERS = {"going": RsvpStatus.GOING, "maybe": RsvpStatus.MAYBE, "no": RsvpStatus.NOT_GOING}


class RsvpButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"rsvp:(?P<meetup_id>\d+):(?P<answer>going|maybe|no)",
    # No quota: RSVPs are latency-critical (≤3 round trips) and idempotent (one per member).
    quota=None,
):
    LABELS: ClassVar = {"going": "Going", "maybe": "Maybe", "no": "Can't go"}
    STYLES: ClassVar = {
        "going": discord.ButtonStyle.success,
        "maybe": discord.ButtonStyle.secondary,
        "no": discord.ButtonStyle.secondary,
    }

    def __init__(self, meetup_id: int, answer: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.LABELS[answer],
                style=self.STYLES[answer],
                custom_id=f"rsvp:{meetup_id}:{answer}",
                disabled=disabled,
            )
        )
        self.meetup_id = meetup_id
        self.answer = answer

    async def run(self, interaction: Interaction) -> None:
        bot = interaction.client
        if interaction.guild_id is None:
            raise NotFound("RSVPs work inside the server.")
        outcome = await bot.meetups.rsvp(
            interaction.guild_id, interaction.user.id, self.meetup_id, _ANSWERS[self.answer]
        )
        name = f"TechMeet #{outcome.meetup.number}"
        await reply(
            interaction, rsvp_message(name, outcome.status, outcome.previous, outcome.waitlist_rank)
        )
        refresh_announcement(bot, self.meetup_id)
        if outcome.promoted:
            await notify_promoted(bot, outcome.meetup.id, outcome.promoted)


def rsvp_message(
    name: str, status: RsvpStatus, previous: RsvpStatus | None, rank: int | None
) -> str:
    if status is previous:
        return {
            RsvpStatus.GOING: f"You're already going to {name}.",
            RsvpStatus.WAITLISTED: f"You're still on the waitlist for {name}, position {rank}.",
            RsvpStatus.MAYBE: f"You already said maybe to {name}.",
            RsvpStatus.NOT_GOING: f"You already said you can't go to {name}.",
        }[status]
    return {
        RsvpStatus.GOING: f"You're going to {name}. See you there!",
        RsvpStatus.WAITLISTED: (
            f"{name} is full, so you're on the waitlist, position {rank}. If a place frees up "
            "you'll get it automatically and I'll let you know."
        ),
        RsvpStatus.MAYBE: f"Noted: maybe for {name}.",
        RsvpStatus.NOT_GOING: f"Noted: you can't go to {name}.",
    }[status]


class WhoButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"rsvp:(?P<meetup_id>\d+):who",
    quota=None,  # read-only
):
    def __init__(self, meetup_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Who's going",
                style=discord.ButtonStyle.secondary,
                custom_id=f"rsvp:{meetup_id}:who",
            )
        )
        self.meetup_id = meetup_id

    async def run(self, interaction: Interaction) -> None:
        meetup = await _meetup_here(interaction, self.meetup_id)
        lists = await interaction.client.meetups.rsvp_lists(meetup.id)
        text = "\n".join(
            [
                _embeds.people("Going", lists[RsvpStatus.GOING]),
                _embeds.people("Maybe", lists[RsvpStatus.MAYBE]),
                _embeds.people("Waitlist", lists[RsvpStatus.WAITLISTED]),
            ]
        )
        embed = discord.Embed(title=f"TechMeet #{meetup.number}", description=text[:4096])
        await reply(interaction, embed=embed)


class CalendarButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"cal:(?P<meetup_id>\d+)",
    quota=None,  # read-only: a private calendar file
):
    def __init__(self, meetup_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Add to calendar",
                style=discord.ButtonStyle.secondary,
                custom_id=f"cal:{meetup_id}",
            )
        )
        self.meetup_id = meetup_id

    async def run(self, interaction: Interaction) -> None:
        meetup = await _meetup_here(interaction, self.meetup_id)
        await send_calendar(interaction, [meetup])


async def send_calendar(interaction: Interaction, meetups: list[Any]) -> None:
    bot = interaction.client
    data = calendar.ics(meetups, now=bot.clock(), name="TechMeets")
    filename = f"techmeet-{meetups[0].number}.ics" if len(meetups) == 1 else "techmeets.ics"
    view = discord.ui.View()
    if len(meetups) == 1:
        for label, link in (
            ("Google Calendar", calendar.google_link(meetups[0])),
            ("Outlook", calendar.outlook_link(meetups[0])),
        ):
            if link is not None:
                view.add_item(discord.ui.Button(label=label, url=link))
    await reply(
        interaction,
        "Open the file to add it to your calendar"
        + (", or use a link below." if len(meetups) == 1 else "."),
        file=discord.File(io.BytesIO(data), filename=filename),
        view=view,
    )


async def _meetup_here(interaction: Interaction, meetup_id: int) -> Any:
    meetup = await interaction.client.meetups.get(meetup_id)
    if meetup is None or meetup.guild_id != interaction.guild_id:
        raise NotFound("That TechMeet no longer exists.")
    return meetup


def announcement_view(
    meetup_id: int, *, status: MeetupStatus, closed: bool = False
) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    disabled = closed or status is MeetupStatus.CANCELLED
    for answer in ("going", "maybe", "no"):
        view.add_item(RsvpButton(meetup_id, answer, disabled=disabled))
    view.add_item(WhoButton(meetup_id))
    view.add_item(CalendarButton(meetup_id))
    return view


def refresh_announcement(bot: TechMeetBot, meetup_id: int) -> None:
    """Bring the announcement's counts up to date, coalesced: at most one edit per 2 s."""

    async def edit() -> None:
        meetup = await bot.meetups.get(meetup_id)
        if meetup is None or meetup.announcement_message_id is None:
            return
        settings = await bot.guild_settings.get(meetup.guild_id)
        channel = bot.get_partial_messageable(meetup.announcement_channel_id or 0)
        await channel.get_partial_message(meetup.announcement_message_id).edit(
            embed=_embeds.announcement(meetup, tz_name=settings.timezone),
            view=announcement_view(meetup.id, status=meetup.status),
        )

    bot.edits.request(("announcement", meetup_id), edit)


async def notify_promoted(bot: TechMeetBot, meetup_id: int, user_ids: list[int]) -> None:
    """Tell members who moved up from the waitlist: by DM, or in the meetup's thread."""
    meetup = await bot.meetups.get(meetup_id)
    if meetup is None:
        return
    text = (
        f"A place came free: you're now **going** to TechMeet #{meetup.number}, "
        f"{_embeds.when_text(meetup)}. If you can't make it, click Can't go on the announcement."
    )
    unreachable = []
    for user_id in user_ids:
        try:
            dm = await bot.create_dm(discord.Object(user_id))
            await dm.send(text)
        except discord.HTTPException:
            unreachable.append(user_id)
    where = meetup.thread_id or meetup.announcement_channel_id
    if unreachable and where:
        mentions = " ".join(f"<@{uid}>" for uid in unreachable[:50])
        await bot.get_partial_messageable(where).send(
            f"{mentions} {text}",
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(u) for u in unreachable[:50]]
            ),
        )
