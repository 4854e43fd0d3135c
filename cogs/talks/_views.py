"""How talks look (lines, line-ups, the on-stage timer), telling speakers, and the buttons:
review's Accept / Decline, and the timer's Stop.

Buttons that must outlive a restart are dynamic items whose custom_id carries ids only.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import discord
from discord.utils import format_dt

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.talks import OrderMode, TalkStatus
from bot.errors import NotReady
from bot.services.talks import Changed, Lineup, SettingsView, TalkView, Timer
from cogs._ui import (
    FORM_WAIT_SECONDS,
    ReportsErrors,
    actor,
    cut,
    handle_error,
    inert,
    message_nonce,
    reply,
    take_quota,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

COLOUR = discord.Colour.from_rgb(230, 140, 40)
# Discord allows 5 rows of components: one proposal (Accept, Decline) per row.
REVIEW_PAGE = 5
MESSAGE_LIMIT = 2000


# --- text ------------------------------------------------------------------------------------


def speaker(talk: TalkView) -> str:
    return f"<@{talk.speaker_id}>" if talk.speaker_id else "a former member"


def talk_line(talk: TalkView, *, by: bool = True) -> str:
    """`Talk #4 · Title · 5 min · by @Sam` with the title made inert."""
    who = f" · by {speaker(talk)}" if by else ""
    return f"**Talk #{talk.number}** · {inert(cut(talk.title, 100))} · {talk.length} min{who}"


def slides(url: str | None) -> str:
    # Angle brackets: a plain link with no preview card, never part of a masked link.
    return f"<{url}>" if url else "no slides link"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def status_text(changed: Changed) -> str:
    """Where a talk stands, in the speaker's words."""
    talk = changed.talk
    if talk.status is TalkStatus.ACCEPTED:
        return (
            f"accepted for TechMeet #{changed.meetup_number}. `/talk list` shows the running order"
        )
    if talk.status is TalkStatus.PENDING:
        return f"waiting for an organiser to review it (TechMeet #{changed.meetup_number})"
    if talk.status is TalkStatus.RESERVE:
        rank = changed.reserve_rank or 0
        return (
            f"on the reserve list for TechMeet #{changed.meetup_number}, {ordinal(rank)} in line:"
            " it gets in as soon as minutes free up"
        )
    return f"{talk.status.value} (TechMeet #{changed.meetup_number})"


def local_time(when: datetime, tz_name: str) -> str:
    return f"{when.astimezone(ZoneInfo(tz_name)):%H:%M}"


def settings_embed(settings: SettingsView) -> discord.Embed:
    embed = discord.Embed(
        title=f"Lightning talks for TechMeet #{settings.meetup_number}", colour=COLOUR
    )
    embed.add_field(
        name="Lengths", value=", ".join(f"{n} min" for n in settings.lengths), inline=True
    )
    embed.add_field(
        name="Budget",
        value=f"{settings.accepted_minutes} of {settings.budget} minutes taken",
        inline=True,
    )
    embed.add_field(name="Proposals close", value=format_dt(settings.deadline, "f"), inline=True)
    embed.add_field(
        name="Approval",
        value="organisers review each proposal"
        if settings.approval.value == "review"
        else "automatic while the budget allows",
        inline=True,
    )
    embed.add_field(name="Talks per member", value=str(settings.max_per_member), inline=True)
    embed.add_field(name="Changeover", value=f"{settings.changeover} min", inline=True)
    return embed


def lineup_messages(lineup: Lineup) -> list[tuple[str, list[int]]]:
    """The running order as posts of at most 2000 characters, each with the speakers it
    mentions (they, and only they, are pinged)."""
    tz = lineup.timezone
    if lineup.mode is OrderMode.DRAW:
        head = (
            f"**Lightning talks at TechMeet #{lineup.meetup_number}**, from "
            f"{format_dt(lineup.starts_at, 'f')}. No fixed order tonight: each speaker is "
            "drawn live, fruit-machine style, so be ready from the start!"
        )
        lines = [(f"• {talk_line(t)}", t.speaker_id) for t in lineup.talks]
    else:
        head = (
            f"**Running order for TechMeet #{lineup.meetup_number}**, from "
            f"{format_dt(lineup.starts_at, 'f')}. Planned times are {tz} time."
        )
        lines = [
            (f"{i}. `{local_time(lineup.slots[t.id].starts_at, tz)}` {talk_line(t)}", t.speaker_id)
            for i, t in enumerate(lineup.talks, start=1)
        ]
    if not lines:
        lines = [("No talks accepted yet. Propose one with `/talk propose`!", None)]
    posts: list[tuple[str, list[int]]] = []
    text, people = head, list[int]()
    for line, speaker_id in lines:
        if len(text) + 1 + len(line) > MESSAGE_LIMIT:
            posts.append((text, people))
            text, people = "(continued)", []
        text += "\n" + line
        # A member may give two talks (their own and a topic they lead); Discord refuses
        # a user listed twice in allowed_mentions.
        if speaker_id and speaker_id not in people:
            people.append(speaker_id)
    posts.append((text, people))
    return posts


def list_embed(lineup: Lineup) -> discord.Embed:
    """/talk list: accepted (in order, with planned times), pending and reserves."""
    tz = lineup.timezone
    embed = discord.Embed(
        title=f"Talks for TechMeet #{lineup.meetup_number}",
        description=f"{lineup.accepted_minutes} of {lineup.budget} minutes taken. "
        + (
            "The order is drawn live on the night."
            if lineup.mode is OrderMode.DRAW
            else f"Planned times are {tz} time."
        ),
        colour=COLOUR,
    )
    accepted = [
        (f"`{local_time(lineup.slots[t.id].starts_at, tz)}` " if t.id in lineup.slots else f"{i}. ")
        + talk_line(t)
        for i, t in enumerate(lineup.talks, start=1)
    ]
    sections = (
        ("Accepted", accepted),
        ("Waiting for review", [talk_line(t) for t in lineup.pending]),
        ("Reserve list", [f"{i}. {talk_line(t)}" for i, t in enumerate(lineup.reserves, 1)]),
    )
    for name, lines in sections:
        if lines:
            embed.add_field(name=f"{name} ({len(lines)})", value=_fit(lines, 1024), inline=False)
    if not any(lines for _, lines in sections):
        embed.add_field(name="No talks yet", value="Propose one with `/talk propose`.")
    return embed


def talks_summary(lineup: Lineup) -> str:
    """For /techmeet info: the line-up in brief."""
    counts = f"{len(lineup.talks)} accepted ({lineup.accepted_minutes} of {lineup.budget} min)"
    if lineup.pending:
        counts += f", {len(lineup.pending)} waiting for review"
    if lineup.reserves:
        counts += f", {len(lineup.reserves)} on the reserve list"
    lines = [
        (
            f"`{local_time(lineup.slots[t.id].starts_at, lineup.timezone)}` "
            if t.id in lineup.slots
            else "• "
        )
        + talk_line(t)
        for t in lineup.talks
    ]
    return _fit([counts + ". `/talk list` has the details.", *lines], 1024)


def _fit(lines: list[str], limit: int) -> str:
    """As many whole lines as fit, then how many more there are."""
    shown: list[str] = []
    for i, line in enumerate(lines):
        more = f"…and {len(lines) - i} more"
        if len("\n".join([*shown, line])) + len(more) + 1 > limit:
            return "\n".join([*shown, more])
        shown.append(line)
    return "\n".join(shown)


def timer_content(timer: Timer, state: str) -> str:
    talk = timer.talk
    title = f"{speaker(talk)}: **{inert(cut(talk.title, 100))}** ({talk.length} min)"
    ends = f"Ends {format_dt(timer.ends_at, 'R')}, at {format_dt(timer.ends_at, 'T')}."
    return {
        "running": f"🎤 **On stage now**, Talk #{talk.number}: {title}\n{ends}",
        "warning": f"⏳ **30 seconds left**, Talk #{talk.number}: {title}\n{ends}",
        "up": f"⏰ **Time's up!** Talk #{talk.number}: {title}. Thank you!",
        "stopped": f"⏹️ Timer stopped. Talk #{talk.number}: {title}. Thank you!",
        "finished": f"✅ Finished: Talk #{talk.number}: {title}. Thank you!",
    }[state]


def archive_messages(number: int, talks: list[TalkView]) -> list[str]:
    head = (
        f"**The talks from TechMeet #{number}**, for anyone who couldn't make it. "
        "Thank you, speakers!"
    )
    lines = [f"• {talk_line(t)}\n  Slides: {slides(t.slides_url)}" for t in talks] or [
        "No talks were given."
    ]
    posts, text = [], head
    for line in lines:
        if len(text) + 1 + len(line) > MESSAGE_LIMIT:
            posts.append(text)
            text = "(continued)"
        text += "\n" + line
    posts.append(text)
    return posts


# --- where talk posts go, and telling speakers -------------------------------------------------


async def talks_channel(bot: TechMeetBot, guild_id: int) -> int:
    """The talks channel, or the announcements channel if there is none."""
    settings = await bot.guild_settings.get(guild_id)
    channel_id = settings.channel(ChannelPurpose.TALKS) or settings.channel(
        ChannelPurpose.ANNOUNCEMENTS
    )
    if channel_id is None:
        raise NotReady(
            "There's no talks channel yet. A server manager can set one with "
            "`/setup channel purpose:talks`."
        )
    return channel_id


async def tell_speaker(
    bot: TechMeetBot, guild_id: int, user_id: int | None, text: str, *, nonce: str | None = None
) -> None:
    """By DM; if DMs are closed, in the talks channel (pinging only that speaker)."""
    if user_id is None:
        return
    try:
        dm = await bot.create_dm(discord.Object(user_id))
        await dm.send(text, nonce=message_nonce(nonce))
    except discord.HTTPException as error:
        log.info("no DM for speaker %s: %s", user_id, error)
    else:
        return
    try:
        channel_id = await talks_channel(bot, guild_id)
    except NotReady:
        log.warning("speaker %s could not be told, and there is no talks channel", user_id)
        return
    await bot.get_partial_messageable(channel_id).send(
        f"<@{user_id}> {text}",
        allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)]),
        nonce=message_nonce(nonce and f"{nonce}c"),
    )


async def tell_promoted(bot: TechMeetBot, changed: Changed) -> None:
    for talk in changed.promoted:
        if talk.status is TalkStatus.ACCEPTED:
            text = (
                f"Good news: minutes came free and your {talk_line(talk, by=False)} is now "
                f"**accepted** for TechMeet #{changed.meetup_number}. `/talk list` shows the "
                "running order; `/talk withdraw` if you can't make it."
            )
        else:
            text = (
                f"Minutes came free: your {talk_line(talk, by=False)} for TechMeet "
                f"#{changed.meetup_number} moved off the reserve list and is waiting for an "
                "organiser's review."
            )
        await tell_speaker(bot, talk.guild_id, talk.speaker_id, text)


# --- review ----------------------------------------------------------------------------------


async def review_page(
    bot: TechMeetBot, interaction: Interaction, meetup_number: int, page: int
) -> dict[str, Any]:
    """One page of pending proposals, as message fields (embed + view)."""
    settings, pending = await bot.talks.pending(actor(interaction), meetup_number)
    pages = max(1, -(-len(pending) // REVIEW_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = pending[page * REVIEW_PAGE : (page + 1) * REVIEW_PAGE]
    free = settings.budget - settings.accepted_minutes
    embed = discord.Embed(
        title=f"Proposals to review for TechMeet #{meetup_number}",
        description=(
            f"{len(pending)} waiting. {settings.accepted_minutes} of {settings.budget} minutes "
            f"are taken, so {free} are free."
            if pending
            else "Nothing waiting for review. 🎉"
        ),
        colour=COLOUR,
    )
    view = discord.ui.View(timeout=None)
    for row, talk in enumerate(shown):
        summary = inert(cut(talk.summary, 300)) if talk.summary else "_No summary._"
        embed.add_field(
            name=cut(f"Talk #{talk.number} · {talk.length} min", 256),
            value=cut(
                f"**{inert(talk.title)}** by {speaker(talk)}\n{summary}\n"
                f"Slides: {slides(talk.slides_url)}",
                1024,
            ),
            inline=False,
        )
        view.add_item(AcceptTalk(talk.id, talk.number, row=row))
        view.add_item(DeclineTalk(talk.id, talk.number, row=row))
    if pages > 1:
        embed.set_footer(text=f"Page {page + 1} of {pages}")
        # Turning pages shares the last row with its proposal's two buttons.
        last = max(len(shown) - 1, 0)
        view.add_item(ReviewPage(meetup_number, (page - 1) % pages, "Previous", row=last))
        view.add_item(ReviewPage(meetup_number, (page + 1) % pages, "Next", row=last))
    return {"embed": embed, "view": view}


class AcceptTalk(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"talk:accept:(?P<talk_id>\d+):(?P<number>\d+)",
    quota="talk review",
):
    def __init__(self, talk_id: int, number: int, *, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Accept #{number}",
                style=discord.ButtonStyle.success,
                custom_id=f"talk:accept:{talk_id}:{number}",
                row=row,
            )
        )
        self.talk_id = talk_id

    async def run(self, interaction: Interaction) -> None:
        bot = interaction.client
        changed = await bot.talks.accept(actor(interaction), self.talk_id)
        await interaction.response.edit_message(
            content=f"Accepted {talk_line(changed.talk)}.",
            **await review_page(bot, interaction, changed.meetup_number, 0),
        )
        await tell_speaker(
            bot,
            changed.talk.guild_id,
            changed.talk.speaker_id,
            f"Your {talk_line(changed.talk, by=False)} was **accepted** for TechMeet "
            f"#{changed.meetup_number}. `/talk list` shows the running order.",
        )


class DeclineTalk(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"talk:decline:(?P<talk_id>\d+):(?P<number>\d+)",
    quota=None,  # only opens the form: sending it counts as "talk review"
):
    def __init__(self, talk_id: int, number: int, *, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Decline #{number}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"talk:decline:{talk_id}:{number}",
                row=row,
            )
        )
        self.talk_id, self.number = talk_id, number

    async def run(self, interaction: Interaction) -> None:
        # Refused before the form opens, not after a member has typed a reason into it.
        await interaction.client.meetups.require_organiser(actor(interaction))
        await interaction.response.send_modal(DeclineModal(self.talk_id, self.number))


class DeclineModal(discord.ui.Modal, title="Decline a talk"):
    reason: discord.ui.TextInput[DeclineModal] = discord.ui.TextInput(
        label="Reason for the speaker (optional)",
        style=discord.TextStyle.paragraph,
        max_length=300,
        required=False,
        placeholder="e.g. We covered this last month; how about a follow-up on what changed?",
    )

    def __init__(self, talk_id: int, number: int) -> None:
        # A fresh custom_id per form (see BasicsModal in cogs.introductions).
        super().__init__(title=f"Decline Talk #{number}", timeout=FORM_WAIT_SECONDS)
        self.talk_id = talk_id

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await take_quota(interaction, "talk review")
        bot = interaction.client
        changed = await bot.talks.decline(actor(interaction), self.talk_id, self.reason.value)
        content = f"Declined {talk_line(changed.talk)}."
        if interaction.message is not None:
            await interaction.response.edit_message(
                content=content,
                **await review_page(bot, interaction, changed.meetup_number, 0),
            )
        else:
            await reply(interaction, content)
        why = f" The organisers said: {inert(changed.talk.reason)}" if changed.talk.reason else ""
        await tell_speaker(
            bot,
            changed.talk.guild_id,
            changed.talk.speaker_id,
            f"Sorry, your {talk_line(changed.talk, by=False)} for TechMeet "
            f"#{changed.meetup_number} was declined.{why}",
        )
        await tell_promoted(bot, changed)

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await handle_error(interaction, error)


class ReviewPage(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"talk:review:(?P<meetup_number>\d+):(?P<page>\d+):(?P<label>Previous|Next)",
    quota=None,  # read-only: turns the pages of /talk review
):
    def __init__(
        self, meetup_number: int, page: int, label: str, *, row: int | None = None
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"talk:review:{meetup_number}:{page}:{label}",
                row=row,
            )
        )
        self.meetup_number, self.page = meetup_number, page

    async def run(self, interaction: Interaction) -> None:
        await interaction.response.edit_message(
            **await review_page(interaction.client, interaction, self.meetup_number, self.page)
        )


# --- the on-stage timer ---------------------------------------------------------------------


class StopTimer(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"talk:stop:(?P<talk_id>\d+)",
    quota="talk stop",
):
    def __init__(self, talk_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Stop", style=discord.ButtonStyle.danger, custom_id=f"talk:stop:{talk_id}"
            )
        )
        self.talk_id = talk_id

    async def run(self, interaction: Interaction) -> None:
        timer = await interaction.client.talks.stop(actor(interaction), self.talk_id)
        if timer is None:
            await reply(interaction, "This timer has already finished.")
            return
        await interaction.response.edit_message(content=timer_content(timer, "stopped"), view=None)


def timer_view(talk_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(StopTimer(talk_id))
    return view
