"""Lightning talks: /talk, review and timer buttons, speaker reminders and the timer jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.meetups._cog import MeetupsCog
from cogs.talks._cog import TalksCog
from cogs.talks._jobs import TalkJobs
from cogs.talks._views import AcceptTalk, DeclineTalk, ReviewPage, StopTimer

if TYPE_CHECKING:
    from bot.client import TechMeetBot


async def setup(bot: TechMeetBot) -> None:
    meetups = bot.get_cog(MeetupsCog.__cog_name__)
    assert isinstance(meetups, MeetupsCog), "load cogs.meetups first"
    bot.add_dynamic_items(AcceptTalk, DeclineTalk, ReviewPage, StopTimer)
    cog = TalksCog(bot, meetups)
    await bot.add_cog(cog)
    # "I'll lead this" on a topic poll's results proposes a talk.
    bot.topics.on_volunteer = cog.topic_led
    meetups.info_sections.append(cog.info_section)
    TalkJobs(bot).register()
