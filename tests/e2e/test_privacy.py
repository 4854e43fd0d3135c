"""/privacy export and delete through the stand-in, including across a restart."""

from __future__ import annotations

import json

from bot.client import TechMeetBot
from tests.e2e.conftest import StartBot, StopBot
from tests.standin import DiscordStandIn, FakeGuild, FakeMember, InteractionReply


def erase_button(reply: InteractionReply) -> str:
    [row] = reply.components
    [button] = row["components"]
    assert button["label"] == "Yes, erase my data"
    return str(button["custom_id"])


async def test_export_is_a_private_json_file(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> None:
    """The export is an ephemeral JSON attachment with the member's records in it."""
    await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    reply = await standin.slash(guild, manager, "privacy export")
    assert reply.ephemeral
    [(filename, content)] = reply.attachments
    assert filename.endswith(".json")
    export = json.loads(content)
    assert export["user_id"] == str(manager.id)
    [change] = export["data"]["server_settings_changes"]
    assert change["server_id"] == str(guild.id)


async def test_delete_needs_confirmation_by_the_same_member(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    member: FakeMember,
    bot: TechMeetBot,
) -> None:
    """Only the member who asked can confirm; then nothing references them any more."""
    await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    ask = await standin.slash(guild, manager, "privacy delete")
    assert ask.ephemeral
    custom_id = erase_button(ask)

    # Discord lets only the asker click an ephemeral message; a crafted message carrying the
    # same custom_id must still be refused, because custom_ids are never trusted.
    crafted = {"id": "1", "channel_id": str(guild.general.id), "components": ask.components}
    stranger = await standin.click(crafted, custom_id, member)
    assert stranger.ephemeral
    assert "someone else's" in stranger.content
    assert (await bot.guild_settings.get(guild.id)).updated_by == manager.id

    done = await standin.click(ask, custom_id, manager)
    assert done.type == 7  # the confirmation message itself is updated
    assert "erased" in done.content
    assert done.components == []
    settings = await bot.guild_settings.get(guild.id)
    assert settings.updated_by is None
    assert settings.timezone == "Europe/Paris"  # the server's settings stay


async def test_confirm_button_works_after_a_restart(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
) -> None:
    """A confirmation asked before a restart can be confirmed after it."""
    start, stop = bots
    first = await start()
    await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    ask = await standin.slash(guild, manager, "privacy delete")
    await stop(first)

    second = await start()
    done = await standin.click(ask, erase_button(ask), manager)
    assert "erased" in done.content
    assert (await second.guild_settings.get(guild.id)).updated_by is None
