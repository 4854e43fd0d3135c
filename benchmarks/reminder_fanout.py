"""2,000 reminders falling due at the same moment across 200 servers: all delivered exactly
once, how fast, and whether Discord would have refused any request.

    .venv/bin/python -m benchmarks.reminder_fanout [--postgres-url URL]

The bot runs as `techmeet run` in its own process against the Discord stand-in, which
applies Discord's limits: 50 requests a second per bot (global) and 5 messages per 5 s per
channel, answering 429 beyond them. Targets (issue 7): every reminder once, a sustained
rate of at least 40 messages a second (80 % of the global limit), no 429.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from benchmarks.compare import on_both_databases
from benchmarks.rsvp_latency import start_techmeet
from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService
from db.engine import create_engine, create_sessions
from db.migrate import upgrade
from tests.services.permissions import ALL_POSTING
from tests.standin import DiscordStandIn, FakeChannel

GUILDS = 200
PER_GUILD = 10
LEAD = timedelta(seconds=60)  # from the start of seeding to the moment all fall due


async def seed(database_url: str, channels: list[tuple[int, int]], due: datetime) -> None:
    """The meetups, created through the service as organisers would: all start at the same
    moment, with a reminder a day before."""
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = create_sessions(engine)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London")
    meetups = MeetupService(sessions, settings)
    starts = (due + timedelta(days=1)).isoformat()
    try:
        for guild_id, channel_id in channels:
            organiser = Actor(guild_id, 1, manage_guild=True)
            await settings.set_channel(
                organiser, ChannelPurpose.ANNOUNCEMENTS, channel_id, bot_permissions=ALL_POSTING
            )
            for n in range(PER_GUILD):
                await meetups.create(
                    organiser, MeetupDraft(title=f"Meetup {n}", when=starts, reminders="1d")
                )
    finally:
        await engine.dispose()


async def run(database_url: str) -> dict[str, str]:
    standin = DiscordStandIn()
    await standin.start()
    channels: list[FakeChannel] = []
    for n in range(GUILDS):
        guild = standin.add_guild(f"College {n}")
        channels.append(guild.add_text_channel("announcements"))
    due = datetime.now(UTC).replace(microsecond=0) + LEAD
    seeding = datetime.now(UTC)
    await seed(database_url, [(c.guild.id, c.id) for c in channels if c.guild], due)
    seeded = (datetime.now(UTC) - seeding).total_seconds()
    standin.rate_limit_global(50)
    for channel in channels:
        standin.rate_limit(rf"^/channels/{channel.id}/messages$", 5, 5.0)
    bot = await start_techmeet(standin, database_url)
    total = GUILDS * PER_GUILD

    def reminders() -> list[tuple[int, int, datetime]]:
        found = []
        for channel in channels:
            for message in standin.messages(channel):
                number = re.search(r"TechMeet #(\d+)", message.content)
                if number and message.content.startswith("Reminder"):
                    stamp = datetime.fromisoformat(message.timestamp)
                    found.append((channel.id, int(number[1]), stamp))
        return found

    try:
        remaining = (due - datetime.now(UTC)).total_seconds()
        await standin.wait_until(
            lambda: True if len(reminders()) >= total else None,
            remaining + 180,
            lambda: f"{len(reminders())} of {total} reminders",
        )
        await asyncio.sleep(2)  # anything posted twice would show by now
        posted = reminders()
        counts = Counter((channel, number) for channel, number, _ in posted)
        stamps = sorted(stamp for _, _, stamp in posted)
        span = (stamps[-1] - stamps[0]).total_seconds()
        return {
            "seeding took (due after)": f"{seeded:.0f} s ({LEAD.total_seconds():.0f} s)",
            "reminders posted (distinct)": f"{len(counts)} of {total}",
            "posted more than once": str(sum(1 for c in counts.values() if c > 1)),
            "first after due": f"{(stamps[0] - due).total_seconds():.1f} s",
            "last after due": f"{(stamps[-1] - due).total_seconds():.1f} s",
            "sustained rate": f"{(len(posted) - 1) / span:.1f} messages/s",
            "429s (global / all)": f"{standin.global_rate_limited} / {standin.rate_limited}",
        }
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


if __name__ == "__main__":
    asyncio.run(on_both_databases(run))
