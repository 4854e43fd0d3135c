"""/setup through the Discord stand-in, as a server's managers and members use it."""

from __future__ import annotations

import logging

import discord
import pytest

from bot.client import TechMeetBot
from bot.domain.guild_settings import ChannelPurpose
from tests.e2e.conftest import MANAGE_EVENTS, StartBot, StopBot
from tests.standin import DiscordStandIn, FakeGuild, FakeMember, InteractionReply

SEND = discord.Permissions(send_messages=True).value
EMBED = discord.Permissions(embed_links=True).value
THREADS = discord.Permissions(create_public_threads=True, send_messages_in_threads=True).value


def assert_private_and_inert(reply: InteractionReply) -> None:
    """Every /setup answer is only for the person who asked, and pings nobody."""
    assert reply.ephemeral
    assert reply.allowed_mentions == {"parse": []}


async def test_setup_channel_then_show(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """A manager picks the announcements channel and sees it in /setup show."""
    announcements = guild.add_text_channel("announcements")
    reply = await standin.slash(
        guild, manager, "setup channel", purpose="announcements", channel=announcements
    )
    assert_private_and_inert(reply)
    assert f"<#{announcements.id}>" in reply.content
    assert "announcements" in reply.content

    shown = await standin.slash(guild, manager, "setup show")
    assert_private_and_inert(shown)
    fields = {field["name"]: field["value"] for field in shown.embeds[0]["fields"]}
    assert f"**announcements**: <#{announcements.id}>" in fields["Channels"]
    assert "**organisers**: not set" in fields["Channels"]
    assert fields["Timezone"] == "Europe/London (default)"
    assert f"<@{manager.id}>" in fields["Last changed"]


@pytest.mark.parametrize(
    ("deny", "missing"),
    [
        (SEND, "Send Messages"),
        (EMBED, "Embed Links"),
        (THREADS, "Create Public Threads, Send Messages in Threads"),
    ],
)
async def test_setup_channel_names_the_missing_permission(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bot: TechMeetBot,
    deny: int,
    missing: str,
) -> None:
    """A channel the bot cannot post in is refused, naming exactly what is missing."""
    locked = guild.add_text_channel("locked")
    locked.set_overwrite(guild.bot_member, deny=deny)
    await standin.wait_for_gateway_idle()
    reply = await standin.slash(
        guild, manager, "setup channel", purpose="announcements", channel=locked
    )
    assert_private_and_inert(reply)
    assert missing in reply.content
    assert "Edit Channel" in reply.content
    assert (await bot.guild_settings.get(guild.id)).channels == {}


async def test_organisers_channel_needs_no_threads(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """Each purpose asks only for what it uses: organisers' reports need no threads."""
    channel = guild.add_text_channel("organisers")
    channel.set_overwrite(guild.bot_member, deny=THREADS)
    await standin.wait_for_gateway_idle()
    reply = await standin.slash(
        guild, manager, "setup channel", purpose="organisers", channel=channel
    )
    assert reply.content.startswith("Done")
    settings = await bot.guild_settings.get(guild.id)
    assert settings.channels == {ChannelPurpose.ORGANISERS: channel.id}


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("setup show", {}),
        ("setup channel", {"purpose": "talks", "channel": "general"}),
        ("setup organiser-role", {"role": "role"}),
        ("setup ping-role", {"role": "role"}),
        ("setup timezone", {"tz": "Europe/Paris"}),
        ("setup reminders", {"offsets": "1d"}),
        ("setup regions", {"regions": "Wales"}),
    ],
)
@pytest.mark.parametrize("who", ["member", "organiser"])
async def test_only_managers_can_change_settings(
    standin: DiscordStandIn,
    guild: FakeGuild,
    bot: TechMeetBot,
    command: str,
    options: dict[str, str],
    who: str,
) -> None:
    """Discord's command permissions are only a hint: the bot itself refuses non-managers."""
    person = guild.add_member(who, permissions=MANAGE_EVENTS if who == "organiser" else 0)
    role = guild.add_role("Organisers")
    values = {
        name: {"general": guild.general, "role": role}.get(value, value)
        for name, value in options.items()
    }
    before = await bot.guild_settings.get(guild.id)
    reply = await standin.slash(guild, person, command, options=values)
    assert_private_and_inert(reply)
    assert "Manage Server" in reply.content
    assert await bot.guild_settings.get(guild.id) == before


async def test_timezone_autocomplete_and_set(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """Autocomplete offers matching IANA names; the chosen one is stored."""
    suggestions = await standin.autocomplete(
        guild, manager, "setup timezone", focused="tz", tz="europe/dub"
    )
    assert suggestions.choices is not None
    assert [choice["value"] for choice in suggestions.choices] == ["Europe/Dublin"]
    many = await standin.autocomplete(guild, manager, "setup timezone", focused="tz", tz="a")
    assert many.choices is not None
    assert len(many.choices) == 25

    reply = await standin.slash(guild, manager, "setup timezone", tz="Europe/Dublin")
    assert "Europe/Dublin" in reply.content
    assert (await bot.guild_settings.get(guild.id)).timezone == "Europe/Dublin"


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("setup timezone", {"tz": "Europe/Londn"}, "Did you mean `Europe/London`"),
        ("setup timezone", {"tz": "GMT+1"}, "not a timezone"),
        ("setup reminders", {"offsets": "1 day"}, "not a reminder offset"),
        ("setup reminders", {"offsets": "2m"}, "between 5m and 8w"),
        ("setup reminders", {"offsets": "1d,24h"}, "given twice"),
        ("setup reminders", {"offsets": "1h,2h,3h,4h,5h,6h,7h"}, "At most 6"),
        ("setup regions", {"regions": " , "}, "at least one region"),
        ("setup regions", {"regions": "Wales,<@&1>"}, "plain words"),
    ],
)
async def test_bad_values_are_refused_and_nothing_changes(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bot: TechMeetBot,
    command: str,
    options: dict[str, str],
    expected: str,
) -> None:
    """Each wrong value gets a short private answer saying what to do; settings stay."""
    before = await bot.guild_settings.get(guild.id)
    reply = await standin.slash(guild, manager, command, options=options)
    assert_private_and_inert(reply)
    assert expected in reply.content
    assert await bot.guild_settings.get(guild.id) == before


async def test_reminders_and_regions(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """Offsets and regions are stored tidied and echoed back the way people type them."""
    reply = await standin.slash(guild, manager, "setup reminders", offsets="1h, 1w,1d")
    assert "1w, 1d, 1h" in reply.content
    reply = await standin.slash(guild, manager, "setup regions", regions="North West , Wales")
    assert "North West, Wales (plus Online and Other)" in reply.content
    settings = await bot.guild_settings.get(guild.id)
    assert settings.reminder_offsets == (10080, 1440, 60)
    assert settings.regions == ("North West", "Wales")


async def test_organiser_role(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """A role becomes the organiser role; @everyone is refused."""
    organisers = guild.add_role("Organisers")
    await standin.wait_for_gateway_idle()
    reply = await standin.slash(guild, manager, "setup organiser-role", role=organisers)
    assert f"<@&{organisers.id}>" in reply.content
    assert (await bot.guild_settings.get(guild.id)).organiser_role_id == organisers.id

    refused = await standin.slash(guild, manager, "setup organiser-role", role=guild.everyone)
    assert "every member an organiser" in refused.content
    assert (await bot.guild_settings.get(guild.id)).organiser_role_id == organisers.id


async def test_ping_role_warns_when_it_would_not_notify(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """A role nobody can mention is stored with a heads-up; a mentionable one without."""
    quiet = guild.add_role("Meetup news", mentionable=False)
    loud = guild.add_role("Meetup pings", mentionable=True)
    await standin.wait_for_gateway_idle()

    reply = await standin.slash(guild, manager, "setup ping-role", role=quiet)
    assert "isn't mentionable" in reply.content
    assert (await bot.guild_settings.get(guild.id)).ping_role_id == quiet.id

    reply = await standin.slash(guild, manager, "setup ping-role", role=loud)
    assert "Heads-up" not in reply.content
    assert reply.allowed_mentions == {"parse": []}  # naming the role here pings no one

    cleared = await standin.slash(guild, manager, "setup ping-role")
    assert "won't ping anyone" in cleared.content
    assert (await bot.guild_settings.get(guild.id)).ping_role_id is None


async def test_each_invocation_is_logged_once(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    member: FakeMember,
    bot: TechMeetBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One log line per command: guild, user, command, outcome and duration."""
    caplog.set_level(logging.INFO, logger="techmeet.interactions")
    await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    await standin.slash(guild, member, "setup timezone", tz="Europe/Paris")
    lines = [r.getMessage() for r in caplog.records if r.name == "techmeet.interactions"]
    assert len(lines) == 2
    assert f"guild={guild.id} user={manager.id} command=/setup timezone outcome=ok" in lines[0]
    assert f"user={member.id} command=/setup timezone outcome=refused:NotAllowed" in lines[1]
    assert all("duration_ms=" in line and "nan" not in line for line in lines)


async def test_settings_on_postgresql(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
    postgres_url: str,
) -> None:
    """The same bot runs on PostgreSQL: settings written through Discord are read back."""
    start, stop = bots
    bot = await start(postgres_url)
    reply = await standin.slash(guild, manager, "setup reminders", offsets="2d,2h")
    assert reply.content.startswith("Done")
    await stop(bot)
    bot = await start(postgres_url)
    shown = await standin.slash(guild, manager, "setup show")
    fields = {field["name"]: field["value"] for field in shown.embeds[0]["fields"]}
    assert fields["Reminders before each meetup"] == "2d, 2h"
