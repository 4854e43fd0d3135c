"""/privacy export and delete cover every table that references a member."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import BigInteger, select

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.meetups import RsvpStatus
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService
from bot.services.privacy import PrivacyService, personal_data_sources
from bot.services.topics import TopicService
from db.base import Base
from db.engine import Sessions
from tests.clock import FakeClock
from tests.services.permissions import ALL_POSTING

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ADA, BOB = 501, 502


def personal_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.info.get("personal")
    ]


# Snowflake columns that hold ids of things, not people.
NOT_PEOPLE = {
    "guild_id",
    "channel_id",
    "organiser_role_id",
    "ping_role_id",
    "voice_channel_id",
    "announcement_channel_id",
    "announcement_message_id",
    "thread_id",
    "scheduled_event_id",
    "message_id",
    "results_message_id",
    "timer_channel_id",
    "timer_message_id",
}


def test_every_snowflake_column_is_a_person_or_a_known_thing() -> None:
    """A new column holding a Discord id must be marked personal or listed as a thing here,
    so /privacy can never miss a member's id."""
    unclassified = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, BigInteger)
        and not column.info.get("personal")
        and column.name not in NOT_PEOPLE
    ]
    assert unclassified == []
    assert personal_columns()


async def fill(sessions: Sessions, clock: FakeClock) -> GuildSettingsService:
    """Ada configures two servers, schedules, RSVPs and rates; Bob does a little too."""
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    meetups = MeetupService(sessions, settings, clock=clock)
    topics = TopicService(sessions, settings, meetups, clock=clock)
    for guild in (1, 2):
        ada = Actor(guild, ADA, manage_guild=True)
        await settings.set_timezone(ada, "Europe/Paris")
        await settings.set_channel(
            ada, ChannelPurpose.ANNOUNCEMENTS, 10 + guild, bot_permissions=ALL_POSTING
        )
        meetup = (
            await meetups.create(ada, MeetupDraft(title="Wi-Fi clinic", when="2026-12-03 18:00"))
        ).meetup
        await meetups.rsvp(guild, ADA, meetup.id, RsvpStatus.GOING)
        await meetups.rsvp(guild, BOB, meetup.id, RsvpStatus.MAYBE)
        await meetups.set_dm_reminders(guild, ADA, True)
        clock.now = meetup.ends_at
        await meetups.record_rating(guild, ADA, meetup.id, 5)
        await meetups.record_action(guild, ADA, meetup.id, "Try RADIUS logging")
        clock.now = NOW
        later = (
            await meetups.create(ada, MeetupDraft(title="Agenda night", when="2026-12-10 18:00"))
        ).meetup
        topic = (await topics.suggest(ada, f"RADIUS in server {guild}", None, later.number)).topic
        await topics.support(Actor(guild, BOB), topic.number)
        poll = await topics.open_poll(ada, later.number)
        await topics.add_dot(guild, ADA, poll.id, topic.id)
        await topics.add_dot(guild, BOB, poll.id, topic.id)
        await topics.close(poll.id)
        await topics.volunteer(ada, topic.id)
    await settings.set_regions(Actor(3, BOB, manage_guild=True), "Wales")
    return settings


async def references(sessions: Sessions, user_id: int) -> list[str]:
    found = []
    async with sessions() as session:
        for table_name, column_name in personal_columns():
            table = Base.metadata.tables[table_name]
            rows = await session.execute(select(table).where(table.c[column_name] == user_id))
            found += [f"{table_name}.{column_name}" for _ in rows]
    return sorted(found)


async def test_export_lists_the_members_data_in_every_guild(
    sessions: Sessions,
) -> None:
    """The export holds the member's records from all guilds, and nobody else's."""
    clock = FakeClock(NOW)
    settings = await fill(sessions, clock)
    privacy = PrivacyService(sessions, personal_data_sources(settings), clock=clock)
    export = await privacy.export(ADA)
    json.dumps(export)  # must be JSON-ready
    assert export["user_id"] == str(ADA)
    changes = export["data"]["server_settings_changes"]
    assert {row["server_id"] for row in changes} == {"1", "2"}
    techmeets = export["data"]["techmeets"]
    assert {
        "server_id": "1",
        "techmeet": 1,
        "rating": 5,
        "action": "Try RADIUS logging",
    } in techmeets
    assert sum(1 for row in techmeets if row.get("rsvp") == "going") == 2
    assert all(row.get("rsvp") != "maybe" for row in techmeets)  # Bob's answer is not Ada's


async def test_erase_leaves_no_reference_and_keeps_others(
    sessions: Sessions,
) -> None:
    """After delete no row anywhere references the member; other members are untouched."""
    clock = FakeClock(NOW)
    settings = await fill(sessions, clock)
    privacy = PrivacyService(sessions, personal_data_sources(settings), clock=clock)
    bob_before = await references(sessions, BOB)
    assert await references(sessions, ADA)
    report = await privacy.erase(ADA)
    assert report.rows_changed > 0
    assert await references(sessions, ADA) == []
    assert await references(sessions, BOB) == bob_before
    assert all(rows == [] for rows in (await privacy.export(ADA))["data"].values())
    # The servers' settings and meetups themselves stay.
    assert (await settings.get(1)).timezone == "Europe/Paris"
    meetups = MeetupService(sessions, settings, clock=clock)
    assert (await meetups.by_number(1, 1)).going == 0  # Ada's place was given back
    assert (await privacy.erase(ADA)).rows_changed == 0
