"""Topic suggestions and agenda polls: /topic, ballots, results, the poll-close job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.topics import POLL_CLOSE
from cogs.meetups._cog import MeetupsCog
from cogs.topics._cog import TopicsCog
from cogs.topics._views import BackButton, DotButton, LeadButton, PickTopic, VoteButton

if TYPE_CHECKING:
    from bot.client import TechMeetBot


async def setup(bot: TechMeetBot) -> None:
    meetups = bot.get_cog(MeetupsCog.__cog_name__)
    assert isinstance(meetups, MeetupsCog), "load cogs.meetups first"
    bot.add_dynamic_items(VoteButton, PickTopic, DotButton, LeadButton, BackButton)
    cog = TopicsCog(bot, meetups)
    await bot.add_cog(cog)
    bot.dispatcher.register(POLL_CLOSE, cog.close_job, what="Closing a topic poll")
