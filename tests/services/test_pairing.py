"""Pairing rounds on SQLite and PostgreSQL: opt-in rules, a round made exactly once even when
its job runs twice at the same moment, the cadence, answers, stats and privacy."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.members import Actor
from bot.domain.pairing import Cadence
from bot.errors import BadInput, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.introductions import IntroductionService
from bot.services.meetups import MeetupService
from bot.services.pairing import PAIRING_FOLLOW_UP, PAIRING_ROUND, PairingService
from bot.services.privacy import PrivacyService, personal_data_sources
from db.engine import Sessions, create_sessions
from db.models import Pair, PairingRound, PairMember, ScheduledJob
from tests.clock import FakeClock

GUILD = 600_000_000_000_000_008
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
ORGANISER = Actor(GUILD, 1, manage_events=True)
PEOPLE = [Actor(GUILD, 10 + i) for i in range(6)]


@dataclass
class World:
    sessions: Sessions
    clock: FakeClock
    intros: IntroductionService
    pairing: PairingService

    async def opt_in(self, who: Actor, organisation: str) -> None:
        await self.intros.save_basics(
            who,
            name=f"Member {who.user_id}",
            role=None,
            organisation=organisation,
            region=None,
            skills="moodle",
        )
        await self.pairing.join(who)


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    sessions = create_sessions(engine)
    clock = FakeClock(NOW)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    meetups = MeetupService(sessions, settings, clock=clock)
    return World(
        sessions,
        clock,
        IntroductionService(sessions, settings, meetups, clock=clock),
        PairingService(sessions, settings, meetups, clock=clock, rng=random.Random(8)),
    )


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_joining_needs_an_introduction_and_snooze_is_checked(world: World) -> None:
    with pytest.raises(NotFound, match="Introduce yourself first"):
        await world.pairing.join(PEOPLE[0])
    with pytest.raises(NotFound, match="not in pairing rounds"):
        await world.pairing.snooze(PEOPLE[0], "10 Dec")
    await world.opt_in(PEOPLE[0], "Riverside")
    with pytest.raises(BadInput, match="at most a year"):
        await world.pairing.snooze(PEOPLE[0], "2028-01-10")
    snoozed = await world.pairing.snooze(PEOPLE[0], "10 Dec")
    assert snoozed.snoozed_until == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    assert await world.pairing.leave(PEOPLE[0]) is True
    assert await world.pairing.leave(PEOPLE[0]) is False


async def test_a_round_is_made_once_even_when_run_twice_at_once(world: World) -> None:
    """Two processes running the same round's job: one set of pairs, across colleges; the
    follow-up and the next weekly round (same local time, a week on) are planned once."""
    for n, who in enumerate(PEOPLE):
        await world.opt_in(who, "Riverside" if n < 3 else "Hilltop")
    with pytest.raises(NotAllowed):
        await world.pairing.setup(PEOPLE[0], Cadence.WEEKLY)
    first = await world.pairing.setup(ORGANISER, Cadence.WEEKLY)
    assert first is not None
    assert first.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # Monday 10:00 GMT
    world.clock.advance(days=3, hours=2)
    runs = await asyncio.gather(*(world.pairing.run_round(first.id) for _ in range(2)))
    assert all(r is not None for r in runs)
    assert await count(world.sessions, Pair) == 3
    async with world.sessions() as session:
        members = await session.execute(select(PairMember.pair_id, PairMember.user_id))
        by_pair: dict[int, set[int]] = {}
        for pair_id, user_id in members:
            by_pair.setdefault(pair_id, set()).add(user_id)
        jobs = list(await session.scalars(select(ScheduledJob.kind).order_by(ScheduledJob.id)))
        rounds = list(await session.scalars(select(PairingRound).order_by(PairingRound.number)))
    for pair in by_pair.values():
        assert {u < 13 for u in pair} == {True, False}  # one from each college
    assert jobs.count(PAIRING_FOLLOW_UP) == 1
    assert jobs.count(PAIRING_ROUND) == 2
    assert [r.status for r in rounds] == ["done", "scheduled"]
    assert rounds[1].due_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def test_answers_stats_and_privacy(world: World) -> None:
    for n, who in enumerate(PEOPLE[:3]):
        await world.opt_in(who, f"College {n}")
    planned = await world.pairing.run_now(ORGANISER)
    pairs = await world.pairing.run_round(planned.id)
    assert pairs is not None
    assert [len(p.members) for p in pairs] == [3]  # an odd count makes one trio
    trio = pairs[0]
    with pytest.raises(NotAllowed):
        await world.pairing.answer(999, trio.id, met=True)
    assert (await world.pairing.answer(trio.members[0], trio.id, met=False)).met is False
    assert (await world.pairing.answer(trio.members[1], trio.id, met=True)).met is True
    assert (await world.pairing.answer(trio.members[2], trio.id, met=False)).met is True
    stats = await world.pairing.stats(ORGANISER)
    assert (stats.rounds, stats.pairs, stats.answered, stats.met) == (1, 1, 1, 1)

    settings = GuildSettingsService(world.sessions, default_timezone="Europe/London")
    privacy = PrivacyService(world.sessions, personal_data_sources(settings, world.clock))
    exported = (await privacy.export(trio.members[0]))["data"]["pairing"]
    assert exported[1]["paired_with"] == [str(m) for m in trio.members[1:]]
    await privacy.erase(trio.members[0])
    async with world.sessions() as session:
        left = set(await session.scalars(select(PairMember.user_id)))
    assert left == set(trio.members[1:])
    assert (await world.pairing.stats(ORGANISER)).pairs == 1  # the statistics stay


async def test_switching_off_calls_the_planned_round_off(world: World) -> None:
    planned = await world.pairing.setup(ORGANISER, Cadence.MONTHLY)
    assert planned is not None
    assert await world.pairing.setup(ORGANISER, None) is None
    assert await world.pairing.run_round(planned.id) is None
    world.clock.advance(days=1)
    assert (await world.pairing.stats(ORGANISER)).next_round is None
    assert timedelta(0) < planned.due_at - NOW < timedelta(days=8)


async def test_organisers_starting_rounds_at_once_each_get_one(world: World) -> None:
    """Eight organisers press run-now together (on PostgreSQL they really overlap): each is
    answered with a round of its own number, carrying on from rounds numbered before the
    counter existed; the last one stands, the others are called off."""
    async with world.sessions.begin() as session:
        for number in (1, 2, 3):  # rounds from before: numbered without a counter
            session.add(PairingRound(guild_id=GUILD, number=number, due_at=NOW, status="done"))
    organisers = [Actor(GUILD, 100 + i, manage_events=True) for i in range(8)]
    planned = await asyncio.gather(*(world.pairing.run_now(who) for who in organisers))
    assert sorted(r.number for r in planned) == list(range(4, 12))
    async with world.sessions() as session:
        statuses = list(
            await session.scalars(select(PairingRound.status).where(PairingRound.number > 3))
        )
    assert sorted(statuses) == ["cancelled"] * 7 + ["scheduled"]


async def test_run_now_while_a_round_is_being_made_does_not_deadlock(world: World) -> None:
    """A round falls due and is being made (which plans the next one) while organisers
    press run-now: everything completes (PostgreSQL found a deadlock when run-now took the
    round counter before calling rounds off), and one planned round is left."""
    for n, who in enumerate(PEOPLE):
        await world.opt_in(who, "Riverside" if n < 3 else "Hilltop")
    await world.pairing.setup(ORGANISER, Cadence.WEEKLY)
    for attempt in range(5):
        due = await world.pairing.run_now(ORGANISER)
        organisers = [Actor(GUILD, 200 + 10 * attempt + i, manage_events=True) for i in range(3)]
        await asyncio.gather(
            world.pairing.run_round(due.id), *(world.pairing.run_now(o) for o in organisers)
        )
    async with world.sessions() as session:
        scheduled = await session.scalar(
            select(func.count()).select_from(PairingRound).where(PairingRound.status == "scheduled")
        )
    assert scheduled == 1
