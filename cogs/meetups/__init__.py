"""TechMeet scheduling: /techmeet, RSVP buttons, reminders, series and follow-ups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.meetups._cog import MeetupsCog
from cogs.meetups._feedback import ActionButton, RatingButton
from cogs.meetups._jobs import MeetupJobs
from cogs.meetups._views import CalendarButton, RsvpButton, WhoButton

if TYPE_CHECKING:
    from bot.client import TechMeetBot


async def setup(bot: TechMeetBot) -> None:
    bot.add_dynamic_items(RsvpButton, WhoButton, CalendarButton, RatingButton, ActionButton)
    cog = MeetupsCog(bot)
    await bot.add_cog(cog)
    MeetupJobs(bot, cog).register()
