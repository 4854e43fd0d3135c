"""Channel permissions the bot has when a channel is fully usable (for service tests)."""

from __future__ import annotations

from bot.domain.guild_settings import REQUIRED_PERMISSIONS

# Everything any channel purpose needs.
ALL_POSTING = frozenset(name for names in REQUIRED_PERMISSIONS.values() for name in names)
