"""How introductions look, the two-step modal, and the buttons: Introduce yourself (on the
welcome), Continue (step two), Edit (on the introduction, its author only) and the
directory's page buttons.

Buttons that must outlive a restart are dynamic items whose custom_id carries ids only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.guild_settings import ChannelPurpose, region_choices
from bot.domain.introductions import (
    FREE_TEXT_MAX,
    NAME_MAX,
    ORGANISATION_MAX,
    ROLE_MAX,
    SKILLS_TEXT_MAX,
    TAGS_MAX,
)
from bot.errors import NotAllowed, NotFound
from bot.services.introductions import IntroductionView, SearchPage
from cogs._ui import (
    FORM_WAIT_SECONDS,
    ReportsErrors,
    actor,
    cut,
    handle_error,
    inert,
    reply,
    take_quota,
)

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

COLOUR = discord.Colour.from_rgb(60, 160, 120)


# --- text ------------------------------------------------------------------------------------


def skills_text(skills: tuple[str, ...]) -> str:
    # Inline code shows a tag exactly as typed, with no markdown, mention or link in it;
    # tags never hold backticks (they are stripped when saved).
    return " ".join(f"`{tag}`" for tag in skills)


def introduction_embed(intro: IntroductionView) -> discord.Embed:
    """The introduction as posted. The domain's limits keep every part within Discord's
    embed limits even after escaping; `cut` is only a last guard."""
    embed = discord.Embed(title=cut(inert(intro.name), 256), colour=COLOUR)
    embed.description = f"<@{intro.user_id}>"
    for name, value in (
        ("Role", intro.role),
        ("Organisation", intro.organisation),
        ("Region", intro.region),
    ):
        if value:
            embed.add_field(name=name, value=cut(inert(value), 1024), inline=True)
    if intro.skills:
        embed.add_field(name="Skills", value=cut(skills_text(intro.skills), 1024), inline=False)
    for name, value in (
        ("Happy to help with", intro.happy_to_help),
        ("Looking for", intro.looking_for),
    ):
        if value:
            embed.add_field(name=name, value=cut(inert(value), 1024), inline=False)
    embed.set_footer(text="Change it with /intro. Find people with /members find.")
    embed.timestamp = intro.updated_at
    return embed


def directory_line(intro: IntroductionView) -> str:
    """One search result: who, what they do, where, and a link to their introduction."""
    facts = [
        inert(cut(value, 60)) for value in (intro.role, intro.organisation, intro.region) if value
    ]
    line = f"**{inert(cut(intro.name, 64))}** (<@{intro.user_id}>)"
    if facts:
        line += " · " + " · ".join(facts)
    if intro.skills:
        line += "\n" + cut(skills_text(intro.skills[:6]), 300)
    if intro.channel_id and intro.message_id and intro.guild_id:
        line += (
            f"\n[Introduction](https://discord.com/channels/{intro.guild_id}/"
            f"{intro.channel_id}/{intro.message_id})"
        )
    return line


def search_embed(page: SearchPage) -> discord.Embed:
    wanted = ", ".join(
        f"{label} “{inert(value)}”" for label, value in vars(page.criteria).items() if value
    )
    embed = discord.Embed(title="Member directory", colour=COLOUR)
    if not page.results:
        embed.description = (
            f"Nobody matches {wanted} yet. Try fewer words, or `/members skills` to see what "
            "the community knows."
        )
        return embed
    count = page.criteria.count
    lines = []
    for found in page.results:
        match = "" if count == 1 else f" ({found.matched}/{count} matched)"
        lines.append(directory_line(found.introduction) + match)
    embed.description = cut("\n\n".join(lines), 4096)
    embed.set_footer(
        text=f"{page.total} member{'s' if page.total != 1 else ''} for {cut(wanted, 200)} · "
        f"page {page.page + 1} of {page.pages}"
    )
    return embed


def search_view(page: SearchPage) -> discord.ui.View | None:
    if page.pages <= 1:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(SearchPageButton(page.search_id, page.page - 1, "Previous", page.page == 0))
    view.add_item(
        SearchPageButton(page.search_id, page.page + 1, "Next", page.page + 1 >= page.pages)
    )
    return view


# --- posting -----------------------------------------------------------------------------------


async def publish(bot: TechMeetBot, intro: IntroductionView) -> str | None:
    """Post the introduction, or edit its message if it has one: its link, or None when
    there is no introductions channel yet."""
    embed = introduction_embed(intro)
    view = edit_view(intro.user_id)
    if intro.channel_id and intro.message_id:
        message = bot.get_partial_messageable(
            intro.channel_id, guild_id=intro.guild_id
        ).get_partial_message(intro.message_id)
        try:
            await message.edit(embed=embed, view=view)
        except discord.NotFound:
            log.info("introduction %s was deleted in Discord; posting it again", intro.id)
        else:
            return message.jump_url
    settings = await bot.guild_settings.get(intro.guild_id)
    channel_id = settings.channel(ChannelPurpose.INTRODUCTIONS)
    if channel_id is None:
        return None
    channel = bot.get_partial_messageable(channel_id, guild_id=intro.guild_id)
    posted = await channel.send(embed=embed, view=view)
    await bot.introductions.posted(intro.id, channel_id, posted.id)
    return posted.jump_url


# --- the two-step modal ----------------------------------------------------------------------


def _text(
    custom_id: str, limit: int, default: str | None, *, required: bool = False, long: bool = False
) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        custom_id=custom_id,
        style=discord.TextStyle.paragraph if long else discord.TextStyle.short,
        max_length=limit,
        default=default,
        required=required,
    )


class BasicsModal(discord.ui.Modal):
    """Step one: who you are, where you work, what you know (saved on its own)."""

    def __init__(
        self, bot: TechMeetBot, intro: IntroductionView | None, regions: tuple[str, ...]
    ) -> None:
        # No fixed custom_id: discord.py files open forms by it, so two members filling in
        # the same one at once would receive each other's submissions.
        super().__init__(title="Introduce yourself (1 of 2)", timeout=FORM_WAIT_SECONDS)
        self.bot = bot
        self.name = _text("name", NAME_MAX, intro.name if intro else None, required=True)
        self.role = _text("role", ROLE_MAX, intro.role if intro else None)
        self.organisation = _text(
            "organisation", ORGANISATION_MAX, intro.organisation if intro else None
        )
        current = intro.region if intro else None
        self.region: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="region",
            placeholder="Pick your region",
            required=False,
            options=[
                discord.SelectOption(label=name, value=name, default=name == current)
                for name in regions
            ],
        )
        self.skills = _text(
            "skills", SKILLS_TEXT_MAX, ", ".join(intro.skills) if intro else None, long=True
        )
        self.skills.placeholder = "e.g. Moodle, Intune, Aruba switches, Python"
        for text, description, component in (
            ("Name", "As you'd like to be called", self.name),
            ("Job role", "e.g. Network technician, Learning technologist", self.role),
            ("Organisation", "Your college, school or trust", self.organisation),
            ("Region", None, self.region),
            ("Skills and platforms", f"Separated by commas; up to {TAGS_MAX}", self.skills),
        ):
            self.add_item(discord.ui.Label(text=text, description=description, component=component))

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await take_quota(interaction, "intro")
        intro = await self.bot.introductions.save_basics(
            actor(interaction),
            name=self.name.value,
            role=self.role.value,
            organisation=self.organisation.value,
            region=self.region.values[0] if self.region.values else None,
            skills=self.skills.value,
        )
        where = await publish(self.bot, intro)
        view = discord.ui.View(timeout=None)
        view.add_item(ContinueButton())
        await reply(
            interaction,
            f"Thanks, {inert(intro.name)}! Your introduction is {_where(where)}. One more step: "
            "what you're happy to help with and what you're looking for.",
            view=view,
        )

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await handle_error(interaction, error)


class MoreModal(discord.ui.Modal):
    """Step two: what you can help with, what you are looking for."""

    def __init__(self, bot: TechMeetBot, intro: IntroductionView) -> None:
        super().__init__(title="Introduce yourself (2 of 2)", timeout=FORM_WAIT_SECONDS)
        self.bot = bot
        self.happy_to_help = _text("happy_to_help", FREE_TEXT_MAX, intro.happy_to_help, long=True)
        self.happy_to_help.placeholder = (
            "e.g. Moodle upgrades, Wi-Fi surveys, getting started with Intune"
        )
        self.looking_for = _text("looking_for", FREE_TEXT_MAX, intro.looking_for, long=True)
        self.looking_for.placeholder = "e.g. someone who has moved print management to the cloud"
        self.add_item(discord.ui.Label(text="Happy to help with", component=self.happy_to_help))
        self.add_item(discord.ui.Label(text="Looking for", component=self.looking_for))

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await take_quota(interaction, "intro")
        intro = await self.bot.introductions.save_more(
            actor(interaction),
            happy_to_help=self.happy_to_help.value,
            looking_for=self.looking_for.value,
        )
        where = await publish(self.bot, intro)
        await reply(
            interaction,
            f"All done: your introduction is {_where(where)}. `/members suggest` shows people "
            "you might like to meet.",
        )

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await handle_error(interaction, error)


def _where(link: str | None) -> str:
    if link is None:
        return "saved (it will be posted once organisers choose an introductions channel)"
    return f"posted: {link}"


async def open_basics(interaction: Interaction) -> None:
    """Open step one, filled in with the member's current introduction."""
    bot = interaction.client
    me = actor(interaction)
    intro = await bot.introductions.get(me.guild_id, me.user_id)
    settings = await bot.guild_settings.get(me.guild_id)
    await interaction.response.send_modal(BasicsModal(bot, intro, region_choices(settings.regions)))


class IntroduceButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"intro:start",
    quota=None,  # only opens the form: sending it counts as "intro"
):
    """On the welcome message: whoever clicks introduces themselves."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Introduce yourself",
                style=discord.ButtonStyle.primary,
                custom_id="intro:start",
            )
        )

    async def run(self, interaction: Interaction) -> None:
        await open_basics(interaction)


class ContinueButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"intro:continue",
    quota=None,  # only opens the form: sending it counts as "intro"
):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Continue", style=discord.ButtonStyle.primary, custom_id="intro:continue"
            )
        )

    async def run(self, interaction: Interaction) -> None:
        bot = interaction.client
        me = actor(interaction)
        intro = await bot.introductions.get(me.guild_id, me.user_id)
        if intro is None:
            raise NotFound("Introduce yourself first with `/intro`.")
        await interaction.response.send_modal(MoreModal(bot, intro))


class EditButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"intro:edit:(?P<user_id>\d+)",
    quota=None,  # only opens the form: sending it counts as "intro"
):
    """On an introduction: only its author may edit it."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        super().__init__(
            discord.ui.Button(
                label="Edit", style=discord.ButtonStyle.secondary, custom_id=f"intro:edit:{user_id}"
            )
        )

    async def run(self, interaction: Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise NotAllowed(
                "Only the member who wrote this introduction can edit it. `/intro` edits yours."
            )
        await open_basics(interaction)


def edit_view(user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(EditButton(user_id))
    return view


def welcome_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(IntroduceButton())
    return view


class SearchPageButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"members:page:(?P<search_id>\d+):(?P<page>\d+):(?P<label>Previous|Next)",
    quota=None,  # read-only: pages of a search /members find counted
):
    def __init__(self, search_id: int, page: int, label: str, disabled: bool = False) -> None:
        self.search_id, self.page = search_id, page
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"members:page:{search_id}:{max(page, 0)}:{label}",
                disabled=disabled,
            )
        )

    async def run(self, interaction: Interaction) -> None:
        page = await interaction.client.introductions.search_page(
            actor(interaction), self.search_id, self.page
        )
        await interaction.response.edit_message(embed=search_embed(page), view=search_view(page))
