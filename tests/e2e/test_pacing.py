"""Reminder fan-out through the Discord stand-in with Discord's global rate limit switched
on: the bot paces itself (no 429s), and a member's command is answered mid-fan-out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain.members import Actor
from bot.services.meetups import MeetupDraft
from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot
from tests.standin import DiscordStandIn, FakeGuild, FakeMember

MEETUPS = 60
STANDIN_LIMIT = 20  # requests a second, so the test stays short


async def test_fan_out_keeps_under_the_global_limit_and_members_do_not_wait(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    member: FakeMember,
    bots: tuple[StartBot, StopBot],
) -> None:
    """60 reminders fall due at once; the stand-in allows 20 requests a second. Every
    reminder is posted once, with no 429 at all; /techmeet list, used while they go out, is
    answered before the fan-out has finished."""
    start, _ = bots
    clock = FakeClock(datetime.now(UTC))
    bot = await start(clock=clock)
    channel = guild.add_text_channel("announcements")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    organiser = Actor(guild.id, manager.id, manage_guild=True)
    starts = (clock() + timedelta(days=2)).replace(microsecond=0)
    for n in range(MEETUPS):
        await bot.meetups.create(
            organiser,
            MeetupDraft(title=f"Meetup {n}", when=starts.isoformat(), reminders="1d"),
        )
    # This process's share of the budget, as if three processes ran: under the limit.
    bot.pacer.share(3)
    standin.rate_limit_global(STANDIN_LIMIT)

    def reminders() -> int:
        return sum(m.content.startswith("Reminder") for m in standin.messages(channel))

    clock.now = starts - timedelta(days=1) + timedelta(seconds=1)
    fan_out = asyncio.create_task(bot.dispatcher.run_due())
    await standin.wait_until(lambda: True if reminders() >= 5 else None, 10, str)
    listed = await standin.slash(guild, member, "techmeet list")
    during = reminders()
    assert listed.embeds, listed.describe()
    assert during < MEETUPS, "the command waited for the whole fan-out"
    await standin.wait_until(
        lambda: True if reminders() == MEETUPS else None, 30, lambda: f"{reminders()} posted"
    )
    await fan_out
    assert standin.global_rate_limited == 0
    assert standin.rate_limited == 0
