"""/privacy export and delete cover every table that references a member."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsPersonalData, GuildSettingsService
from bot.services.privacy import PrivacyService
from db.base import Base

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ADA, BOB = 501, 502
ALL = frozenset(
    {
        "view_channel",
        "send_messages",
        "embed_links",
        "read_message_history",
        "create_public_threads",
        "send_messages_in_threads",
    }
)


def personal_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.info.get("personal")
    ]


def test_member_id_columns_are_marked_personal() -> None:
    """Any column that looks like it holds a member's id must be in the privacy registry's reach."""
    suspicious = [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith(("user_id", "_by", "member_id", "speaker_id", "voter_id"))
    ]
    assert suspicious
    assert set(suspicious) <= set(personal_columns())


async def fill(sessions: async_sessionmaker[AsyncSession]) -> None:
    service = GuildSettingsService(sessions, default_timezone="Europe/London", clock=lambda: NOW)
    for guild in (1, 2):
        await service.set_timezone(Actor(guild, ADA, manage_guild=True), "Europe/Paris")
        await service.set_channel(
            Actor(guild, ADA, manage_guild=True),
            ChannelPurpose.TALKS,
            10 + guild,
            bot_permissions=ALL,
        )
    await service.set_regions(Actor(3, BOB, manage_guild=True), "Wales")


async def references(sessions: async_sessionmaker[AsyncSession], user_id: int) -> list[str]:
    found = []
    async with sessions() as session:
        for table_name, column_name in personal_columns():
            table = Base.metadata.tables[table_name]
            rows = await session.execute(select(table).where(or_(table.c[column_name] == user_id)))
            found += [f"{table_name}.{column_name}" for _ in rows]
    return found


async def test_export_lists_the_members_data_in_every_guild(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The export holds the member's records from all guilds, and nobody else's."""
    await fill(sessions)
    privacy = PrivacyService(sessions, [GuildSettingsPersonalData()], clock=lambda: NOW)
    export = await privacy.export(ADA)
    json.dumps(export)  # must be JSON-ready
    changes = export["data"]["server_settings_changes"]
    assert {row["server_id"] for row in changes} == {"1", "2"}
    assert len(changes) == 4
    assert export["user_id"] == str(ADA)


async def test_erase_leaves_no_reference_and_keeps_others(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """After delete no row anywhere references the member; other members are untouched."""
    await fill(sessions)
    privacy = PrivacyService(sessions, [GuildSettingsPersonalData()], clock=lambda: NOW)
    assert await references(sessions, ADA)
    report = await privacy.erase(ADA)
    assert report.rows_changed == 4
    assert await references(sessions, ADA) == []
    assert await references(sessions, BOB) == ["guild_settings.updated_by"]
    assert (await privacy.export(ADA))["data"] == {"server_settings_changes": []}
    # The servers' settings themselves stay.
    service = GuildSettingsService(sessions, default_timezone="Europe/London")
    assert (await service.get(1)).timezone == "Europe/Paris"
    again = await privacy.erase(ADA)
    assert again.rows_changed == 0
