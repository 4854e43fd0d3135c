"""The real bot, in this process, logged in to the local Discord stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bot.client import TechMeetBot
from bot.clock import Clock, utcnow
from bot.config import Settings
from db.engine import create_engine
from db.migrate import upgrade
from tests.standin import (
    DiscordStandIn,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    InteractionReply,
)

StartBot = Callable[..., Awaitable[TechMeetBot]]
StopBot = Callable[[TechMeetBot], Awaitable[None]]

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
MANAGE_EVENTS = discord.Permissions(manage_events=True).value


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandIn]:
    server = DiscordStandIn()
    await server.start()
    yield server
    await server.close()


def bot_settings(standin: DiscordStandIn, database_url: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DISCORD_TOKEN": standin.token,
            "DATABASE_URL": database_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            **env,
        }
    )


@pytest.fixture
async def bots(standin: DiscordStandIn, tmp_path: Path) -> AsyncIterator[tuple[StartBot, StopBot]]:
    """Start and stop real bots; each one's connection task is awaited so crashes surface."""
    running: dict[TechMeetBot, asyncio.Task[None]] = {}
    default_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def start(
        database_url: str = default_url, clock: Clock = utcnow, **env: str
    ) -> TechMeetBot:
        settings = bot_settings(standin, database_url, **env)
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        await engine.dispose()
        bot = TechMeetBot(settings, clock=clock, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(standin.token))
        running[bot] = task
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()  # raises the start-up error
            raise TimeoutError("the bot did not become ready")
        return bot

    async def stop(bot: TechMeetBot) -> None:
        task = running.pop(bot)
        await bot.close()
        await asyncio.wait_for(task, 10)

    yield start, stop
    crashes: list[BaseException] = []
    for bot in list(running):
        try:
            await stop(bot)
        except Exception as error:  # stop the others first, then report
            crashes.append(error)
    if crashes:
        raise crashes[0]
    assert standin.problems == [], "the stand-in saw requests Discord would refuse"


@pytest.fixture
async def bot(bots: tuple[StartBot, StopBot], guild: FakeGuild) -> TechMeetBot:
    start, _ = bots
    return await start()


@pytest.fixture
def guild(standin: DiscordStandIn) -> FakeGuild:
    return standin.add_guild("FE Technicians")


@pytest.fixture
def manager(guild: FakeGuild) -> FakeMember:
    return guild.add_member("Mia Manager", permissions=MANAGE_GUILD)


@pytest.fixture
def member(guild: FakeGuild) -> FakeMember:
    return guild.add_member("Sam Member")


# --- meetups, shared by the feature tests ---------------------------------------------------


def iso_in(**delta: float) -> str:
    """A start time `delta` from now, typed as ISO 8601 with an offset."""
    moment = datetime.now(UTC) + timedelta(**delta)
    return moment.replace(microsecond=0).isoformat()


@pytest.fixture
def organiser(guild: FakeGuild) -> FakeMember:
    return guild.add_member("Olu Organiser", permissions=MANAGE_EVENTS)


@pytest.fixture
async def announcements(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> FakeChannel:
    channel = guild.add_text_channel("announcements")
    organisers = guild.add_text_channel("organisers")
    await standin.wait_for_gateway_idle()
    for purpose, target in (("announcements", channel), ("organisers", organisers)):
        reply = await standin.slash(
            guild, manager, "setup channel", purpose=purpose, channel=target
        )
        assert reply.content.startswith("Done"), reply.content
    return channel


async def create(
    standin: DiscordStandIn, guild: FakeGuild, who: FakeMember, **options: object
) -> FakeMessage:
    """Create a meetup and return its announcement."""
    values = {"title": "Network monitoring night", "when": iso_in(days=6), **options}
    reply = await standin.slash(guild, who, "techmeet create", options=values)
    assert reply.ephemeral
    assert "Scheduled **TechMeet #" in reply.content, reply.content
    message_id = int(reply.content.rsplit("/", 1)[1].split()[0])
    message = standin.find_message(message_id)
    assert message is not None
    return message


def fields(message: FakeMessage) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message.embeds[0]["fields"]}


def custom_ids(message: FakeMessage | InteractionReply) -> list[str]:
    return [
        c["custom_id"] for row in message.components for c in row["components"] if "custom_id" in c
    ]


# --- the bot as a real `techmeet run` process ------------------------------------------

TECHMEET = str(Path(sys.executable).with_name("techmeet"))


class BotProcess:
    """A `techmeet run` subprocess whose output is collected for assertions."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(sig)
        _, stderr = await asyncio.wait_for(self.process.communicate(), 30)
        assert self.process.returncode is not None
        return self.process.returncode, stderr.decode()


@pytest.fixture
async def run_bot(
    standin: DiscordStandIn, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[BotProcess]]]:
    processes: list[BotProcess] = []

    async def start(*args: str, **env: str) -> BotProcess:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
        clean.update(
            {
                "DISCORD_TOKEN": standin.token,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'techmeet.db'}",
                "DISCORD_API_BASE_URL": standin.api_base,
                "DISCORD_GATEWAY_URL": standin.gateway_url,
                **env,
            }
        )
        process = await asyncio.create_subprocess_exec(
            TECHMEET,
            "run",
            *args,
            cwd=tmp_path,
            env=clean,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        processes.append(BotProcess(process))
        return processes[-1]

    yield start
    for bot in processes:
        if bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
