"""Introductions and the member directory: /intro, /members, welcomes, and leavers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.introductions._cog import IntroductionsCog
from cogs.introductions._views import ContinueButton, EditButton, IntroduceButton, SearchPageButton

if TYPE_CHECKING:
    from bot.client import TechMeetBot


async def setup(bot: TechMeetBot) -> None:
    bot.add_dynamic_items(IntroduceButton, ContinueButton, EditButton, SearchPageButton)
    await bot.add_cog(IntroductionsCog(bot))
