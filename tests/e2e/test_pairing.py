"""Pairing rounds through the Discord stand-in: opt in, a round that fell due while the bot
was down runs when it is back, private threads exactly once across restarts, and the
"Did you meet?" follow-up a week later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot, custom_ids
from tests.e2e.test_introductions import introduce
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember


@pytest.fixture
def people(guild: FakeGuild) -> list[FakeMember]:
    return [guild.add_member(name) for name in ("Ada", "Bea", "Cal", "Dev")]


async def test_round_threads_exactly_once_and_follow_up(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    people: list[FakeMember],
    bots: tuple[StartBot, StopBot],
) -> None:
    """Weekly rounds: the first falls due while the bot is down and runs on start; two
    private threads, each with its pair added and greeted (pinging only them); a restart
    adds none; a week later each pair is asked, and /pairing stats counts the answers."""
    start, stop = bots
    clock = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # a Friday
    bot = await start(clock=clock)
    pairing_channel = guild.add_text_channel("pairing")
    intros = guild.add_text_channel("introductions")
    await standin.wait_for_gateway_idle()
    for purpose, channel in (("pairing", pairing_channel), ("introductions", intros)):
        done = await standin.slash(
            guild, manager, "setup channel", purpose=purpose, channel=channel
        )
        assert done.content.startswith("Done"), done.content

    refused = await standin.slash(guild, people[0], "pairing join")
    assert "Introduce yourself first" in refused.content
    colleges = ["Riverside College", "Riverside College", "Hilltop", "Hilltop"]
    for who, college in zip(people, colleges, strict=True):
        await introduce(standin, guild, who, name=who.name, organisation=college)
        joined = await standin.slash(guild, who, "pairing join")
        assert joined.content.startswith("You're in."), joined.content

    member_setup = await standin.slash(guild, people[0], "pairing setup", cadence="weekly")
    assert "Only organisers" in member_setup.content
    planned = await standin.slash(guild, organiser, "pairing setup", cadence="weekly")
    # Next Monday, 10:00 London time.
    monday = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert f"<t:{int(monday.timestamp())}:F>" in planned.content, planned.content

    await stop(bot)
    clock.advance(days=3, hours=2)  # Monday 11:00: the round fell due while down
    bot = await start(clock=clock)

    def threads() -> list[FakeChannel]:
        return [t for t in guild.threads if t.parent is pairing_channel]

    async def greeted(count: int) -> None:
        """Until `count` threads each hold the greeting and both introductions."""
        await standin.wait_until(
            lambda: (
                True
                if len(threads()) == count and all(len(standin.messages(t)) >= 3 for t in threads())
                else None
            ),
            10,
            lambda: f"threads: {threads()}",
        )

    await greeted(2)
    together = []
    for thread in guild.threads:
        assert thread.type == 12  # private
        assert len(thread.thread_members) == 2
        hello = standin.messages(thread)[0]
        assert {u.id for u in hello.mentions} == thread.thread_members
        assert not hello.mention_everyone
        assert len([m for m in standin.messages(thread) if m.embeds]) == 2  # both intros
        together.append(thread.thread_members)
    by_id = {m.id: college for m, college in zip(people, colleges, strict=True)}
    for pair in together:
        assert len({by_id[m] for m in pair}) == 2  # always someone from another college

    await stop(bot)
    bot = await start(clock=clock)
    await bot.dispatcher.run_due()
    assert len(threads()) == 2

    # A week on: the follow-up, and the next weekly round, which repeats nobody.
    clock.advance(days=7)
    await bot.dispatcher.run_due()
    await greeted(4)
    again = [t.thread_members for t in threads()[2:]]
    assert not any(pair in together for pair in again)
    for pair in again:
        assert len({by_id[m] for m in pair}) == 2
    thread = guild.threads[0]
    question = await standin.wait_for_message(
        thread, lambda m: "did you manage to meet" in m.content
    )
    first = min(thread.thread_members)
    outsider = next(m for m in people if m.id not in thread.thread_members)
    nope = await standin.click(
        question, next(c for c in custom_ids(question) if c.endswith(":yes")), outsider
    )
    assert "Only the people in this pairing" in nope.content
    member = next(m for m in people if m.id == first)
    yes = await standin.click(
        question, next(c for c in custom_ids(question) if c.endswith(":yes")), member
    )
    assert yes.content.startswith("Brilliant")
    stats = await standin.slash(guild, organiser, "pairing stats")
    values = {f["name"]: f["value"] for f in stats.embeds[0]["fields"]}
    assert values["Rounds"] == "2"
    assert values["Pairs made"] == "4"
    assert values["Met"].startswith("1 of 1 pairs")


async def test_snooze_leave_and_no_thread_falls_back_to_dms(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    people: list[FakeMember],
    bots: tuple[StartBot, StopBot],
) -> None:
    """Snoozed and departed members sit a round out; with no pairing channel the pair is
    introduced by DM; run-now starts a round at once."""
    start, _ = bots
    bot = await start()
    intros = guild.add_text_channel("introductions")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="introductions", channel=intros)
    for who in people:
        await introduce(standin, guild, who, name=who.name, organisation=f"{who.name} College")
        await standin.slash(guild, who, "pairing join")
    too_far = (datetime.now(UTC) + timedelta(days=500)).strftime("%Y-%m-%d")
    snoozed = await standin.slash(guild, people[2], "pairing snooze", options={"until": too_far})
    assert "at most a year" in snoozed.content
    back = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")
    snoozed = await standin.slash(guild, people[2], "pairing snooze", options={"until": back})
    assert snoozed.content.startswith("Snoozed"), snoozed.content
    left = await standin.slash(guild, people[3], "pairing leave")
    assert left.content.startswith("Done")

    started = await standin.slash(guild, organiser, "pairing run-now")
    assert "Pairing round #1 is starting" in started.content
    await bot.dispatcher.run_due()
    for who in people[:2]:
        dm = await standin.wait_for_dm(who, lambda m: "Meet each other" in m.content, timeout=5)
        other = people[1] if who is people[0] else people[0]
        assert f"<@{other.id}>" in dm.content
        assert dm.embeds[0]["title"] == other.name
    assert not [m for m in standin.dm_messages(people[2]) if "Meet each other" in m.content]
    assert not [m for m in standin.dm_messages(people[3]) if "Meet each other" in m.content]
