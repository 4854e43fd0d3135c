"""Unexpected failures: the member gets a friendly private answer, organisers are told."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from discord import app_commands
from sqlalchemy.engine import make_url

from bot.client import TechMeetBot
from tests.conftest import TEST_POSTGRES_URL, _asyncpg_dsn
from tests.e2e.conftest import StartBot, StopBot, create, custom_ids
from tests.standin import DiscordStandIn, FakeGuild, FakeMember


async def add_failing_command(bot: TechMeetBot) -> None:
    """A real command that fails the way a bug would, registered like any other."""

    @app_commands.command(name="explode", description="Fails on purpose (tests only).")
    async def explode(interaction) -> None:
        raise RuntimeError("internal detail: password=hunter2")

    bot.tree.add_command(explode)
    await bot.tree.sync()


async def test_unexpected_error_is_reported_without_internals(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    member: FakeMember,
    bot: TechMeetBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The member sees a reference, organisers hear of it, the log keeps the traceback."""
    organisers = guild.add_text_channel("organisers")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="organisers", channel=organisers)
    await add_failing_command(bot)

    reply = await standin.slash(guild, member, "explode")
    assert reply.ephemeral
    assert "something went wrong" in reply.content
    assert "organisers will be told" in reply.content
    assert "hunter2" not in reply.content
    reference = reply.content.split("reference `")[1].split("`")[0]

    report = await standin.wait_for_message(organisers.id)
    assert reference in report.content
    assert "/explode" in report.content
    assert "hunter2" not in report.content
    assert report.allowed_mentions == {"parse": []}  # names the member without pinging

    [record] = [
        r for r in caplog.records if r.levelno == logging.ERROR and reference in r.getMessage()
    ]
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


async def test_without_organisers_channel_it_is_logged(
    standin: DiscordStandIn, guild: FakeGuild, member: FakeMember, bot: TechMeetBot
) -> None:
    """With nowhere to report, the member is told it was logged, and nothing is posted."""
    await add_failing_command(bot)
    reply = await standin.slash(guild, member, "explode")
    assert "It has been logged" in reply.content
    assert standin.messages(guild.general.id) == []


async def test_a_database_outage_gets_a_try_again_and_the_bot_carries_on(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    member: FakeMember,
    bots: tuple[StartBot, StopBot],
    postgres_url: str,
) -> None:
    """PostgreSQL restarts under the running bot (its connections are cut and new ones
    refused): clicks and commands meanwhile get a short "try again" and change nothing;
    once the database is back, the bot carries on without a restart."""
    start, _ = bots
    bot = await start(postgres_url)
    channel = guild.add_text_channel("announcements")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    announcement = await create(standin, guild, manager)
    going = next(c for c in custom_ids(announcement) if c.endswith(":going"))
    database = make_url(postgres_url).database
    admin = await asyncpg.connect(_asyncpg_dsn(TEST_POSTGRES_URL))
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            database,
        )
        for attempt in (
            standin.click(announcement, going, member),
            standin.slash(guild, member, "techmeet list"),
        ):
            refused = await attempt
            assert refused.ephemeral
            assert "can't reach my database" in refused.content, refused.content
            assert "Traceback" not in refused.content
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
    meetup = await bot.meetups.by_number(guild.id, 1)
    assert meetup.going == 0  # the refused click left nothing behind
    accepted = await standin.click(announcement, going, member)
    assert "You're going" in accepted.content, accepted.content
    listed = await standin.slash(guild, member, "techmeet list")
    assert listed.embeds
