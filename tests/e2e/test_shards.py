"""A sharded bot against the stand-in: one gateway session per shard, each guild's events on
the shard `(guild_id >> 22) % shard_count`, events without a guild on shard 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import discord
import pytest
import yarl

from tests.e2e.conftest import MANAGE_GUILD, BotProcess
from tests.standin import DiscordStandIn, FakeGuild, StandInError

SHARDS = 2


def shard_of(guild: FakeGuild) -> int:
    return (guild.id >> 22) % SHARDS


def guild_per_shard(standin: DiscordStandIn) -> list[FakeGuild]:
    """One guild on each shard, in shard order. A guild id's shard comes from its timestamp
    (milliseconds), so add guilds a millisecond apart and remove those on a shard that has one."""
    found: dict[int, FakeGuild] = {}
    while len(found) < SHARDS:
        guild = standin.add_guild(f"Technicians {len(found)}")
        if shard_of(guild) in found:
            standin.remove_guild(guild)
            time.sleep(0.001)
        else:
            found[shard_of(guild)] = guild
    return [found[shard] for shard in range(SHARDS)]


# -- plain discord.py clients, one per shard, in this process ------------------------------------


@dataclass
class Shards:
    standin: DiscordStandIn
    guilds: list[FakeGuild]  # guilds[n] is on shard n
    clients: list[discord.Client]  # clients[n] runs shard n


@pytest.fixture
async def shards(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Shards]:
    standin = DiscordStandIn()
    await standin.start()
    monkeypatch.setattr(discord.http.Route, "BASE", standin.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(standin.gateway_url)
    )
    guilds = guild_per_shard(standin)
    intents = discord.Intents.default()
    intents.members = True
    clients = [
        discord.Client(intents=intents, shard_id=shard, shard_count=SHARDS, guild_ready_timeout=0.1)
        for shard in range(SHARDS)
    ]
    tasks = [asyncio.create_task(client.start(standin.token)) for client in clients]
    try:
        ready = asyncio.gather(*(client.wait_until_ready() for client in clients))
        await asyncio.wait_for(ready, 15)
        await standin.wait_until_identified()
        yield Shards(standin, guilds, clients)
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(*tasks)  # a crashed connection task fails the test here
        await standin.close()
    assert standin.problems == [], standin.problems


async def test_each_shard_gets_its_own_guilds_and_their_events(shards: Shards) -> None:
    standin, guilds, clients = shards.standin, shards.guilds, shards.clients
    for shard, client in enumerate(clients):
        assert [guild.id for guild in client.guilds] == [guilds[shard].id]
    channels = [guild.add_text_channel(f"shard-{shard}") for shard, guild in enumerate(guilds)]
    newcomer = guilds[1].add_member("Nia Newcomer")
    joined = standin.add_guild("Joined later")
    bob = standin.add_user("Bob")
    dm = await standin.user_message(standin.dm_channel(bob), bob, "hello bot")
    await standin.wait_for_gateway_idle()

    for shard, client in enumerate(clients):
        other = guilds[1 - shard]
        assert client.get_channel(channels[shard].id) is not None
        assert client.get_channel(channels[1 - shard].id) is None
        assert other.id not in {guild.id for guild in client.guilds}
        assert (client.get_guild(joined.id) is not None) == (shard == shard_of(joined))
    member_guild = clients[1].get_guild(guilds[1].id)
    assert member_guild is not None
    assert member_guild.get_member(newcomer.id) is not None
    # A DM has no guild: shard 0 receives it.
    assert [m.id for m in clients[0].cached_messages] == [dm.id]
    assert list(clients[1].cached_messages) == []


async def test_a_resumed_shard_gets_only_its_own_missed_events(shards: Shards) -> None:
    standin, guilds, clients = shards.standin, shards.guilds, shards.clients
    await standin.drop_gateway(wait=False)
    assert not standin.gateway.ready  # both shards are away while these happen
    missed = [guild.add_text_channel(f"missed-{shard}") for shard, guild in enumerate(guilds)]
    await standin.wait_for_gateway_idle(timeout=10)

    # Each shard picked its own session up again: nobody had to identify afresh.
    assert standin.gateway.resumes == SHARDS
    assert standin.gateway.identifies == SHARDS
    for shard, client in enumerate(clients):
        assert client.get_channel(missed[shard].id) is not None
        assert client.get_channel(missed[1 - shard].id) is None


async def test_after_resharding_one_unsharded_client_gets_every_guild(shards: Shards) -> None:
    standin, guilds = shards.standin, shards.guilds
    for client in shards.clients:
        await client.close()
    intents = discord.Intents.default()
    intents.members = True
    whole = discord.Client(intents=intents, guild_ready_timeout=0.1)
    task = asyncio.create_task(whole.start(standin.token))
    try:
        await asyncio.wait_for(whole.wait_until_ready(), 15)
        # The two-shard sessions are gone, not waiting forever for a resume.
        await standin.wait_until_identified()
        assert sorted(guild.id for guild in whole.guilds) == sorted(g.id for g in guilds)
    finally:
        await whole.close()
        await task


# -- `techmeet run` processes, one per shard, on PostgreSQL --------------------------------------


async def test_each_process_answers_its_own_shards_guilds(
    standin: DiscordStandIn, run_bot: Callable[..., Awaitable[BotProcess]], postgres_url: str
) -> None:
    """Two processes split two shards; with the shard-1 process stopped, its guild's commands
    reach nobody (they wait in shard 1's session), the other guild's are still answered, and
    a new shard-1 process answers again."""
    guilds = guild_per_shard(standin)
    managers = [guild.add_member("Mia Manager", permissions=MANAGE_GUILD) for guild in guilds]

    async def start(shard: int) -> BotProcess:
        return await run_bot(
            "--shard-count", str(SHARDS), "--shard-ids", str(shard), DATABASE_URL=postgres_url
        )

    async def settings_shown(shard: int) -> bool:
        reply = await standin.slash(guilds[shard], managers[shard], "setup show")
        return any(field["name"] == "Timezone" for field in reply.embeds[0]["fields"])

    processes = [await start(shard) for shard in range(SHARDS)]
    # The stand-in is ready once every shard that identified is: wait for both to identify.
    await standin.wait_until(
        lambda: True if standin.gateway.identifies == SHARDS else None,
        60,
        lambda: f"{standin.gateway.identifies} of {SHARDS} shards identified",
    )
    await standin.wait_for_gateway_idle(timeout=60)
    for shard in range(SHARDS):
        assert await settings_shown(shard)

    code, stderr = await processes[1].stop()
    assert code == 0, stderr
    assert "shard 1 of 2" in stderr
    assert await settings_shown(0)
    deadline, standin.interaction_deadline = standin.interaction_deadline, 1.0
    with pytest.raises(StandInError, match="did not acknowledge"):
        await settings_shown(1)
    standin.interaction_deadline = deadline

    replacement = await start(1)
    await standin.wait_for_gateway_idle(timeout=60)
    assert await settings_shown(1)
    assert await settings_shown(0)
    for process in (processes[0], replacement):
        code, stderr = await process.stop()
        assert code == 0, stderr
    # The unanswered command is not a problem the stand-in records: Discord would show the
    # member "The application did not respond", which is what shard 1 being down means.
    assert standin.problems == []
