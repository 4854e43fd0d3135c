"""One error handler for every slash command, plus the per-invocation log line; and
clicks on the bot's own buttons dispatched straight to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discord import app_commands
from discord.ext import commands

from bot.errors import BadInput, TechMeetError
from cogs._ui import click_buttons_directly, handle_error, log_outcome

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction


class ErrorsCog(commands.Cog):
    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]
        click_buttons_directly(self.bot)

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: Interaction, command: app_commands.Command[Any, ..., Any]
    ) -> None:
        log_outcome(interaction, "ok")

    async def on_app_command_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        await handle_error(interaction, _unwrap(error))


def _unwrap(error: app_commands.AppCommandError) -> BaseException:
    """The exception worth reporting: domain errors raised inside a command, or bad options."""
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    if isinstance(error, app_commands.TransformerError):
        return BadInput(
            "I couldn't use one of the values you gave. Pick it from the list Discord offers "
            "and try again."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return TechMeetError("This command only works inside a server.")
    if isinstance(error, app_commands.CheckFailure):
        return TechMeetError(str(error) or "You can't use this command here.")
    return error


async def setup(bot: TechMeetBot) -> None:
    await bot.add_cog(ErrorsCog(bot))
