"""Pairing rounds: /pairing, the round and follow-up jobs, and the "Did you meet?" buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.pairing._cog import MetButton, PairingCog

if TYPE_CHECKING:
    from bot.client import TechMeetBot


async def setup(bot: TechMeetBot) -> None:
    bot.add_dynamic_items(MetButton)
    await bot.add_cog(PairingCog(bot))
