"""Start-up with 100,000 future reminders in the database: how soon the bot answers its
first command, and how much memory it holds.

    .venv/bin/python -m benchmarks.startup [--postgres-url URL]

The database gets 25,000 meetups over the next year with four reminders each (100,000
pending reminder jobs), written in bulk. Then `techmeet run` starts as its own process
against the Discord stand-in; "ready" is the moment a /techmeet list command is answered,
measured from the process start. Targets (issue 7): ready in at most 5 s, resident memory at
most 250 MB (only reminders due within the dispatcher's horizon are held as timers, and
members are not requested from Discord at start-up).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

from sqlalchemy import func, insert, select

from benchmarks.compare import on_both_databases
from benchmarks.rsvp_latency import MANAGE, TECHMEET, spawn
from db.engine import create_engine
from db.migrate import upgrade
from db.models import GuildChannel, GuildSettings, Meetup, ScheduledJob
from tests.standin import DiscordStandIn

MEETUPS = 25_000
OFFSETS = (10_080, 1_440, 60, 15)  # 1 week, 1 day, 1 hour, 15 minutes before
BATCH = 2_000


async def seed(database_url: str, guild_id: int, channel_id: int) -> int:
    engine = create_engine(database_url)
    await upgrade(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(GuildSettings).values(guild_id=guild_id))
            await connection.execute(
                insert(GuildChannel).values(
                    guild_id=guild_id,
                    purpose="announcements",
                    channel_id=channel_id,
                    updated_at=now,
                )
            )
            for first in range(0, MEETUPS, BATCH):
                numbers = range(first, min(first + BATCH, MEETUPS))
                # Spread over the coming year, from a day ahead.
                starts = {n: now + timedelta(days=1, minutes=n * 21) for n in numbers}
                await connection.execute(
                    insert(Meetup),
                    [
                        {
                            "id": n + 1,
                            "guild_id": guild_id,
                            "number": n + 1,
                            "title": f"TechMeet {n + 1}",
                            "starts_at": starts[n],
                            "duration_minutes": 120,
                            "going_count": 0,
                            "waitlist_counter": 0,
                            "reminder_offsets": list(OFFSETS),
                            "status": "scheduled",
                            "revision": 0,
                            "announcement_channel_id": channel_id,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for n in numbers
                    ],
                )
                await connection.execute(
                    insert(ScheduledJob),
                    [
                        {
                            "guild_id": guild_id,
                            "kind": "reminder",
                            "subject_id": n + 1,
                            "detail": offset,
                            "due_at": starts[n] - timedelta(minutes=offset),
                            "state": "pending",
                            "revision": 0,
                            "attempts": 0,
                        }
                        for n in numbers
                        for offset in OFFSETS
                    ],
                )
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(ScheduledJob)) or 0)
    finally:
        await engine.dispose()


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run(database_url: str) -> dict[str, str]:
    standin = DiscordStandIn()
    await standin.start()
    guild = standin.add_guild("Big community")
    manager = guild.add_member("Manager", permissions=MANAGE)
    channel = guild.add_text_channel("announcements")
    jobs = await seed(database_url, guild.id, channel.id)
    started = perf_counter()
    bot = await spawn(
        [TECHMEET, "run", "--no-migrate"],
        {
            "DISCORD_TOKEN": standin.token,
            "DATABASE_URL": database_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        await standin.wait_until_identified(timeout=60)
        while True:  # answered once the bot has loaded its commands and reads the database
            try:
                reply = await standin.slash(guild, manager, "techmeet list", timeout=10)
            except Exception:  # not registered yet
                await asyncio.sleep(0.05)
                continue
            if reply.embeds or reply.content:
                break
        ready = perf_counter() - started
        await asyncio.sleep(2)  # settled: timers armed, caches warm
        memory = resident_mb(bot.pid)
        return {
            "pending reminder jobs": f"{jobs:,}",
            "ready (first command answered)": f"{ready:.2f} s",
            "resident memory": f"{memory:.0f} MB",
        }
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


if __name__ == "__main__":
    asyncio.run(on_both_databases(run))
