"""RSVP and vote click latency, from INTERACTION_CREATE to the bot's real answer, side by side
with a bare discord.py bot through the same Discord stand-in; and database round trips per
click (the clicks members make most: Going/Maybe/Can't go, and adding a dot in a poll).

    .venv/bin/python -m benchmarks.rsvp_latency [--postgres-url URL]

Each bot runs as its own process (the stand-in runs in this one), so the numbers include
the gateway, the bot's event loop, the database and the HTTP answer, as on Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from benchmarks.counting_bot import watch_driver_statements
from bot.domain.guild_settings import ChannelPurpose
from bot.domain.meetups import RsvpStatus
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService
from bot.services.topics import TopicService
from db.engine import create_engine, create_sessions
from db.migrate import upgrade
from tests.standin import DiscordStandIn, FakeGuild, FakeMember
from tests.standin.permissions import BOT_DEFAULT

ROOT = Path(__file__).resolve().parents[1]
TECHMEET = str(Path(sys.executable).with_name("techmeet"))
SEQUENTIAL = 300
WARM_UP = 20
BURST = 100
MANAGE = 1 << 5 | 1 << 33  # Manage Server, Manage Events
BURST_OPEN = f"burst of {BURST}"
# The same burst on a meetup with half as many places: half join the waitlist.
BURST_FULL = f"burst of {BURST}, {BURST // 2} places"
VOTE_ONE = "vote, one at a time"
VOTE_BURST = f"vote, burst of {BURST}"
VOTE_TOPICS = ("Eduroam certificates", "Intune enrolment", "Backup testing", "Wi-Fi surveys")


def timing_standin(*, check_bodies: bool = False) -> DiscordStandIn:
    """The stand-in, by default without its check of every body against Discord's API
    description: that costs it up to ~85 ms for a form or a ballot and next to nothing for
    a one-line answer, the harness's time rather than the bot's (the tests keep it on)."""
    standin = DiscordStandIn()
    standin.validate_bodies = check_bodies
    return standin


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


async def spawn(
    args: list[str], env: dict[str, str], *, show_errors: bool = False
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=None if show_errors else asyncio.subprocess.DEVNULL,
    )


Click = Callable[[str, int], Awaitable[object]]


async def spawn_reference(standin: DiscordStandIn) -> asyncio.subprocess.Process:
    """benchmarks.reference_bot, pointed at the stand-in."""
    return await spawn(
        [sys.executable, "-m", "benchmarks.reference_bot"],
        {
            "DISCORD_TOKEN": standin.token,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
        },
    )


async def start_techmeet(standin: DiscordStandIn, database_url: str) -> asyncio.subprocess.Process:
    """`techmeet run` against the stand-in, logged in and past its gateway start."""
    bot = await spawn(
        [TECHMEET, "run"],
        {
            "DISCORD_TOKEN": standin.token,
            "DATABASE_URL": database_url,
            "DISCORD_API_BASE_URL": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "LOG_LEVEL": "WARNING",
        },
    )
    await standin.wait_for_gateway_idle(timeout=120)
    return bot


async def measure(click: Click, targets: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Per scenario: clicks one at a time, or a burst of BURST at once; milliseconds.

    `targets` maps each scenario to the button it clicks (a different meetup each).
    """

    async def timed(target: str, i: int) -> float:
        start = perf_counter()
        await click(target, i)
        return (perf_counter() - start) * 1000

    # Warm-up: caches, and (with a few at once) the database pool's connections, whose
    # first use prepares statements; a running bot has long done all this.
    await asyncio.gather(*(timed(targets["warm-up"], 10_000 + i) for i in range(WARM_UP)))
    for i in range(WARM_UP):
        await timed(targets["warm-up"], 10_000 + i)
    results = {}
    one_by_one = [await timed(targets["one at a time"], i) for i in range(SEQUENTIAL)]
    results["one at a time"] = percentiles(one_by_one)
    for scenario, target in targets.items():
        if scenario.startswith("burst"):
            burst = await asyncio.gather(*(timed(target, 20_000 + i) for i in range(BURST)))
            results[scenario] = percentiles(list(burst))
    return results


def members(guild: FakeGuild, count: int) -> dict[int, FakeMember]:
    return {i: guild.add_member(f"Member {i}") for i in range(count)}


async def reference_run() -> dict[str, tuple[float, float]]:
    standin = timing_standin()
    await standin.start()
    guild = standin.add_guild("Reference")
    people = members(guild, 0)
    bot = await spawn_reference(standin)
    try:
        await standin.wait_for_gateway_idle(timeout=60)
        message = {
            "id": str(secrets.randbits(60)),
            "channel_id": str(guild.general.id),
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 1, "label": "Going", "custom_id": "ref:going"}
                    ],
                }
            ],
        }
        for key in (
            *range(10_000, 10_000 + WARM_UP),
            *range(SEQUENTIAL),
            *range(20_000, 20_000 + BURST),
        ):
            people[key] = guild.add_member(f"Member {key}")
        await standin.wait_for_gateway_idle(timeout=60)

        async def click(target: str, i: int) -> object:
            return await standin.click(message, target, people[i])

        return await measure(
            click, {"warm-up": "ref:going", "one at a time": "ref:going", BURST_OPEN: "ref:going"}
        )
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


async def techmeet_run(database_url: str) -> dict[str, tuple[float, float]]:
    standin = timing_standin()
    await standin.start()
    guild = standin.add_guild("TechMeet", bot_permissions=BOT_DEFAULT)
    manager = guild.add_member("Manager", permissions=MANAGE)
    channel = guild.add_text_channel("announcements")
    people: dict[int, FakeMember] = {}
    for key in (
        *range(10_000, 10_000 + WARM_UP),
        *range(SEQUENTIAL),
        *range(20_000, 20_000 + BURST),
    ):
        people[key] = guild.add_member(f"Member {key}")
    bot = await start_techmeet(standin, database_url)
    try:
        await standin.slash(
            guild, manager, "setup channel", purpose="announcements", channel=channel
        )
        buttons = {}
        for scenario, capacity in [
            ("warm-up", None),
            ("one at a time", None),
            (BURST_OPEN, None),
            (BURST_FULL, BURST // 2),
        ]:
            when = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
            options: dict[str, object] = {"title": scenario, "when": when}
            if capacity:
                options["capacity"] = capacity
            reply = await standin.slash(guild, manager, "techmeet create", options=options)
            message = standin.find_message(int(reply.content.rsplit("/", 1)[1].split()[0]))
            assert message is not None
            buttons[scenario] = message

        async def click(target: str, i: int) -> object:
            message = buttons[target]
            custom_id = message.components[0]["components"][0]["custom_id"]
            answer = await standin.click(message, custom_id, people[i])
            assert "going" in answer.content or "waitlist" in answer.content, answer.content
            return answer

        results = await measure(click, {scenario: scenario for scenario in buttons})
        votes = await measure(
            await voting(standin, guild, manager, people),
            {"warm-up": "vote", "one at a time": "vote", BURST_OPEN: "vote"},
        )
        results[VOTE_ONE] = votes["one at a time"]
        results[VOTE_BURST] = votes[BURST_OPEN]
        return results
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


def own_ballot(channel_id: int, add_dot: str) -> dict[str, Any]:
    """A member's own (ephemeral) ballot with the Add button for one topic, as after
    picking it: the bot only reads the button's custom id."""
    button = {"type": 2, "style": 3, "label": "Add a dot", "custom_id": add_dot}
    return {
        "id": str(secrets.randbits(60)),
        "channel_id": str(channel_id),
        "flags": 64,
        "components": [{"type": 1, "components": [button]}],
    }


async def voting(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, people: dict[int, FakeMember]
) -> Click:
    """A poll on TechMeet #1; the click puts member i's dot on a topic (in turn), from their
    own ballot, as after picking the topic."""
    for n, title in enumerate(VOTE_TOPICS):
        await standin.slash(guild, people[n], "topic suggest", title=title, meetup=1)
    opened = await standin.slash(guild, manager, "topic poll", meetup=1, votes=3, closes="2d")
    poll = standin.find_message(int(opened.content.rsplit("/", 1)[1].split()[0]))
    assert poll is not None
    vote_id = poll.components[0]["components"][0]["custom_id"]
    poll_id = int(vote_id.split(":")[1])
    ballot = await standin.click(poll, vote_id, manager)
    topic_ids = [
        int(o["value"])
        for row in ballot.components
        for c in row["components"]
        for o in c.get("options", [])
    ]

    async def click(target: str, i: int) -> object:
        del target  # one poll
        custom_id = f"ballot:{poll_id}:{topic_ids[i % len(topic_ids)]}:add"
        ballot = own_ballot(poll.channel_id, custom_id)
        answer = await standin.click(ballot, custom_id, people[i])
        assert "dots left" in json.dumps(answer.embeds), answer.describe()
        return answer

    return click


async def round_trips(database_url: str) -> dict[str, int]:
    """SQL statements one RSVP or vote sends, per path (BEGIN and COMMIT not counted)."""
    engine = create_engine(database_url)
    await upgrade(engine)
    sessions = create_sessions(engine)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London")
    meetups = MeetupService(sessions, settings)
    await settings.set_channel(
        Actor(1, 1, manage_guild=True),
        ChannelPurpose.ANNOUNCEMENTS,
        2,
        bot_permissions=frozenset(
            {
                "view_channel",
                "send_messages",
                "embed_links",
                "read_message_history",
                "create_public_threads",
                "send_messages_in_threads",
            }
        ),
    )
    when = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
    created = await meetups.create(
        Actor(1, 1, manage_events=True), MeetupDraft(title="Round trips", when=when, capacity=1)
    )
    statements: list[str] = []
    # Counted on SQLAlchemy's events, and on the driver for the statements that go straight
    # to it (db.raw), past those events.
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    watch_driver_statements(statements.append)

    topics = TopicService(sessions, settings, meetups)
    for n, title in enumerate(VOTE_TOPICS[:2]):
        await topics.suggest(Actor(1, 200 + n), title, None, created.meetup.number)
    poll = await topics.open_poll(Actor(1, 1, manage_events=True), created.meetup.number)
    topic_ids = [t.id for t in (await topics.ballot(1, 1, poll.id)).topics]
    result = {}
    for label, vote in [
        ("Add a dot (first)", topics.add_dot(1, 300, poll.id, topic_ids[0])),
        ("Add a dot (another topic)", topics.add_dot(1, 300, poll.id, topic_ids[1])),
        ("Take a dot back", topics.remove_dot(1, 300, poll.id, topic_ids[0])),
        ("Open the ballot", topics.ballot(1, 300, poll.id)),
    ]:
        statements.clear()
        await vote
        result[label] = len(statements)
    for label, user, answer in [
        ("Going (a seat is free)", 100, RsvpStatus.GOING),
        ("Going (full: waitlist), first time", 101, RsvpStatus.GOING),
        ("Going (full: waitlist), again", 103, RsvpStatus.GOING),
        ("Maybe (new answer)", 102, RsvpStatus.MAYBE),
        ("Going again (no change)", 100, RsvpStatus.GOING),
    ]:
        statements.clear()
        await meetups.rsvp(1, user, created.meetup.id, answer)
        result[label] = len(statements)
    await engine.dispose()
    return result


async def commit_floor(database_url: str) -> tuple[float, float]:
    """The database alone: one-row INSERT commits straight on asyncpg, one at a time (ms).
    A click on PostgreSQL commits once, so this is a floor its p99 cannot beat."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE IF NOT EXISTS commit_floor (n int)")
        samples = []
        for i in range(SEQUENTIAL):
            start = perf_counter()
            await connection.execute("INSERT INTO commit_floor VALUES ($1)", i)
            samples.append((perf_counter() - start) * 1000)
    finally:
        await connection.close()
    return percentiles(samples)


async def fresh_postgres(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    name = f"techmeet_bench_{secrets.token_hex(4)}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(dsn)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str, float, float]] = []
    reference = await reference_run()
    for scenario, (p50, p99) in reference.items():
        rows.append(("reference bot", scenario, p50, p99))
    trips: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite+aiosqlite:///{folder}/bench.db"
        for scenario, (p50, p99) in (await techmeet_run(sqlite)).items():
            rows.append(("TechMeet, SQLite", scenario, p50, p99))
        trips["SQLite"] = await round_trips(f"sqlite+aiosqlite:///{folder}/trips.db")
    for purpose in ("latency", "trips"):
        url, drop = await fresh_postgres(args.postgres_url)
        try:
            if purpose == "latency":
                for scenario, (p50, p99) in (await techmeet_run(url)).items():
                    rows.append(("TechMeet, PostgreSQL", scenario, p50, p99))
            else:
                trips["PostgreSQL"] = await round_trips(url)
                floor_p50, floor_p99 = await commit_floor(url)
                rows.append(("PostgreSQL alone", "one commit at a time", floor_p50, floor_p99))
        finally:
            await drop()

    floor = {scenario: p99 for bot, scenario, _, p99 in rows if bot == "reference bot"}
    floor[BURST_FULL] = floor[VOTE_BURST] = floor[BURST_OPEN]
    floor[VOTE_ONE] = floor["one at a time"]
    floor["one commit at a time"] = floor["one at a time"]
    print("| bot | clicks | p50 ms | p99 ms | p99 / reference |\n|---|---|---|---|---|")
    for bot, scenario, p50, p99 in rows:
        print(f"| {bot} | {scenario} | {p50:.1f} | {p99:.1f} | {p99 / floor[scenario]:.2f}× |")
    print("\n| path | " + " | ".join(trips) + " |\n|---|" + "---|" * len(trips))
    for path in next(iter(trips.values())):
        print(f"| {path} | " + " | ".join(str(t[path]) for t in trips.values()) + " |")


if __name__ == "__main__":
    asyncio.run(main())
