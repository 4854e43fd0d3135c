"""Three `techmeet run` processes on one PostgreSQL database and one Discord stand-in: 300
reminders due within the same minute, one process killed half-way, every reminder posted
exactly once, and the three together never over Discord's global limit."""

from __future__ import annotations

import re
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService
from db.engine import create_engine, create_sessions
from db.migrate import upgrade
from tests.e2e.conftest import BotProcess
from tests.services.permissions import ALL_POSTING
from tests.standin import DiscordStandIn

REMINDERS = 300
PROCESSES = 3


async def test_three_processes_post_every_reminder_once_though_one_is_killed(
    standin: DiscordStandIn,
    run_bot: Callable[..., Awaitable[BotProcess]],
    postgres_url: str,
) -> None:
    guild = standin.add_guild("National network")
    channel = guild.add_text_channel("announcements")
    standin.rate_limit_global(50)  # Discord's, shared by the three processes
    engine = create_engine(postgres_url)
    await upgrade(engine)
    sessions = create_sessions(engine)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London")
    manager = Actor(guild.id, 1, manage_guild=True)
    await settings.set_channel(
        manager, ChannelPurpose.ANNOUNCEMENTS, channel.id, bot_permissions=ALL_POSTING
    )
    meetups = MeetupService(sessions, settings)
    # Due 20 to 80 s from now: the processes are up well before the first one.
    first_due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
    for n in range(REMINDERS):
        starts = first_due + timedelta(days=1, seconds=n * 60 // REMINDERS)
        await meetups.create(
            manager, MeetupDraft(title=f"Meetup {n}", when=starts.isoformat(), reminders="1d")
        )
    await engine.dispose()

    processes = [
        await run_bot(
            "--shard-count",
            str(PROCESSES),
            "--shard-ids",
            str(shard),
            DATABASE_URL=postgres_url,
            LOG_LEVEL="WARNING",
        )
        for shard in range(PROCESSES)
    ]

    def posted() -> list[int]:
        return [
            int(found[1])
            for m in standin.messages(channel)
            if (found := re.search(r"TechMeet #(\d+)", m.content)) and "Reminder" in m.content
        ]

    await standin.wait_until(lambda: True if len(posted()) >= 60 else None, 60, str)
    victim = processes[1]
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    # The victim's claims are taken over when their lease (60 s) runs out.
    await standin.wait_until(
        lambda: True if len(set(posted())) == REMINDERS else None,
        150,
        lambda: f"{len(set(posted()))} of {REMINDERS} posted",
    )
    for survivor in (processes[0], processes[2]):
        code, stderr = await survivor.stop()
        assert code == 0, stderr
    counts = Counter(posted())
    assert sorted(counts) == list(range(1, REMINDERS + 1))
    assert max(counts.values()) == 1, [n for n, c in counts.items() if c > 1]
    assert standin.global_rate_limited == 0
