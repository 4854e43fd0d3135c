"""RSVP and vote click latency, from INTERACTION_CREATE to the bot's real answer, side by side
with a bare discord.py bot through the same Discord stand-in; and database round trips per
click (the clicks members make most: Going/Maybe/Can't go, and adding a dot in a poll).

    .venv/bin/python -m benchmarks.rsvp_latency [--postgres-url URL]

Each bot runs as its own process (the stand-in runs in this one), so the numbers include
the gateway, the bot's event loop, the database and the HTTP answer, as on Discord. The two
bots run at the same time and take turns: click by click one at a time, and burst by burst
(ROUNDS bursts each), so that the machine's other work slows both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
BURST = 100
# As many at once as a burst: each bot then has the HTTP connections a burst needs open
# before timing starts. With fewer, each bot's first burst opened the rest: that set the
# reference's p99 in every scenario, but TechMeet's only in its first.
WARM_UP = BURST
# Bursts per scenario, each beside a burst of the reference's: the p99 is over all of them.
ROUNDS = 5
BURST_MEMBERS = 20_000  # member keys from here on click in bursts, each once per scenario
MANAGE = 1 << 5 | 1 << 33  # Manage Server, Manage Events
WARM_UP_TARGET = "warm-up"
VOTE = "vote"
RSVP_ONE = "one at a time"
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


@contextmanager
def harness_gc_paused() -> Iterator[None]:
    """No garbage collection in this process (the stand-in's) while clicks are timed.

    A full collection here takes ~100 ms once the stand-in holds a run's worth of messages;
    landing in a burst, it delayed every answer still in flight, whichever bot was timed.
    That is the harness's pause, not the bot's, so collect before and none during.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def timed(click: Click, target: str, i: int) -> float:
    start = perf_counter()
    await click(target, i)
    return (perf_counter() - start) * 1000


async def warm_up(click: Click) -> None:
    """Caches, the HTTP connections a burst uses, and the database pool's connections,
    whose first use prepares statements; a running bot has long done all this."""
    await asyncio.gather(*(click(WARM_UP_TARGET, 10_000 + i) for i in range(WARM_UP)))
    for i in range(WARM_UP):
        await click(WARM_UP_TARGET, 10_000 + i)


async def one_at_a_time(clicks: dict[str, tuple[Click, str]]) -> dict[str, list[float]]:
    """SEQUENTIAL clicks by each bot on its target, taking turns click by click, so that
    whatever else the machine does at a moment slows both alike."""
    samples: dict[str, list[float]] = {name: [] for name in clicks}
    with harness_gc_paused():
        for i in range(SEQUENTIAL):
            for name, (click, target) in clicks.items():
                samples[name].append(await timed(click, target, i))
    return samples


async def burst(click: Click, target: str, round_: int) -> list[float]:
    """BURST clicks at once, by members no earlier burst used."""
    first = BURST_MEMBERS + round_ * BURST
    with harness_gc_paused():
        return list(await asyncio.gather(*(timed(click, target, first + i) for i in range(BURST))))


def members(guild: FakeGuild) -> dict[int, FakeMember]:
    """Everyone who clicks, added before the bot starts (so no welcomes go out mid-run)."""
    keys = (
        *range(10_000, 10_000 + WARM_UP),
        *range(SEQUENTIAL),
        *range(BURST_MEMBERS, BURST_MEMBERS + ROUNDS * BURST),
    )
    return {key: guild.add_member(f"Member {key}") for key in keys}


@dataclass
class RunningBot:
    """A bot process and its own stand-in; `click(target, i)` clicks as member i."""

    click: Click
    close: Callable[[], Awaitable[None]]


async def start_reference() -> RunningBot:
    standin = timing_standin()
    await standin.start()
    guild = standin.add_guild("Reference")
    people = members(guild)
    bot = await spawn_reference(standin)
    await standin.wait_for_gateway_idle(timeout=60)
    message = {
        "id": str(secrets.randbits(60)),
        "channel_id": str(guild.general.id),
        "components": [
            {
                "type": 1,
                "components": [{"type": 2, "style": 1, "label": "Going", "custom_id": "ref:going"}],
            }
        ],
    }

    async def click(target: str, i: int) -> object:
        del target  # one button
        return await standin.click(message, "ref:going", people[i])

    async def close() -> None:
        bot.terminate()
        await bot.wait()
        await standin.close()

    await warm_up(click)
    return RunningBot(click, close)


def round_target(scenario: str, round_: int) -> str:
    return f"{scenario}, round {round_ + 1}"


async def start_techmeet_bot(database_url: str) -> RunningBot:
    """TechMeet with a meetup per RSVP target (each burst its own, fresh) and a poll."""
    standin = timing_standin()
    await standin.start()
    guild = standin.add_guild("TechMeet", bot_permissions=BOT_DEFAULT)
    manager = guild.add_member("Manager", permissions=MANAGE)
    channel = guild.add_text_channel("announcements")
    people = members(guild)
    bot = await start_techmeet(standin, database_url)
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    targets: list[tuple[str, int | None]] = [(WARM_UP_TARGET, None), (RSVP_ONE, None)]
    for round_ in range(ROUNDS):
        targets += [(round_target(BURST_OPEN, round_), None)]
        targets += [(round_target(BURST_FULL, round_), BURST // 2)]
    # Organisers may create 10 meetups in 10 minutes each (bot.domain.quotas).
    organisers = [manager, guild.add_member("Co-organiser", permissions=MANAGE)]
    buttons = {}
    for n, (title, capacity) in enumerate(targets):
        when = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
        options: dict[str, object] = {"title": title, "when": when}
        if capacity:
            options["capacity"] = capacity
        organiser = organisers[n % len(organisers)]
        reply = await standin.slash(guild, organiser, "techmeet create", options=options)
        message = standin.find_message(int(reply.content.rsplit("/", 1)[1].split()[0]))
        assert message is not None
        buttons[title] = message
    vote = await voting(standin, guild, manager, people)

    async def click(target: str, i: int) -> object:
        if target == VOTE:
            return await vote(target, i)
        message = buttons[target]
        custom_id = message.components[0]["components"][0]["custom_id"]
        answer = await standin.click(message, custom_id, people[i])
        assert "going" in answer.content or "waitlist" in answer.content, answer.content
        return answer

    async def close() -> None:
        bot.terminate()
        await bot.wait()
        await standin.close()

    await warm_up(click)
    for i in range(WARM_UP):
        await vote(VOTE, 10_000 + i)
    return RunningBot(click, close)


Samples = dict[str, tuple[list[float], list[float]]]


async def side_by_side(reference: RunningBot, techmeet: RunningBot) -> Samples:
    """Per scenario: (the reference's samples, TechMeet's), taken in turns."""
    results: Samples = {}
    for scenario, target in ((RSVP_ONE, RSVP_ONE), (VOTE_ONE, VOTE)):
        taken = await one_at_a_time(
            {"reference": (reference.click, "ref"), "techmeet": (techmeet.click, target)}
        )
        results[scenario] = (taken["reference"], taken["techmeet"])
    for scenario in (BURST_OPEN, BURST_FULL, VOTE_BURST):
        results[scenario] = ([], [])
    # Round by round: a burst of the reference's, then each of TechMeet's.
    for round_ in range(ROUNDS):
        floor = await burst(reference.click, "ref", round_)
        for scenario, target in (
            (BURST_OPEN, round_target(BURST_OPEN, round_)),
            (BURST_FULL, round_target(BURST_FULL, round_)),
            (VOTE_BURST, VOTE),
        ):
            results[scenario][0].extend(floor)
            results[scenario][1].extend(await burst(techmeet.click, target, round_))
    return results


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

    # Each member's ballot is a message Discord already holds when they click on it: stored
    # now, so that the stand-in's storing it is not timed as the bot's answer.
    def custom_id(i: int) -> str:
        return f"ballot:{poll_id}:{topic_ids[i % len(topic_ids)]}:add"

    ballots = {i: standin.adopt(own_ballot(poll.channel_id, custom_id(i))) for i in people}

    async def click(target: str, i: int) -> object:
        del target  # one poll
        answer = await standin.click(ballots[i], custom_id(i), people[i])
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
        ("Going (full: waitlist)", 101, RsvpStatus.GOING),
        ("Going (full: waitlist), the next", 103, RsvpStatus.GOING),
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


async def beside(reference: RunningBot, database_url: str) -> Samples:
    techmeet = await start_techmeet_bot(database_url)
    try:
        return await side_by_side(reference, techmeet)
    finally:
        await techmeet.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    runs: dict[str, Samples] = {}
    trips: dict[str, dict[str, int]] = {}
    reference = await start_reference()
    try:
        with tempfile.TemporaryDirectory() as folder:
            runs["SQLite"] = await beside(reference, f"sqlite+aiosqlite:///{folder}/bench.db")
            trips["SQLite"] = await round_trips(f"sqlite+aiosqlite:///{folder}/trips.db")
        url, drop = await fresh_postgres(args.postgres_url)
        try:
            runs["PostgreSQL"] = await beside(reference, url)
        finally:
            await drop()
    finally:
        await reference.close()
    url, drop = await fresh_postgres(args.postgres_url)
    try:
        trips["PostgreSQL"] = await round_trips(url)
        floor = await commit_floor(url)
    finally:
        await drop()

    print(
        "| database | clicks | reference p50 / p99 ms | TechMeet p50 / p99 ms | p99 / reference |"
        "\n|---|---|---|---|---|"
    )
    for database, samples in runs.items():
        for scenario, (floor_samples, own) in samples.items():
            (a, b), (c, d) = percentiles(floor_samples), percentiles(own)
            times = f"{a:.1f} / {b:.1f} | {c:.1f} / {d:.1f}"
            print(f"| {database} | {scenario} | {times} | {d / b:.2f}× |")
    print(f"\nPostgreSQL alone, one commit at a time: p50 {floor[0]:.2f} ms, p99 {floor[1]:.2f} ms")
    print("\n| path | " + " | ".join(trips) + " |\n|---|" + "---|" * len(trips))
    for path in next(iter(trips.values())):
        print(f"| {path} | " + " | ".join(str(t[path]) for t in trips.values()) + " |")


if __name__ == "__main__":
    asyncio.run(main())
