"""/talk use cases on SQLite and PostgreSQL: the minutes budget and its reserves (also under
concurrent proposals), review, running order, the night itself, reminders and privacy."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.domain.talks import Approval, OrderMode, TalkStatus, fair_order
from bot.errors import BadInput, Conflict, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService, MeetupView
from bot.services.privacy import ErasureReport, PrivacyService, personal_data_sources
from bot.services.talks import (
    TALK_END,
    TALK_REMINDER,
    TALK_UP_NEXT,
    TALK_WARNING,
    Changed,
    OnStage,
    TalkService,
    Timer,
)
from db.engine import Sessions, create_engine, create_sessions
from db.models import ScheduledJob, Talk, TalkSettings
from db.repositories import jobs as jobs_repo
from tests.clock import FakeClock
from tests.services.permissions import ALL_POSTING

GUILD = 600_000_000_000_000_005
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # "2026-12-03 18:00" in London (GMT)
SEED = 20261203
ORGANISER = Actor(GUILD, 1, manage_events=True)
MANAGER = Actor(GUILD, 2, manage_guild=True)
ADA, BOB, CAL, DEV, EVE, FAY = (Actor(GUILD, 10 + i) for i in range(6))


def utc(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class CountingSessions(Sessions):
    """Sessions that note how many write transactions were under way at once (begun,
    including those queued for SQLite's writer lock, and not yet finished)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.inside = 0
        self.most = 0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            async with super().begin() as session:
                yield session
        finally:
            self.inside -= 1


@dataclass
class World:
    sessions: CountingSessions
    clock: FakeClock
    settings: GuildSettingsService
    meetups: MeetupService
    talks: TalkService

    async def meetup(self, when: str = "2026-12-03 18:00") -> MeetupView:
        created = await self.meetups.create(ORGANISER, MeetupDraft(title="Talk night", when=when))
        return created.meetup

    def another_service(self, seed: int) -> TalkService:
        return TalkService(
            self.sessions, self.settings, self.meetups, clock=self.clock, rng=random.Random(seed)
        )


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    sessions = CountingSessions(engine)
    clock = FakeClock(NOW)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    await settings.set_channel(
        MANAGER, ChannelPurpose.ANNOUNCEMENTS, 5, bot_permissions=ALL_POSTING
    )
    meetups = MeetupService(sessions, settings, clock=clock)
    talks = TalkService(sessions, settings, meetups, clock=clock, rng=random.Random(SEED))
    return World(sessions, clock, settings, meetups, talks)


def on_now(stage: OnStage) -> Timer:
    """The timer of the talk /talk next put on stage."""
    assert stage.timer is not None
    return stage.timer


async def propose(
    world: World, actor: Actor, meetup: MeetupView, length: int, title: str | None = None
) -> Changed:
    return await world.talks.propose(
        actor, meetup.number, title or f"Talk by {actor.user_id} ({length} min)", length
    )


async def talk_rows(sessions: Sessions) -> list[Talk]:
    async with sessions() as session:
        return list(await session.scalars(select(Talk).order_by(Talk.number)))


async def jobs(sessions: Sessions, kind: str, subject_id: int) -> list[ScheduledJob]:
    async with sessions() as session:
        return list(await jobs_repo.for_subject(session, [kind], subject_id))


async def assert_minutes_add_up(world: World, meetup: MeetupView) -> int:
    """The budget counter equals the accepted talks' lengths (and stays within budget)."""
    settings = await world.talks.settings_for(GUILD, meetup.number)
    rows = await talk_rows(world.sessions)
    held = sum(t.length for t in rows if t.meetup_id == meetup.id and t.status == "accepted")
    assert settings.accepted_minutes == held
    assert held <= settings.budget
    return held


@asynccontextmanager
async def holding_the_talk_lock(engine: AsyncEngine, meetup_id: int) -> AsyncIterator[None]:
    """PostgreSQL: another transaction holds the meetup's talk settings row until the block
    ends, so changes started inside queue up in a known order. (SQLite needs no help: its
    writers queue in the order they start.)"""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            select(TalkSettings.meetup_id)
            .where(TalkSettings.meetup_id == meetup_id)
            .with_for_update()
        )
        yield
        await transaction.rollback()


async def settings_row(sessions: Sessions, meetup_id: int) -> TalkSettings | None:
    async with sessions() as session:
        return await session.get(TalkSettings, meetup_id)


# --- proposing -----------------------------------------------------------------------------


async def test_propose_accepts_while_the_budget_fits_then_reserves(world: World) -> None:
    """Accepted while minutes are left; then the reserve list, ranked in arrival order."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    a = await propose(world, ADA, m, 5)
    b = await propose(world, BOB, m, 5)
    c = await propose(world, CAL, m, 2)
    d = await propose(world, DEV, m, 7)
    assert [x.talk.status for x in (a, b, c, d)] == [
        TalkStatus.ACCEPTED,
        TalkStatus.ACCEPTED,
        TalkStatus.RESERVE,
        TalkStatus.RESERVE,
    ]
    assert [x.talk.number for x in (a, b, c, d)] == [1, 2, 3, 4]
    assert (a.reserve_rank, c.reserve_rank, d.reserve_rank) == (None, 1, 2)
    assert a.meetup_number == m.number
    settings = await world.talks.settings_for(GUILD, m.number)
    assert (settings.budget, settings.accepted_minutes) == (10, 10)
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [t.number for t in lineup.talks] == [1, 2]
    assert [t.number for t in lineup.reserves] == [3, 4]
    mine = await world.talks.mine(GUILD, DEV.user_id)
    assert [(x.talk.number, x.reserve_rank) for x in mine] == [(4, 2)]


async def test_propose_stores_the_details(world: World) -> None:
    """Title is tidied, summary and slides kept; the defaults apply without settings."""
    m = await world.meetup()
    changed = await world.talks.propose(
        ADA,
        m.number,
        "  Zero  trust in   schools ",
        7,
        summary="  What we broke  ",
        slides_url="https://slides.example.org/zt",
    )
    talk = changed.talk
    assert (talk.title, talk.summary, talk.slides_url, talk.length) == (
        "Zero trust in schools",
        "What we broke",
        "https://slides.example.org/zt",
        7,
    )
    assert (talk.speaker_id, talk.meetup_id, talk.guild_id) == (ADA.user_id, m.id, GUILD)
    settings = await world.talks.settings_for(GUILD, m.number)
    assert settings.lengths == (2, 5, 7)
    assert (settings.budget, settings.max_per_member, settings.changeover) == (40, 2, 1)
    assert settings.approval is Approval.AUTO
    assert settings.deadline == START
    assert settings.accepted_minutes == 7


async def test_max_per_member(world: World) -> None:
    """Two live talks per member by default (reserves count); a withdrawn one doesn't."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=5)
    first = await propose(world, ADA, m, 5)
    second = await propose(world, ADA, m, 5)
    assert second.talk.status is TalkStatus.RESERVE
    with pytest.raises(Conflict, match="already have 2 talks"):
        await propose(world, ADA, m, 2)
    assert len(await talk_rows(world.sessions)) == 2
    await world.talks.withdraw(ADA, first.talk.number)
    third = await propose(world, ADA, m, 2)
    # The withdrawal let her reserve in, so the new talk waits behind it.
    assert (await world.talks.talk(GUILD, second.talk.number)).status is TalkStatus.ACCEPTED
    assert (third.talk.status, third.reserve_rank) == (TalkStatus.RESERVE, 1)
    await world.talks.update_settings(ORGANISER, m.number, max_per_member=1)
    with pytest.raises(Conflict, match="already have 2 talks"):
        await propose(world, ADA, m, 2)
    await propose(world, BOB, m, 2)
    with pytest.raises(Conflict, match="already have 1 talks"):
        await propose(world, BOB, m, 2)


async def test_max_per_member_is_per_meetup(world: World) -> None:
    """The limit counts talks for one meetup, not the member's talks everywhere."""
    m1 = await world.meetup()
    m2 = await world.meetup("2026-12-10 18:00")
    await propose(world, ADA, m1, 5)
    await propose(world, ADA, m1, 5)
    other = await propose(world, ADA, m2, 5)
    assert other.talk.status is TalkStatus.ACCEPTED
    assert other.talk.meetup_id == m2.id


async def test_propose_after_the_deadline_is_refused(world: World) -> None:
    """The deadline closes proposals and edits; the refusal shows the deadline."""
    m = await world.meetup()
    view, promoted = await world.talks.update_settings(
        ORGANISER, m.number, deadline="2026-12-01 18:00"
    )
    assert view.deadline == utc(12, 1, 18)
    assert promoted == []
    before = await propose(world, ADA, m, 5)
    world.clock.now = utc(12, 1, 18)
    deadline_stamp = f"<t:{int(utc(12, 1, 18).timestamp())}:f>"
    with pytest.raises(Conflict, match=deadline_stamp):
        await propose(world, BOB, m, 5)
    with pytest.raises(Conflict, match="closed"):
        await world.talks.edit(ADA, before.talk.number, title="New title")
    assert [t.title for t in await talk_rows(world.sessions)] == [before.talk.title]


async def test_propose_after_the_start_is_refused(world: World) -> None:
    """Without a deadline, proposals close when the meetup starts."""
    m = await world.meetup()
    world.clock.now = START
    with pytest.raises(Conflict):
        await propose(world, ADA, m, 5)
    assert await talk_rows(world.sessions) == []


@pytest.mark.parametrize(
    ("title", "length", "slides", "message"),
    [
        ("OK title", 3, None, "3 is not one of them"),
        ("OK title", 0, None, "0 is not one of them"),
        ("ab", 5, None, "3 to 100"),
        ("x" * 101, 5, None, "3 to 100"),
        ("OK title", 5, "ftp://files.example.org/deck", "slides link"),
        ("OK title", 5, "javascript:alert(1)", "slides link"),
        ("OK title", 5, "slides.example.org", "slides link"),
    ],
)
async def test_bad_proposals_store_nothing(
    world: World, title: str, length: int, slides: str | None, message: str
) -> None:
    """Bad length, title or slides link: a clear BadInput and nothing stored, not even a
    talk number."""
    m = await world.meetup()
    with pytest.raises(BadInput, match=message):
        await world.talks.propose(ADA, m.number, title, length, slides_url=slides)
    assert await talk_rows(world.sessions) == []
    good = await propose(world, ADA, m, 5)
    assert good.talk.number == 1
    with pytest.raises(BadInput):
        await world.talks.propose(ADA, m.number, "Another", 5, summary="s" * 1001)
    assert len(await talk_rows(world.sessions)) == 1


async def test_unknown_meetup_or_talk(world: World) -> None:
    """Numbers that name nothing are NotFound."""
    await world.meetup()
    with pytest.raises(NotFound):
        await world.talks.propose(ADA, 99, "Lost talk", 5)
    with pytest.raises(NotFound):
        await world.talks.withdraw(ADA, 42)
    with pytest.raises(NotFound):
        await world.talks.talk(GUILD, 42)


async def test_someone_elses_talk(world: World) -> None:
    """Only the speaker withdraws or edits a talk; members can't remove; nothing changes."""
    m = await world.meetup()
    mine = await propose(world, ADA, m, 5, title="Ada's talk")
    with pytest.raises(NotAllowed):
        await world.talks.withdraw(BOB, mine.talk.number)
    with pytest.raises(NotAllowed):
        await world.talks.edit(BOB, mine.talk.number, title="Bob's now", length=2)
    with pytest.raises(NotAllowed):
        await world.talks.remove(BOB, mine.talk.number, "spam")
    talk = await world.talks.talk(GUILD, mine.talk.number)
    assert (talk.title, talk.length, talk.status) == ("Ada's talk", 5, TalkStatus.ACCEPTED)
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 5


async def test_withdrawn_twice_is_a_conflict(world: World) -> None:
    """A talk leaves the list once; editing it afterwards is refused."""
    m = await world.meetup()
    mine = await propose(world, ADA, m, 5)
    await world.talks.withdraw(ADA, mine.talk.number)
    with pytest.raises(Conflict, match="already withdrawn"):
        await world.talks.withdraw(ADA, mine.talk.number)
    with pytest.raises(Conflict):
        await world.talks.edit(ADA, mine.talk.number, title="Back again")
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 0


# --- the concurrency rule ------------------------------------------------------------------


async def test_thirty_concurrent_proposals_fill_the_budget_exactly(
    world: World, engine: AsyncEngine
) -> None:
    """30 members propose 5-minute talks at once against the default 40 minutes: exactly 8
    accepted and 22 reserves, ranked 1..22 in arrival order, on either database."""
    m = await world.meetup()
    checked_out = {"now": 0, "most": 0}

    def on_checkout(*_: Any) -> None:
        checked_out["now"] += 1
        checked_out["most"] = max(checked_out["most"], checked_out["now"])

    def on_checkin(*_: Any) -> None:
        checked_out["now"] -= 1

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine, "checkin", on_checkin)
    world.sessions.most = 0
    members = [Actor(GUILD, 1000 + i) for i in range(30)]
    try:
        results = await asyncio.gather(
            *(
                world.talks.propose(a, m.number, f"Five minutes on {i}", 5)
                for i, a in enumerate(members)
            )
        )
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        event.remove(engine.sync_engine, "checkin", on_checkin)

    # They really ran at once: all 30 transactions were under way together, and on
    # PostgreSQL several held their own connection at the same moment.
    assert world.sessions.most == 30
    if world.sessions.postgres:
        assert checked_out["most"] > 1

    accepted = [r for r in results if r.talk.status is TalkStatus.ACCEPTED]
    reserves = [r for r in results if r.talk.status is TalkStatus.RESERVE]
    assert (len(accepted), len(reserves)) == (8, 22)
    assert sum(r.talk.length for r in accepted) == 40
    settings = await world.talks.settings_for(GUILD, m.number)
    assert settings.accepted_minutes == 40

    # Talk numbers are handed out under the same queue, so they give the commit order:
    # the first 8 in got the minutes, the rest queued in that order.
    rows = await talk_rows(world.sessions)
    assert [t.number for t in rows] == list(range(1, 31))
    assert {t.speaker_id for t in rows} == {a.user_id for a in members}
    assert [t.status for t in rows] == ["accepted"] * 8 + ["reserve"] * 22
    positions = [t.reserve_position for t in rows[8:]]
    assert positions == list(range(1, 23))  # strictly increasing, no gaps, no duplicates
    ranks = sorted((r.talk.number, r.reserve_rank) for r in reserves)
    assert [rank for _, rank in ranks] == list(range(1, 23))
    assert all(r.reserve_rank is None for r in accepted)
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [t.number for t in lineup.reserves] == list(range(9, 31))
    assert [t.number for t in lineup.talks] == list(range(1, 9))


async def test_concurrent_proposals_from_several_processes(world: World, database_url: str) -> None:
    """Three bot processes (own engines, so on SQLite no shared in-process queue: the
    database's own locking decides) take 30 proposals at once: the budget still holds."""
    m = await world.meetup()
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        services = [
            TalkService(create_sessions(e), world.settings, world.meetups, clock=world.clock)
            for e in engines
        ]
        members = [Actor(GUILD, 2000 + i) for i in range(30)]
        results = await asyncio.gather(
            *(
                services[i % 3].propose(a, m.number, f"Five on {a.user_id}", 5)
                for i, a in enumerate(members)
            )
        )
    finally:
        for e in engines:
            await e.dispose()
    assert sum(r.talk.status is TalkStatus.ACCEPTED for r in results) == 8
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 40
    rows = await talk_rows(world.sessions)
    assert [t.status for t in rows] == ["accepted"] * 8 + ["reserve"] * 22
    assert [t.reserve_position for t in rows[8:]] == list(range(1, 23))
    assert sorted(r.reserve_rank for r in results if r.reserve_rank) == list(range(1, 23))


async def test_concurrent_proposals_by_one_member_respect_the_limit(world: World) -> None:
    """Five proposals by the same member at once: only max_per_member get through."""
    m = await world.meetup()
    outcomes = await asyncio.gather(
        *(world.talks.propose(ADA, m.number, f"Take {i}", 5) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Changed) for o in outcomes) == 2
    assert all(isinstance(o, (Changed, Conflict)) for o in outcomes)
    assert len(await talk_rows(world.sessions)) == 2


# --- withdrawals, edits and promotion ------------------------------------------------------


async def reserve_setup(world: World) -> tuple[MeetupView, list[Changed]]:
    """Budget 10: Ada 5 and Bob 5 accepted; Cal 7, Dev 5 and Eve 2 on the reserve list."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    talks = [
        await propose(world, actor, m, length)
        for actor, length in ((ADA, 5), (BOB, 5), (CAL, 7), (DEV, 5), (EVE, 2))
    ]
    assert [t.talk.status for t in talks] == [TalkStatus.ACCEPTED] * 2 + [TalkStatus.RESERVE] * 3
    assert [t.reserve_rank for t in talks[2:]] == [1, 2, 3]
    return m, talks


async def test_withdraw_promotes_the_first_reserve_that_fits(world: World) -> None:
    """5 minutes free: the 7 doesn't fit, so the 5 behind it goes in, and nothing else."""
    m, (ada, bob, cal, dev, eve) = await reserve_setup(world)
    changed = await world.talks.withdraw(ADA, ada.talk.number)
    assert changed.talk.status is TalkStatus.WITHDRAWN
    assert [t.id for t in changed.promoted] == [dev.talk.id]
    assert changed.promoted[0].status is TalkStatus.ACCEPTED
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [t.id for t in lineup.talks] == [bob.talk.id, dev.talk.id]
    assert [t.id for t in lineup.reserves] == [cal.talk.id, eve.talk.id]
    assert lineup.accepted_minutes == 10
    assert [(x.talk.id, x.reserve_rank) for x in await world.talks.mine(GUILD, EVE.user_id)] == [
        (eve.talk.id, 2)
    ]
    # The promoted speaker's reminder is planned; the withdrawn one's is called off.
    assert [j.state for j in await jobs(world.sessions, TALK_REMINDER, dev.talk.id)] == ["pending"]
    assert [j.state for j in await jobs(world.sessions, TALK_REMINDER, ada.talk.id)] == [
        "cancelled"
    ]


async def test_withdrawing_a_reserve_frees_no_minutes(world: World) -> None:
    """A reserve stepping back only moves those behind it up."""
    m, (_, _, cal, dev, eve) = await reserve_setup(world)
    changed = await world.talks.withdraw(CAL, cal.talk.number)
    assert changed.promoted == []
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [t.id for t in lineup.reserves] == [dev.talk.id, eve.talk.id]
    assert [x.reserve_rank for x in await world.talks.mine(GUILD, EVE.user_id)] == [2]
    assert lineup.accepted_minutes == 10


async def test_organiser_removal_promotes(world: World) -> None:
    """An organiser removes an accepted talk with a reason; a reserve that fits gets in."""
    m, (_, bob, _, dev, _) = await reserve_setup(world)
    changed = await world.talks.remove(ORGANISER, bob.talk.number, "  Off   topic ")
    assert changed.talk.status is TalkStatus.REMOVED
    assert changed.talk.reason == "Off topic"
    assert [t.id for t in changed.promoted] == [dev.talk.id]  # the 7 ahead doesn't fit in 5
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 10


async def test_shrinking_a_talk_promotes(world: World) -> None:
    """5 -> 2 frees 3 minutes: the 7 and the 5 don't fit, the 2 does."""
    m, (ada, _, cal, dev, eve) = await reserve_setup(world)
    changed = await world.talks.edit(ADA, ada.talk.number, length=2)
    assert changed.talk.length == 2
    assert [t.id for t in changed.promoted] == [eve.talk.id]
    lineup = await world.talks.lineup(GUILD, m.number)
    assert lineup.accepted_minutes == 9
    assert [t.id for t in lineup.reserves] == [cal.talk.id, dev.talk.id]


async def test_growing_a_talk_that_does_not_fit_changes_nothing(world: World) -> None:
    """5 -> 7 with no minutes free: Conflict, and neither length nor title changes."""
    m, (ada, *_) = await reserve_setup(world)
    with pytest.raises(Conflict, match="doesn't fit"):
        await world.talks.edit(ADA, ada.talk.number, title="Longer talk", length=7)
    talk = await world.talks.talk(GUILD, ada.talk.number)
    assert (talk.length, talk.title) == (5, ada.talk.title)
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 10
    with pytest.raises(BadInput, match="3 is not one of them"):
        await world.talks.edit(ADA, ada.talk.number, length=3)


async def test_growing_a_talk_that_fits(world: World) -> None:
    """With minutes free, a longer talk takes them; other fields change too."""
    m = await world.meetup()
    ada = await propose(world, ADA, m, 2)
    changed = await world.talks.edit(
        ADA, ada.talk.number, length=7, summary="More to say", slides_url="https://x.example/s"
    )
    assert (changed.talk.length, changed.talk.summary, changed.talk.slides_url) == (
        7,
        "More to say",
        "https://x.example/s",
    )
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 7
    with pytest.raises(BadInput, match="slides link"):
        await world.talks.edit(ADA, ada.talk.number, slides_url="ftp://x.example/s")


# --- settings ------------------------------------------------------------------------------


async def test_raising_the_budget_promotes_reserves(world: World) -> None:
    """10 -> 22 frees 12 minutes: the 7 and the 5 get in, in reserve order; the 2 waits."""
    m, (_, _, cal, dev, eve) = await reserve_setup(world)
    view, promoted = await world.talks.update_settings(ORGANISER, m.number, budget=22)
    assert [t.id for t in promoted] == [cal.talk.id, dev.talk.id]
    assert (view.budget, view.accepted_minutes) == (22, 22)
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [t.id for t in lineup.reserves] == [eve.talk.id]


async def test_settings_refusals_change_nothing(world: World) -> None:
    """Budget below the accepted total, a deadline after the start or in the past, bad
    lengths, and members who aren't organisers are all refused."""
    m, _ = await reserve_setup(world)
    with pytest.raises(BadInput, match="already take 10 minutes"):
        await world.talks.update_settings(ORGANISER, m.number, budget=9)
    with pytest.raises(BadInput, match="before the TechMeet starts"):
        await world.talks.update_settings(ORGANISER, m.number, deadline="2026-12-03 18:01")
    with pytest.raises(BadInput, match="in the past"):
        await world.talks.update_settings(ORGANISER, m.number, deadline="2026-11-26 18:00")
    with pytest.raises(BadInput, match="separated by commas"):
        await world.talks.update_settings(ORGANISER, m.number, lengths="five")
    with pytest.raises(BadInput):
        await world.talks.update_settings(ORGANISER, m.number, changeover=99)
    # One bad value spoils the whole change.
    with pytest.raises(BadInput):
        await world.talks.update_settings(ORGANISER, m.number, budget=30, max_per_member=0)
    with pytest.raises(NotAllowed):
        await world.talks.update_settings(ADA, m.number, budget=30)
    view = await world.talks.settings_for(GUILD, m.number)
    assert (view.budget, view.deadline, view.max_per_member, view.accepted_minutes) == (
        10,
        START,
        2,
        10,
    )


async def test_deadline_at_the_start_and_new_lengths(world: World) -> None:
    """A deadline exactly at the start is fine; new lengths apply to new proposals."""
    m = await world.meetup()
    view, _ = await world.talks.update_settings(
        ORGANISER, m.number, deadline="2026-12-03 18:00", lengths="3,10", changeover=2
    )
    assert (view.deadline, view.lengths, view.changeover) == (START, (3, 10), 2)
    assert (await propose(world, ADA, m, 10)).talk.length == 10
    with pytest.raises(BadInput, match="3, 10 minutes long"):
        await propose(world, BOB, m, 5)


# --- review mode ---------------------------------------------------------------------------


async def test_review_mode(world: World) -> None:
    """Proposals wait as pending (no minutes held); Accept takes the minutes while they
    fit and is refused once they don't; Decline keeps the reason."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10, approval=Approval.REVIEW)
    a, b, c, d = [
        await propose(world, actor, m, length)
        for actor, length in ((ADA, 5), (BOB, 5), (CAL, 2), (DEV, 7))
    ]
    assert {x.talk.status for x in (a, b, c, d)} == {TalkStatus.PENDING}
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 0
    assert not await jobs(world.sessions, TALK_REMINDER, a.talk.id)

    with pytest.raises(NotAllowed):
        await world.talks.pending(ADA, m.number)
    with pytest.raises(NotAllowed):
        await world.talks.accept(ADA, a.talk.id)
    settings, waiting = await world.talks.pending(ORGANISER, m.number)
    assert settings.approval is Approval.REVIEW
    assert [t.id for t in waiting] == [a.talk.id, b.talk.id, c.talk.id, d.talk.id]

    accepted = await world.talks.accept(ORGANISER, d.talk.id)
    assert accepted.talk.status is TalkStatus.ACCEPTED
    assert [j.due_at for j in await jobs(world.sessions, TALK_REMINDER, d.talk.id)] == [
        START - timedelta(days=1)
    ]
    await world.talks.accept(ORGANISER, c.talk.id)
    with pytest.raises(Conflict, match="no longer fits: 1 minutes"):
        await world.talks.accept(ORGANISER, a.talk.id)
    assert (await world.talks.talk(GUILD, a.talk.number)).status is TalkStatus.PENDING
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 9

    declined = await world.talks.decline(ORGANISER, a.talk.id, "Covered last month")
    assert declined.talk.status is TalkStatus.DECLINED
    assert declined.talk.reason == "Covered last month"
    with pytest.raises(Conflict, match="already declined"):
        await world.talks.accept(ORGANISER, a.talk.id)
    _, waiting = await world.talks.pending(ORGANISER, m.number)
    assert [t.id for t in waiting] == [b.talk.id]


async def test_review_mode_reserves_and_promotion(world: World) -> None:
    """With no minutes left a proposal is a reserve; freed minutes make it pending."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=5, approval=Approval.REVIEW)
    a = await propose(world, ADA, m, 5)
    await world.talks.accept(ORGANISER, a.talk.id)
    b = await propose(world, BOB, m, 5)
    assert (b.talk.status, b.reserve_rank) == (TalkStatus.RESERVE, 1)
    changed = await world.talks.withdraw(ADA, a.talk.number)
    assert [(t.id, t.status) for t in changed.promoted] == [(b.talk.id, TalkStatus.PENDING)]
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 0


# --- running order and lineup --------------------------------------------------------------


async def test_lineup_planned_times(world: World) -> None:
    """Planned start = meetup start + lengths and changeovers of the talks before."""
    m = await world.meetup()
    a, b, c = [
        await propose(world, actor, m, length) for actor, length in ((ADA, 5), (BOB, 7), (CAL, 2))
    ]
    lineup = await world.talks.lineup(GUILD, m.number)
    assert (lineup.mode, lineup.starts_at, lineup.timezone) == (
        OrderMode.PROPOSED,
        START,
        "Europe/London",
    )
    assert [t.id for t in lineup.talks] == [a.talk.id, b.talk.id, c.talk.id]
    times = [(lineup.slots[t.id].starts_at, lineup.slots[t.id].ends_at) for t in lineup.talks]
    assert times == [
        (utc(12, 3, 18, 0), utc(12, 3, 18, 5)),
        (utc(12, 3, 18, 6), utc(12, 3, 18, 13)),
        (utc(12, 3, 18, 14), utc(12, 3, 18, 16)),
    ]
    await world.talks.update_settings(ORGANISER, m.number, changeover=3)
    lineup = await world.talks.lineup(GUILD, m.number)
    assert [lineup.slots[t.id].starts_at for t in lineup.talks] == [
        utc(12, 3, 18, 0),
        utc(12, 3, 18, 8),
        utc(12, 3, 18, 18),
    ]


async def test_manual_order(world: World) -> None:
    """An organiser moves a talk; positions clamp; only accepted talks have a place."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=12)
    a, b, c = [
        await propose(world, actor, m, length) for actor, length in ((ADA, 5), (BOB, 5), (CAL, 2))
    ]
    reserve = await propose(world, DEV, m, 7)
    lineup = await world.talks.order(
        ORGANISER, m.number, OrderMode.MANUAL, talk_number=c.talk.number, position=1
    )
    assert lineup.mode is OrderMode.MANUAL
    assert [t.id for t in lineup.talks] == [c.talk.id, a.talk.id, b.talk.id]
    assert lineup.slots[a.talk.id].starts_at == utc(12, 3, 18, 3)
    lineup = await world.talks.order(
        ORGANISER, m.number, OrderMode.MANUAL, talk_number=c.talk.number, position=99
    )
    assert [t.id for t in lineup.talks] == [a.talk.id, b.talk.id, c.talk.id]
    # It is stored, not just returned.
    again = await world.talks.lineup(GUILD, m.number)
    assert [t.id for t in again.talks] == [a.talk.id, b.talk.id, c.talk.id]
    with pytest.raises(BadInput, match="only accepted talks"):
        await world.talks.order(
            ORGANISER, m.number, OrderMode.MANUAL, talk_number=reserve.talk.number, position=1
        )
    with pytest.raises(BadInput, match="both"):
        await world.talks.order(ORGANISER, m.number, OrderMode.MANUAL, talk_number=1)
    with pytest.raises(NotAllowed):
        await world.talks.order(ADA, m.number, OrderMode.RANDOM)


async def test_random_order_puts_first_timers_first(world: World) -> None:
    """A member whose talk was accepted at an earlier meetup that has happened goes after
    the first-timers; a withdrawn earlier talk doesn't count; the shuffle is the seeded one."""
    earlier = await world.meetup("2026-11-28 18:00")
    m = await world.meetup()
    await propose(world, BOB, earlier, 5)
    await propose(world, CAL, earlier, 5)
    withdrawn = await propose(world, DEV, earlier, 5)
    await world.talks.withdraw(DEV, withdrawn.talk.number)
    world.clock.now = utc(11, 29, 12)  # the earlier meetup has happened
    talks = {
        actor.user_id: (await propose(world, actor, m, 2)).talk.id
        for actor in (ADA, BOB, CAL, DEV, EVE, FAY)
    }
    proposed = list(talks.values())
    veterans = {talks[BOB.user_id], talks[CAL.user_id]}
    lineup = await world.talks.order(ORGANISER, m.number, OrderMode.RANDOM, first_timers_first=True)
    order = [t.id for t in lineup.talks]
    assert sorted(order) == sorted(proposed)
    assert set(order[4:]) == veterans
    assert lineup.mode is OrderMode.RANDOM
    # Exactly the domain's fair shuffle with the service's seed and those first-timers.
    first_timers = set(proposed) - veterans
    assert order == fair_order(proposed, first_timers=first_timers, rng=random.Random(SEED))
    # Planned times follow the new order, and it is stored.
    assert lineup.slots[order[1]].starts_at == utc(12, 3, 18, 3)
    assert [t.id for t in (await world.talks.lineup(GUILD, m.number)).talks] == order
    # Without first_timers_first anyone may open; other seeds give other orders.
    seen = set()
    for seed in range(8):
        shuffled = await world.another_service(seed).order(ORGANISER, m.number, OrderMode.RANDOM)
        seen.add(tuple(t.id for t in shuffled.talks))
    assert len(seen) > 1
    assert any(set(o[4:]) != veterans for o in seen)


async def test_earlier_meetup_not_yet_happened_makes_no_veterans(world: World) -> None:
    """Talks at a meetup that hasn't happened yet don't count as having spoken."""
    earlier = await world.meetup("2026-11-28 18:00")
    m = await world.meetup()
    await propose(world, BOB, earlier, 5)
    proposed = [(await propose(world, actor, m, 2)).talk.id for actor in (ADA, BOB, CAL)]
    seed = next(
        s
        for s in range(100)
        if fair_order(proposed, first_timers=set(proposed), rng=random.Random(s))
        != fair_order(proposed, first_timers={proposed[0], proposed[2]}, rng=random.Random(s))
    )
    lineup = await world.another_service(seed).order(
        ORGANISER, m.number, OrderMode.RANDOM, first_timers_first=True
    )
    # Bob counts as a first-timer: everyone is shuffled together.
    assert [t.id for t in lineup.talks] == fair_order(
        proposed, first_timers=set(proposed), rng=random.Random(seed)
    )


async def test_draw_mode_lineup_has_no_times(world: World) -> None:
    """In draw mode the order is drawn live: the lineup lists talks without slots."""
    m = await world.meetup()
    for actor in (ADA, BOB):
        await propose(world, actor, m, 5)
    lineup = await world.talks.order(ORGANISER, m.number, OrderMode.DRAW)
    assert lineup.mode is OrderMode.DRAW
    assert lineup.slots == {}
    assert len(lineup.talks) == 2
    assert (await world.talks.lineup(GUILD, m.number)).slots == {}


# --- the night -----------------------------------------------------------------------------


async def test_next_speaker_in_order(world: World) -> None:
    """Each /talk next puts the next talk on, finishes the one before (its timer returned
    and its pending edits called off), and arms the timer's edits and 'up next'."""
    m = await world.meetup()
    a, b, c = [
        await propose(world, actor, m, length) for actor, length in ((ADA, 5), (BOB, 7), (CAL, 2))
    ]
    with pytest.raises(NotAllowed):
        await world.talks.next_speaker(ADA, m.number)
    world.clock.now = START
    first = await world.talks.next_speaker(ORGANISER, m.number)
    assert on_now(first).talk.id == a.talk.id
    assert on_now(first).ends_at == utc(12, 3, 18, 5)
    assert on_now(first).talk.on_stage_at == START
    assert first.finished is None
    assert first.up_next is not None
    assert first.up_next.id == b.talk.id
    assert first.talks_left == 2
    assert [j.due_at for j in await jobs(world.sessions, TALK_WARNING, a.talk.id)] == [
        utc(12, 3, 18, 4, 30)
    ]
    assert [j.due_at for j in await jobs(world.sessions, TALK_END, a.talk.id)] == [
        utc(12, 3, 18, 5)
    ]
    assert [j.due_at for j in await jobs(world.sessions, TALK_UP_NEXT, b.talk.id)] == [START]
    assert await world.talks.attach_timer(a.talk.id, 777, 888)
    timer = await world.talks.timer(a.talk.id)
    assert timer is not None
    assert (timer.channel_id, timer.message_id) == (777, 888)
    up = await world.talks.up_next(b.talk.id)
    assert up is not None
    assert (up.talk.id, up.drawn_live) == (b.talk.id, False)

    world.clock.advance(minutes=4)  # stopped early, before the 30-seconds-left edit
    second = await world.talks.next_speaker(ORGANISER, m.number)
    assert on_now(second).talk.id == b.talk.id
    assert second.finished is not None
    assert second.finished.talk.id == a.talk.id
    assert (second.finished.channel_id, second.finished.message_id) == (777, 888)
    assert second.finished.ends_at == utc(12, 3, 18, 5)
    assert [j.state for j in await jobs(world.sessions, TALK_WARNING, a.talk.id)] == ["cancelled"]
    assert [j.state for j in await jobs(world.sessions, TALK_END, a.talk.id)] == ["cancelled"]
    assert await world.talks.timer(a.talk.id) is None
    assert not await world.talks.attach_timer(a.talk.id, 777, 999)  # it left the stage
    assert second.up_next is not None
    assert second.up_next.id == c.talk.id
    assert await world.talks.up_next(a.talk.id) is None  # already been on

    world.clock.advance(minutes=8)
    third = await world.talks.next_speaker(ORGANISER, m.number)
    assert (on_now(third).talk.id, third.up_next, third.talks_left) == (c.talk.id, None, 0)
    assert on_now(third).ends_at == utc(12, 3, 18, 14)
    world.clock.advance(minutes=1)
    # After the last talk, /talk next only finishes it; once more, there is nothing left.
    last = await world.talks.next_speaker(ORGANISER, m.number)
    assert (last.timer, last.up_next, last.talks_left) == (None, None, 0)
    assert last.finished is not None
    assert last.finished.talk.id == c.talk.id
    assert await world.talks.timer(c.talk.id) is None
    assert [j.state for j in await jobs(world.sessions, TALK_END, c.talk.id)] == ["cancelled"]
    with pytest.raises(Conflict, match="has been on stage"):
        await world.talks.next_speaker(ORGANISER, m.number)
    archived_number, archived = await world.talks.archive(ORGANISER, m.number)
    assert archived_number == m.number
    assert [t.id for t in archived] == [a.talk.id, b.talk.id, c.talk.id]


async def test_time_up_and_stop(world: World) -> None:
    """The end job closes the timer once; Stop is for organisers or the speaker."""
    m = await world.meetup()
    a = await propose(world, ADA, m, 5)
    b = await propose(world, BOB, m, 5)
    world.clock.now = START
    await world.talks.next_speaker(ORGANISER, m.number)
    ended = await world.talks.time_up(a.talk.id)
    assert ended is not None
    assert ended.talk.id == a.talk.id
    assert await world.talks.time_up(a.talk.id) is None
    on = await world.talks.next_speaker(ORGANISER, m.number)
    assert on.finished is None  # its time was already up
    with pytest.raises(NotAllowed):
        await world.talks.stop(CAL, b.talk.id)
    stopped = await world.talks.stop(BOB, b.talk.id)
    assert stopped is not None
    assert stopped.talk.id == b.talk.id
    assert await world.talks.stop(ORGANISER, b.talk.id) is None


async def test_time_up_again_gives_the_same_timer_until_the_next_talk(world: World) -> None:
    """The end job retried after its edit failed gets the timer again (the edit must still
    land); once the next talk is on, a late retry of the earlier end gets nothing, never
    the new talk's timer."""
    m = await world.meetup()
    a = await propose(world, ADA, m, 5)
    b = await propose(world, BOB, m, 5)
    world.clock.now = START
    await world.talks.next_speaker(ORGANISER, m.number)
    await world.talks.attach_timer(a.talk.id, 1, 2)
    ended = await world.talks.time_up(a.talk.id)
    assert ended is not None
    assert (ended.talk.id, ended.channel_id, ended.message_id) == (a.talk.id, 1, 2)
    assert await world.talks.time_up(a.talk.id) == ended
    assert await world.talks.timer(a.talk.id) is None  # no 30-seconds-left after time's up
    assert await world.talks.stop(ADA, a.talk.id) is None
    on = await world.talks.next_speaker(ORGANISER, m.number)
    assert on.finished is None  # its time was already up
    await world.talks.attach_timer(b.talk.id, 1, 3)
    assert await world.talks.time_up(a.talk.id) is None
    b_ended = await world.talks.time_up(b.talk.id)
    assert b_ended is not None
    assert b_ended.message_id == 3
    assert await world.talks.time_up(a.talk.id) is None


async def test_next_speaker_in_draw_mode(world: World) -> None:
    """Each next speaker is the one drawn (and told) last time; the one after is drawn now;
    everyone goes on exactly once."""
    m = await world.meetup()
    ids = {(await propose(world, actor, m, 2)).talk.id for actor in (ADA, BOB, CAL, DEV, EVE)}
    await world.talks.order(ORGANISER, m.number, OrderMode.DRAW)
    world.clock.now = START
    on_stage: list[int] = []
    told = None
    for left in (4, 3, 2, 1, 0):
        step = await world.talks.next_speaker(ORGANISER, m.number)
        if told is not None:
            assert on_now(step).talk.id == told
        on_stage.append(on_now(step).talk.id)
        assert step.talks_left == left
        if left:
            assert step.up_next is not None
            assert step.up_next.id in ids - set(on_stage)
            assert [j.due_at for j in await jobs(world.sessions, TALK_UP_NEXT, step.up_next.id)]
            up = await world.talks.up_next(step.up_next.id)
            assert up is not None
            assert up.drawn_live
            told = step.up_next.id
        else:
            assert step.up_next is None
        world.clock.advance(minutes=3)
    assert sorted(on_stage) == sorted(ids)
    final = await world.talks.next_speaker(ORGANISER, m.number)
    assert final.timer is None
    assert final.finished is not None
    assert final.finished.talk.id == on_stage[-1]
    with pytest.raises(Conflict):
        await world.talks.next_speaker(ORGANISER, m.number)


async def test_draw_mode_is_seeded(world: World) -> None:
    """The same seed draws the same speakers, on a fresh meetup with the same talks."""
    draws = []
    for when in ("2026-12-03 18:00", "2026-12-10 18:00"):
        m = await world.meetup(when)
        for actor in (ADA, BOB, CAL, DEV):
            await propose(world, actor, m, 2)
        service = world.another_service(SEED)
        await service.order(ORGANISER, m.number, OrderMode.DRAW)
        world.clock.now = m.starts_at
        rows = {t.id: t.speaker_id for t in await talk_rows(world.sessions)}
        draws.append(
            [
                rows[on_now(await service.next_speaker(ORGANISER, m.number)).talk.id]
                for _ in range(4)
            ]
        )
    assert draws[0] == draws[1]


# --- reminders -----------------------------------------------------------------------------


async def test_speaker_reminder(world: World) -> None:
    """Accepted talks get a reminder job a day before; it carries the planned slot (the
    meetup's start in draw mode); reserves get none."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=12)
    a = await propose(world, ADA, m, 5)
    b = await propose(world, BOB, m, 7)
    r = await propose(world, CAL, m, 5)
    assert [j.due_at for j in await jobs(world.sessions, TALK_REMINDER, a.talk.id)] == [
        utc(12, 2, 18)
    ]
    assert not await jobs(world.sessions, TALK_REMINDER, r.talk.id)
    assert await world.talks.speaker_reminder(r.talk.id) is None
    world.clock.now = utc(12, 2, 18)
    reminder = await world.talks.speaker_reminder(b.talk.id)
    assert reminder is not None
    assert (reminder.slot_at, reminder.drawn_live, reminder.meetup_number) == (
        utc(12, 3, 18, 6),
        False,
        m.number,
    )
    world.clock.now = NOW
    await world.talks.order(ORGANISER, m.number, OrderMode.DRAW)
    world.clock.now = utc(12, 2, 18)
    drawn = await world.talks.speaker_reminder(b.talk.id)
    assert drawn is not None
    assert (drawn.slot_at, drawn.drawn_live) == (START, True)
    world.clock.now = NOW
    await world.talks.withdraw(BOB, b.talk.number)
    assert await world.talks.speaker_reminder(b.talk.id) is None


async def test_no_reminder_when_accepted_less_than_a_day_before(world: World) -> None:
    """A talk accepted on the day has no reminder in the past."""
    m = await world.meetup()
    world.clock.now = utc(12, 3, 9)
    a = await propose(world, ADA, m, 5)
    assert a.talk.status is TalkStatus.ACCEPTED
    assert await jobs(world.sessions, TALK_REMINDER, a.talk.id) == []


async def test_meetup_moved_rearms_the_reminder(world: World) -> None:
    """Moving the meetup moves each speaker's pending reminder, with a new revision."""
    m = await world.meetup()
    a = await propose(world, ADA, m, 5)
    [job] = await jobs(world.sessions, TALK_REMINDER, a.talk.id)
    changed = await world.meetups.edit(ORGANISER, m.number, MeetupDraft(when="2026-12-05 19:00"))
    await world.talks.meetup_moved(m.id, changed.meetup.starts_at)
    [moved] = await jobs(world.sessions, TALK_REMINDER, a.talk.id)
    assert moved.id == job.id
    assert (moved.due_at, moved.state, moved.revision) == (utc(12, 4, 19), "pending", 1)
    world.clock.now = utc(12, 4, 19)
    reminder = await world.talks.speaker_reminder(a.talk.id)
    assert reminder is not None
    assert reminder.slot_at == utc(12, 5, 19)


async def test_meetup_moved_rearms_a_sent_reminder_for_a_later_day(world: World) -> None:
    """A reminder already sent goes again if the meetup moved to a later day."""
    m = await world.meetup()
    a = await propose(world, ADA, m, 5)
    async with world.sessions.begin() as session:
        [job] = await jobs_repo.for_subject(session, [TALK_REMINDER], a.talk.id)
        job.state = jobs_repo.DONE
    changed = await world.meetups.edit(ORGANISER, m.number, MeetupDraft(when="2026-12-08 18:00"))
    await world.talks.meetup_moved(m.id, changed.meetup.starts_at)
    [again] = await jobs(world.sessions, TALK_REMINDER, a.talk.id)
    assert (again.due_at, again.state, again.revision) == (utc(12, 7, 18), "pending", 1)


# --- members leaving and privacy -----------------------------------------------------------


async def test_remove_after_leaving(world: World) -> None:
    """A member who leaves loses their upcoming talks (reserves move up); talks at
    meetups already held stay."""
    past = await world.meetup("2026-11-28 18:00")
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=5)
    old = await propose(world, ADA, past, 5)
    ada = await propose(world, ADA, m, 5)
    bob = await propose(world, BOB, m, 5)
    world.clock.now = utc(11, 29, 12)
    changes = await world.talks.remove_after_leaving(GUILD, ADA.user_id)
    assert [(c.talk.id, c.talk.status, c.talk.reason) for c in changes] == [
        (ada.talk.id, TalkStatus.WITHDRAWN, "left the server")
    ]
    assert [t.id for t in changes[0].promoted] == [bob.talk.id]
    assert (await world.talks.talk(GUILD, old.talk.number)).status is TalkStatus.ACCEPTED
    assert await world.talks.remove_after_leaving(GUILD, ADA.user_id) == []


async def test_privacy_export_and_erase(world: World) -> None:
    """Export lists the member's talks; erase deletes them and gives their minutes to
    reserves; other members' talks stay."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    ada = await world.talks.propose(
        ADA, m.number, "RADIUS logging", 5, summary="Why", slides_url="https://s.example/r"
    )
    bob = await propose(world, BOB, m, 5)
    await propose(world, ADA, m, 2)  # a reserve of hers, too
    cal = await propose(world, CAL, m, 5)
    assert cal.talk.status is TalkStatus.RESERVE
    privacy = PrivacyService(
        world.sessions, personal_data_sources(world.settings, world.clock), clock=world.clock
    )
    export = await privacy.export(ADA.user_id)
    talks = export["data"]["talks"]
    assert [(t["talk"], t["title"], t["status"]) for t in talks] == [
        (ada.talk.number, "RADIUS logging", "accepted"),
        (ada.talk.number + 2, f"Talk by {ADA.user_id} (2 min)", "reserve"),
    ]
    assert talks[0]["slides"] == "https://s.example/r"
    assert talks[0]["server_id"] == str(GUILD)
    assert talks[0]["techmeet"] == m.number

    report = await privacy.erase(ADA.user_id)
    assert "talks" in report.sources
    rows = await talk_rows(world.sessions)
    assert ADA.user_id not in {t.speaker_id for t in rows}
    assert {(t.id, t.status) for t in rows} == {
        (bob.talk.id, "accepted"),
        (cal.talk.id, "accepted"),
    }
    assert (await world.talks.settings_for(GUILD, m.number)).accepted_minutes == 10
    assert [j.state for j in await jobs(world.sessions, TALK_REMINDER, ada.talk.id)] == [
        "cancelled"
    ]
    assert (await privacy.export(ADA.user_id))["data"]["talks"] == []
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Talk)) == 2


async def test_privacy_erase_clears_the_stage(world: World) -> None:
    """A speaker erased while on stage leaves no timer pointing at a deleted talk."""
    m = await world.meetup()
    a = await propose(world, ADA, m, 5)
    await propose(world, BOB, m, 5)
    world.clock.now = START
    await world.talks.next_speaker(ORGANISER, m.number)
    await world.talks.attach_timer(a.talk.id, 1, 2)
    privacy = PrivacyService(
        world.sessions, personal_data_sources(world.settings, world.clock), clock=world.clock
    )
    await privacy.erase(ADA.user_id)
    row = await settings_row(world.sessions, m.id)
    assert row is not None
    assert (row.on_stage_id, row.timer_channel_id, row.timer_message_id) == (None, None, None)
    nxt = await world.talks.next_speaker(ORGANISER, m.number)
    assert nxt.finished is None
    assert on_now(nxt).talk.speaker_id == BOB.user_id


async def test_choices_list_own_talks_first(world: World) -> None:
    """Autocomplete offers the member's own live talks first."""
    m = await world.meetup()
    await propose(world, ADA, m, 5)
    await propose(world, BOB, m, 5)
    withdrawn = await propose(world, BOB, m, 2)
    await world.talks.withdraw(BOB, withdrawn.talk.number)
    assert [t.speaker_id for t in await world.talks.choices(GUILD, ADA.user_id)] == [
        ADA.user_id,
        BOB.user_id,
    ]
    assert [t.speaker_id for t in await world.talks.choices(GUILD, BOB.user_id)] == [
        BOB.user_id,
        ADA.user_id,
    ]


# --- racing clicks -------------------------------------------------------------------------


async def test_double_withdraw_releases_the_minutes_once(world: World) -> None:
    """Two withdrawals of one accepted talk at once (a double click, or withdraw racing an
    organiser's remove): one wins, the other is refused, the minutes are released once."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    ada = await propose(world, ADA, m, 5)
    await propose(world, BOB, m, 5)
    outcomes = await asyncio.gather(
        world.talks.withdraw(ADA, ada.talk.number),
        world.talks.remove(ORGANISER, ada.talk.number, None),
        world.talks.withdraw(ADA, ada.talk.number),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Changed) for o in outcomes) == 1
    assert all(isinstance(o, (Changed, Conflict)) for o in outcomes)
    assert await assert_minutes_add_up(world, m) == 5


async def test_double_accept_takes_the_minutes_once(world: World) -> None:
    """Two organisers accept the same proposal at once; or one accepts while another
    declines: the talk ends up in one state and the minutes match it."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, approval=Approval.REVIEW)
    a = await propose(world, ADA, m, 5)
    b = await propose(world, BOB, m, 7)
    outcomes = await asyncio.gather(
        world.talks.accept(ORGANISER, a.talk.id),
        world.talks.accept(MANAGER, a.talk.id),
        world.talks.accept(ORGANISER, b.talk.id),
        world.talks.decline(MANAGER, b.talk.id, "Clash"),
        return_exceptions=True,
    )
    assert all(isinstance(o, (Changed, Conflict)) for o in outcomes)
    assert sum(isinstance(o, Changed) for o in outcomes[:2]) == 1
    assert sum(isinstance(o, Changed) for o in outcomes[2:]) == 1
    b_now = await world.talks.talk(GUILD, b.talk.number)
    assert b_now.status in {TalkStatus.ACCEPTED, TalkStatus.DECLINED}
    assert await assert_minutes_add_up(world, m) == 5 + (
        7 if b_now.status is TalkStatus.ACCEPTED else 0
    )


async def test_concurrent_length_edits_count_once(world: World) -> None:
    """The same 2 -> 7 edit sent twice at once takes the extra minutes once."""
    m = await world.meetup()
    ada = await propose(world, ADA, m, 2)
    await propose(world, BOB, m, 5)
    outcomes = await asyncio.gather(
        *(world.talks.edit(ADA, ada.talk.number, length=7) for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(o, Changed) for o in outcomes)
    assert await assert_minutes_add_up(world, m) == 12


async def test_erase_racing_a_withdrawal_releases_the_minutes_once(world: World) -> None:
    """/privacy delete while the member withdraws the same talk: its minutes come back
    once, and the reserve behind it gets them."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    ada = await propose(world, ADA, m, 5)
    await propose(world, BOB, m, 5)
    cal = await propose(world, CAL, m, 5)
    privacy = PrivacyService(
        world.sessions, personal_data_sources(world.settings, world.clock), clock=world.clock
    )
    outcomes = await asyncio.gather(
        privacy.erase(ADA.user_id),
        world.talks.withdraw(ADA, ada.talk.number),
        return_exceptions=True,
    )
    assert all(isinstance(o, (ErasureReport, Changed, NotFound)) for o in outcomes)
    assert await assert_minutes_add_up(world, m) == 10
    assert (await world.talks.talk(GUILD, cal.talk.number)).status is TalkStatus.ACCEPTED
    assert ADA.user_id not in {t.speaker_id for t in await talk_rows(world.sessions)}


async def test_changes_queued_behind_an_erase_find_the_talk_gone(
    world: World, engine: AsyncEngine
) -> None:
    """A withdraw and an edit that looked the talk up while an erase was deleting it are
    told it no longer exists, and change nothing."""
    m = await world.meetup()
    await world.talks.update_settings(ORGANISER, m.number, budget=10)
    ada = await propose(world, ADA, m, 5)
    await propose(world, BOB, m, 5)
    cal = await propose(world, CAL, m, 5)
    privacy = PrivacyService(
        world.sessions, personal_data_sources(world.settings, world.clock), clock=world.clock
    )
    async with holding_the_talk_lock(engine, m.id):
        erase = asyncio.create_task(privacy.erase(ADA.user_id))
        await asyncio.sleep(0.2)
        withdraw = asyncio.create_task(world.talks.withdraw(ADA, ada.talk.number))
        edit = asyncio.create_task(world.talks.edit(ADA, ada.talk.number, length=2))
        await asyncio.sleep(0.2)
    erased, withdrawn, edited = await asyncio.gather(erase, withdraw, edit, return_exceptions=True)
    assert isinstance(erased, ErasureReport)
    assert isinstance(withdrawn, NotFound)
    assert isinstance(edited, NotFound)
    assert await assert_minutes_add_up(world, m) == 10
    assert (await world.talks.talk(GUILD, cal.talk.number)).status is TalkStatus.ACCEPTED
