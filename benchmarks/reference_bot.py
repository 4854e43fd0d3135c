"""The floor for the latency benchmarks: a bare discord.py bot answering a persistent button
and a slash command with a fixed ephemeral message, pointed at the same Discord stand-in."""

from __future__ import annotations

import asyncio
import os

import discord
import yarl
from discord.ext import commands


class Fixed(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Going", custom_id="ref:going")
    async def going(
        self, interaction: discord.Interaction, button: discord.ui.Button[Fixed]
    ) -> None:
        await interaction.response.send_message("You're going.", ephemeral=True)


class ReferenceBot(commands.Bot):
    async def setup_hook(self) -> None:
        self.add_view(Fixed())
        self.tree.add_command(ping)
        await self.tree.sync()


@discord.app_commands.command(description="Answers at once.")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("You're answered.", ephemeral=True)


async def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    bot = ReferenceBot(command_prefix="!", intents=discord.Intents.default(), help_command=None)
    async with bot:
        await bot.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    asyncio.run(main())
