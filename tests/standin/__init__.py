"""A protocol-level local stand-in for Discord, for end-to-end tests of the real bot.

The real discord.py client logs into it (REST under /api/v10 and a JSON-text websocket gateway);
tests drive interactions into the bot and assert on everything it sent back::

    standin = DiscordStandIn()
    await standin.start()
    guild = standin.add_guild("TechMeet Test")
    ada = guild.add_member("Ada")
    discord.http.Route.BASE = standin.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(standin.gateway_url)
    ...start the bot with standin.token, then:
    await standin.wait_until_identified()
    reply = await standin.slash(guild, ada, "setup timezone", tz="Europe/Paris")
    assert reply.ephemeral and "Europe/Paris" in reply.content
    assert standin.problems == []   # nothing Discord would have refused

Also: ``slash_in_dm(user, "privacy export")`` (a global command in the bot's DM, context 1),
``rate_limit(path_regex, limit, per_seconds)`` (429s counted in ``rate_limited``), guild scheduled
events (REST, stored in ``guild.scheduled_events``), ``fail_next(...)`` for injected failures and
``clock`` for Discord's notion of "now".

Request bodies are validated against Discord's own OpenAPI description (``discord-openapi.json``,
MIT licence in ``DISCORD-OPENAPI-LICENSE``), plus Discord's classic limits.
"""

from . import permissions
from .errors import StandInError
from .interactions import InteractionReply
from .server import DiscordStandIn
from .world import FakeChannel, FakeGuild, FakeMember, FakeMessage, FakeRole, FakeUser

__all__ = [
    "DiscordStandIn",
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "InteractionReply",
    "StandInError",
    "permissions",
]
