"""/privacy: members export or erase what the bot stores about them, in every server."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotAllowed
from cogs._ui import ReportsErrors, reply, take_quota

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction


class EraseButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"privacy:erase:(?P<user_id>\d+)",
    quota=None,  # confirms the /privacy delete that counted; gone once clicked
):
    """Confirms /privacy delete. Persistent, so a restart between asking and confirming is fine."""

    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Yes, erase my data",
                style=discord.ButtonStyle.danger,
                custom_id=f"privacy:erase:{user_id}",
            )
        )
        self.user_id = user_id

    async def run(self, interaction: Interaction) -> None:
        # Never trust the custom_id alone: only the member who asked may confirm.
        if interaction.user.id != self.user_id:
            raise NotAllowed("This button belongs to someone else's request.")
        report = await interaction.client.privacy.erase(self.user_id)
        done = (
            f"Done: I erased what I stored about you ({report.rows_changed} records)."
            if report.rows_changed
            else "Done: I had nothing stored about you."
        )
        await interaction.response.edit_message(content=done, view=None)


class PrivacyCog(commands.Cog):
    privacy = app_commands.Group(
        name="privacy",
        description="See or erase what the TechMeet bot stores about you.",
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=True
        ),
    )

    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot

    @privacy.command(
        name="export", description="Get a file of everything the bot stores about you."
    )
    async def export(self, interaction: Interaction) -> None:
        await take_quota(interaction)
        data = await self.bot.privacy.export(interaction.user.id)
        payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
        await reply(
            interaction,
            "Here is everything I store about you, in every server I serve.",
            file=discord.File(io.BytesIO(payload), filename="techmeet-my-data.json"),
        )

    @privacy.command(name="delete", description="Erase everything the bot stores about you.")
    async def delete(self, interaction: Interaction) -> None:
        await take_quota(interaction)
        view = discord.ui.View(timeout=None)
        view.add_item(EraseButton(interaction.user.id))
        await reply(
            interaction,
            "This erases everything I store about you in **every** server I serve. It can't be "
            "undone. Dismiss this message to keep your data.",
            view=view,
        )


async def setup(bot: TechMeetBot) -> None:
    bot.add_dynamic_items(EraseButton)
    await bot.add_cog(PrivacyCog(bot))
