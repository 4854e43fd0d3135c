"""/setup's use cases against a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.domain.guild_settings import DEFAULT_REGIONS, DEFAULT_REMINDER_OFFSETS, ChannelPurpose
from bot.domain.members import Actor
from bot.errors import BadInput, NotAllowed
from bot.services.guild_settings import GuildSettingsService
from db.engine import Sessions
from db.models import GuildChannel, GuildSettings
from tests.services.permissions import ALL_POSTING

GUILD = 900_000_000_000_000_001
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
MANAGER = Actor(GUILD, 11, manage_guild=True)
ORGANISER = Actor(GUILD, 12, manage_events=True)
MEMBER = Actor(GUILD, 13)


@pytest.fixture
def service(sessions: Sessions) -> GuildSettingsService:
    return GuildSettingsService(sessions, default_timezone="Europe/London", clock=lambda: NOW)


async def count_rows(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        settings = await session.scalar(select(func.count()).select_from(GuildSettings))
        channels = await session.scalar(select(func.count()).select_from(GuildChannel))
    return int(settings or 0), int(channels or 0)


async def test_defaults_without_a_row(service: GuildSettingsService) -> None:
    """A guild that never ran /setup gets the defaults."""
    settings = await service.get(GUILD)
    assert settings.timezone == "Europe/London"
    assert settings.timezone_is_default
    assert settings.reminder_offsets == DEFAULT_REMINDER_OFFSETS
    assert settings.regions == DEFAULT_REGIONS
    assert settings.channels == {}
    assert settings.updated_by is None


async def test_every_setting_is_stored(service: GuildSettingsService) -> None:
    """Each /setup value is stored, read back, and records who changed it when."""
    await service.set_timezone(MANAGER, "america/new_york")
    await service.set_reminder_offsets(MANAGER, "1w, 1h")
    await service.set_regions(MANAGER, "North West, Wales")
    await service.set_organiser_role(MANAGER, 555)
    await service.set_ping_role(MANAGER, 666)
    await service.set_channel(
        MANAGER, ChannelPurpose.ANNOUNCEMENTS, 777, bot_permissions=ALL_POSTING
    )
    settings = await service.set_channel(
        MANAGER, ChannelPurpose.ORGANISERS, 888, bot_permissions=ALL_POSTING
    )
    assert settings.timezone == "America/New_York"
    assert not settings.timezone_is_default
    assert settings.reminder_offsets == (10080, 60)
    assert settings.regions == ("North West", "Wales")
    assert (settings.organiser_role_id, settings.ping_role_id) == (555, 666)
    assert settings.channels == {ChannelPurpose.ANNOUNCEMENTS: 777, ChannelPurpose.ORGANISERS: 888}
    assert (settings.updated_at, settings.updated_by) == (NOW, MANAGER.user_id)
    assert await service.get(GUILD) == settings


async def test_channel_can_be_moved_and_ping_role_cleared(service: GuildSettingsService) -> None:
    """Setting a purpose again replaces the channel; the ping role can be turned off."""
    await service.set_channel(MANAGER, ChannelPurpose.TALKS, 1, bot_permissions=ALL_POSTING)
    await service.set_channel(MANAGER, ChannelPurpose.TALKS, 2, bot_permissions=ALL_POSTING)
    await service.set_ping_role(MANAGER, 666)
    settings = await service.set_ping_role(MANAGER, None)
    assert settings.channels == {ChannelPurpose.TALKS: 2}
    assert settings.ping_role_id is None


@pytest.mark.parametrize("who", [ORGANISER, MEMBER])
async def test_only_managers_change_settings(
    service: GuildSettingsService, sessions: Sessions, who: Actor
) -> None:
    """Organisers and members are refused every change, and nothing is written."""
    attempts = [
        service.set_timezone(who, "Europe/Paris"),
        service.set_reminder_offsets(who, "1d"),
        service.set_regions(who, "Wales"),
        service.set_organiser_role(who, 5),
        service.set_ping_role(who, 5),
        service.set_channel(who, ChannelPurpose.TALKS, 5, bot_permissions=ALL_POSTING),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed, match="Manage Server"):
            await attempt
    assert await count_rows(sessions) == (0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.set_timezone(MANAGER, "Mars/Base"), "not a timezone"),
        (lambda s: s.set_reminder_offsets(MANAGER, "1 fortnight"), "not a reminder offset"),
        (lambda s: s.set_regions(MANAGER, "Wales, wales"), "twice"),
        (lambda s: s.set_organiser_role(MANAGER, GUILD), "every member an organiser"),
        (lambda s: s.set_ping_role(MANAGER, GUILD), "won't ping @everyone"),
        (
            lambda s: s.set_channel(
                MANAGER,
                ChannelPurpose.ANNOUNCEMENTS,
                5,
                bot_permissions=frozenset({"view_channel", "send_messages"}),
            ),
            "Embed Links, Read Message History, Create Public Threads",
        ),
    ],
)
async def test_bad_values_change_nothing(
    service: GuildSettingsService, sessions: Sessions, change, message
) -> None:
    """Bad input is refused with what to do instead, and nothing is stored."""
    await service.set_timezone(MANAGER, "Europe/Dublin")
    before = await service.get(GUILD)
    with pytest.raises(BadInput, match=message):
        await change(service)
    assert await service.get(GUILD) == before


async def test_first_settings_written_concurrently(
    service: GuildSettingsService, sessions: Sessions
) -> None:
    """Many managers configuring a new guild at once create exactly one settings row."""
    managers = [Actor(GUILD, 100 + i, manage_guild=True) for i in range(12)]
    await asyncio.gather(
        *(
            service.set_channel(m, ChannelPurpose.TALKS, 1000 + i, bot_permissions=ALL_POSTING)
            if i % 2
            else service.set_timezone(m, "Europe/Paris")
            for i, m in enumerate(managers)
        )
    )
    assert await count_rows(sessions) == (1, 1)
    settings = await service.get(GUILD)
    assert settings.timezone == "Europe/Paris"
    assert settings.channels[ChannelPurpose.TALKS] in {1000 + i for i in range(1, 12, 2)}
