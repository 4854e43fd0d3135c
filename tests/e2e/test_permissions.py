"""The permission matrix: every organiser and manager command, and every organiser button,
tried by a plain member through the Discord stand-in. Discord's command permissions are only
a hint (server admins can change them), so each must be refused by the bot itself, privately,
with nothing changed: not a database row, not a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.client import TechMeetBot
from db.base import Base
from tests.e2e.conftest import MANAGE_EVENTS, create
from tests.standin import DiscordStandIn, FakeGuild, FakeMember

MANAGER_COMMANDS = [
    "setup show",
    "setup channel",
    "setup organiser-role",
    "setup ping-role",
    "setup timezone",
    "setup reminders",
    "setup regions",
    "setup retention",
]
ORGANISER_COMMANDS = [
    "techmeet create",
    "techmeet edit",
    "techmeet cancel",
    "techmeet attendees",
    "techmeet stats",
    "topic merge",
    "topic remove",
    "topic poll",
    "topic close",
    "talk settings",
    "talk review",
    "talk remove",
    "talk order",
    "talk lineup",
    "talk next",
    "talk archive",
    "pairing setup",
    "pairing run-now",
    "pairing stats",
    "members remove",
]
# Values for options by name; anything else gets a value of its type.
NAMED = {
    "when": (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0).isoformat(),
    "offsets": "1d",
    "reminders": "1d",
    "tz": "Europe/Paris",
    "regions": "Wales, Scotland",
    "title": "Taken over",
    "lengths": "5",
    "days": 7,
}
# Forged ephemeral messages the button test clicks get small ids (real ids are snowflakes);
# the stand-in files them as the bot's, so the snapshot leaves them out.
FORGED_BELOW = 100
# Tables that change on their own while the bot runs (heartbeats), and the per-member
# counters of writing commands, which count refused attempts too, by design.
LIVE_TABLES = {"bot_processes", "member_quotas"}


def leaf(commands: list[dict[str, Any]], path: str) -> dict[str, Any]:
    node: dict[str, Any] = {"options": commands}
    for name in path.split():
        node = next(o for o in node["options"] if o["name"] == name)
    return node


def values_for(command: dict[str, Any], guild: FakeGuild, member: FakeMember) -> dict[str, Any]:
    role = guild.roles[-1]
    values: dict[str, Any] = {}
    for option in command.get("options", []):
        if not option.get("required"):
            continue
        name, kind = option["name"], option["type"]
        if option.get("choices"):
            values[name] = option["choices"][0]["value"]
        elif name in NAMED:
            values[name] = NAMED[name]
        elif kind == 4:  # integer: meetup, talk, topic numbers and the like
            values[name] = max(1, int(option.get("min_value", 1)))
        elif kind == 6:
            values[name] = member
        elif kind == 7:
            values[name] = guild.general
        elif kind == 8:
            values[name] = role
        elif kind == 5:
            values[name] = True
        else:
            values[name] = "something"
    return values


async def snapshot(bot: TechMeetBot, standin: DiscordStandIn, guild: FakeGuild) -> object:
    """Every row of every table, and every message the bot posted in every channel."""
    rows = {}
    async with bot.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if table.name not in LIVE_TABLES:
                rows[table.name] = sorted(map(repr, (await session.execute(select(table))).all()))
    messages = {
        c.id: [
            m.id
            for m in standin.messages(c)
            if m.author.id == standin.bot_user_id and m.id >= FORGED_BELOW
        ]
        for c in guild.channels
    }
    return rows, messages


@pytest.fixture
async def busy_server(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bot: TechMeetBot,
) -> FakeMember:
    """A server with everything to take over: a meetup, topics, a talk, an introduction."""
    organiser = guild.add_member("Olu Organiser", permissions=MANAGE_EVENTS)
    speaker = guild.add_member("Sam Speaker")
    guild.add_role("Organisers")
    for purpose in ("announcements", "talks", "introductions", "pairing", "organisers"):
        channel = guild.add_text_channel(purpose)
        await standin.wait_for_gateway_idle()
        done = await standin.slash(
            guild, manager, "setup channel", purpose=purpose, channel=channel
        )
        assert done.content.startswith("Done"), done.content
    await create(standin, guild, organiser, capacity=10)
    for title in ("Backup testing", "Eduroam certificates"):
        await standin.slash(guild, speaker, "topic suggest", meetup=1, title=title)
    await standin.slash(guild, organiser, "talk settings", meetup=1, approval="review")
    await standin.slash(guild, speaker, "talk propose", meetup=1, title="Our Wi-Fi", length=5)
    opened = await standin.slash(guild, speaker, "intro")
    await standin.submit_modal(opened, speaker, {"name": "Sam", "skills": "moodle"})
    return speaker


@pytest.mark.parametrize("command", MANAGER_COMMANDS + ORGANISER_COMMANDS)
async def test_plain_members_are_refused_and_nothing_changes(
    standin: DiscordStandIn,
    guild: FakeGuild,
    bot: TechMeetBot,
    busy_server: FakeMember,
    command: str,
) -> None:
    """Refused privately, with the right named; no row and no message changes."""
    member = guild.add_member("Pat Plain")
    await standin.wait_for_gateway_idle()
    spec = leaf(standin.registered_commands(guild), command)
    before = await snapshot(bot, standin, guild)
    refused = await standin.slash(
        guild, member, command, options=values_for(spec, guild, busy_server)
    )
    assert refused.ephemeral
    expected = "Manage Server" if command in MANAGER_COMMANDS else "organiser"
    assert expected.casefold() in refused.content.casefold(), refused.content
    assert await snapshot(bot, standin, guild) == before


async def test_organiser_buttons_refuse_plain_members(
    standin: DiscordStandIn,
    guild: FakeGuild,
    bot: TechMeetBot,
    busy_server: FakeMember,
) -> None:
    """Review's Accept, Decline and paging, the timer's Stop and someone else's erase
    button: a plain member's click (custom_ids can be forged) is refused, nothing changes."""
    member = guild.add_member("Pat Plain")
    await standin.wait_for_gateway_idle()
    talk = await bot.talks.talk(guild.id, 1)
    forged = [
        f"talk:accept:{talk.id}:1",
        f"talk:decline:{talk.id}:1",
        "talk:review:1:0:Next",
        f"talk:stop:{talk.id}",
        f"privacy:erase:{busy_server.id}",
    ]
    for n, custom_id in enumerate(forged, start=1):
        message = {
            "id": str(n),
            "channel_id": str(guild.general.id),
            "flags": 64,
            "components": [
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "x", "custom_id": custom_id}],
                }
            ],
        }
        before = await snapshot(bot, standin, guild)
        refused = await standin.click(message, custom_id, member)
        assert refused.modal is None, custom_id
        assert refused.ephemeral, custom_id
        assert any(word in refused.content.casefold() for word in ("organiser", "someone else")), (
            custom_id,
            refused.content,
        )
        assert await snapshot(bot, standin, guild) == before, custom_id
