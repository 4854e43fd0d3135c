"""The OAuth2 link that adds the bot to a server with exactly the permissions it uses."""

from __future__ import annotations

import discord

from bot.domain.guild_settings import REQUIRED_PERMISSIONS, SERVER_PERMISSIONS


def bot_permissions() -> discord.Permissions:
    """Everything some channel purpose needs, plus the server-wide ones; nothing more."""
    needed = {name for names in REQUIRED_PERMISSIONS.values() for name in names}
    return discord.Permissions(**dict.fromkeys(needed | set(SERVER_PERMISSIONS), True))


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id,
        permissions=bot_permissions(),
        scopes=("bot", "applications.commands"),
    )
