"""/topic use cases on SQLite and PostgreSQL: suggestions, duplicates, dot budgets, closing."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.batches import AT_ONCE
from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.domain.topics import TopicStatus
from bot.errors import BadInput, Conflict, NotAllowed, NotFound
from bot.scheduler import Dispatcher, Job, Outcome
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupDraft, MeetupService
from bot.services.privacy import PrivacyService, personal_data_sources
from bot.services.topics import POLL_CLOSE, BallotView, TopicService
from db.engine import Sessions
from db.models import ScheduledJob, Topic, Vote
from db.repositories import topics as repo
from tests.clock import FakeClock
from tests.services.locks import until_waiting_for_a_lock
from tests.services.permissions import ALL_POSTING
from tests.services.statements import record_statements

GUILD = 600_000_000_000_000_001
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ORGANISER = Actor(GUILD, 1, manage_events=True)
MANAGER = Actor(GUILD, 2, manage_guild=True)
ADA, BOB, CAL = Actor(GUILD, 11), Actor(GUILD, 12), Actor(GUILD, 13)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def services(sessions: Sessions, clock: FakeClock) -> tuple[MeetupService, TopicService]:
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    await settings.set_channel(
        MANAGER, ChannelPurpose.ANNOUNCEMENTS, 5, bot_permissions=ALL_POSTING
    )
    meetups = MeetupService(sessions, settings, clock=clock)
    return meetups, TopicService(sessions, settings, meetups, clock=clock)


@pytest.fixture
def topics(services: tuple[MeetupService, TopicService]) -> TopicService:
    return services[1]


async def meetup(
    services: tuple[MeetupService, TopicService], when: str = "2026-12-03 18:00"
) -> int:
    created = await services[0].create(ORGANISER, MeetupDraft(title="Network night", when=when))
    return created.meetup.number


async def test_suggest_for_the_next_meetup_or_the_pool(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Without a meetup a topic waits in the pool; then it goes to the next meetup."""
    pooled = await topics.suggest(ADA, "Eduroam certificate renewals", None, None)
    assert pooled.topic.meetup_id is None
    assert pooled.topic.number == 1
    number = await meetup(services)
    nxt = await topics.suggest(BOB, "Wi-Fi 7 rollout", "Who has tried it?", None)
    assert nxt.topic.meetup_id is not None
    _, listed = await topics.topics(GUILD, number)
    assert [t.number for t in listed] == [1, 2]  # the pool is offered too


async def test_near_duplicate_is_caught_then_backed(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """A near-duplicate creates nothing: the member backs the existing topic, or insists."""
    await meetup(services)
    first = await topics.suggest(ADA, "Intune for student laptops", None, None)
    again = await topics.suggest(BOB, "student laptops: Intune!", None, None)
    assert again.duplicate_of is not None
    assert again.duplicate_of.number == first.topic.number
    backed = await topics.support(BOB, first.topic.number)
    assert backed.support == 2
    anyway = await topics.suggest(BOB, "student laptops: Intune!", None, None, anyway=True)
    assert anyway.duplicate_of is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Topic)) == 2


async def test_per_member_limit(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """At most 3 open suggestions per member per meetup (default), to stop flooding."""
    await meetup(services)
    for title in ("VLAN design", "Backup testing", "Printer drivers"):
        await topics.suggest(ADA, title, None, None)
    with pytest.raises(Conflict, match="3 open suggestions"):
        await topics.suggest(ADA, "Projector lamps", None, None)
    await topics.withdraw(ADA, 1)
    await topics.suggest(ADA, "Projector lamps", None, None)


async def test_only_the_suggester_edits_or_withdraws(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Edit and withdraw are the suggester's; merge and remove are organisers'."""
    await meetup(services)
    await topics.suggest(ADA, "Moodle upgrades", None, None)
    with pytest.raises(NotAllowed):
        await topics.edit(BOB, 1, "Hijacked", None)
    with pytest.raises(NotAllowed):
        await topics.withdraw(BOB, 1)
    with pytest.raises(NotAllowed):
        await topics.remove(BOB, 1)
    edited = await topics.edit(ADA, 1, "Moodle 5 upgrades", "Plugins that broke")
    assert (edited.title, edited.details) == ("Moodle 5 upgrades", "Plugins that broke")


async def test_merge_moves_backers(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Merging folds a topic into another; its backers now back the target."""
    await meetup(services)
    await topics.suggest(ADA, "Password managers", None, None)
    await topics.suggest(BOB, "SSO for staff", None, None)
    await topics.support(CAL, 1)
    with pytest.raises(NotAllowed):
        await topics.merge(ADA, 1, 2)
    merged, into = await topics.merge(ORGANISER, 1, 2)
    assert merged.status is TopicStatus.MERGED
    assert into.support == 3


async def poll_with_topics(
    services: tuple[MeetupService, TopicService], titles: list[str], **options: object
) -> tuple[int, list[int]]:
    number = await meetup(services)
    topics = services[1]
    ids = []
    for i, title in enumerate(titles):
        author = Actor(GUILD, 100 + i)
        ids.append((await topics.suggest(author, title, None, None)).topic.id)
    poll = await topics.open_poll(ORGANISER, number, **options)  # type: ignore[arg-type]
    return poll.id, ids


async def test_a_poll_shows_its_ballot_support_tally_and_voters(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """What the poll message is drawn from (read on the driver), and what opening it
    returns (read inside the opening transaction)."""
    number = await meetup(services)
    ids = [
        (await topics.suggest(Actor(GUILD, 100 + i), t, None, None)).topic.id
        for i, t in enumerate(["Zero trust", "Backups", "Printers"])
    ]
    await topics.support(BOB, 2)
    await topics.support(CAL, 2)
    opened = await topics.open_poll(ORGANISER, number, votes=2)
    assert [(t.number, t.status, t.support) for t in opened.topics] == [
        (1, TopicStatus.IN_POLL, 1),  # whoever suggests a topic backs it
        (2, TopicStatus.IN_POLL, 3),
        (3, TopicStatus.IN_POLL, 1),
    ]
    assert (opened.tally, opened.voters, opened.open) == ({}, 0, True)
    await topics.add_dot(GUILD, ADA.user_id, opened.id, ids[1])
    await topics.add_dot(GUILD, ADA.user_id, opened.id, ids[1])
    await topics.add_dot(GUILD, BOB.user_id, opened.id, ids[2])
    await topics.remove_dot(GUILD, BOB.user_id, opened.id, ids[2])
    poll = await topics.poll(opened.id)
    assert poll is not None
    assert poll.tally == {ids[1]: 2, ids[2]: 0}
    assert poll.voters == 1  # BOB took his dot back
    assert poll.meetup_number == number
    assert poll.closes_at.tzinfo is not None
    assert await topics.poll(opened.id + 1000) is None


async def test_open_poll_freezes_topics_and_schedules_closing(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """Opening a poll puts open topics on the ballot (no more edits) and arms its close."""
    poll_id, _ = await poll_with_topics(services, ["Wi-Fi 7", "Cyber Essentials"], votes=2)
    with pytest.raises(Conflict, match="ballot"):
        await topics.edit(Actor(GUILD, 100), 1, "Changed", None)
    with pytest.raises(Conflict, match="already has its vote"):
        await topics.open_poll(ORGANISER, 1)
    async with sessions() as session:
        job = await session.scalar(select(ScheduledJob).where(ScheduledJob.kind == POLL_CLOSE))
    assert job is not None
    assert (job.subject_id, job.due_at) == (poll_id, datetime(2026, 12, 2, 18, 0, tzinfo=UTC))


async def test_poll_refuses_too_many_topics(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """More than 25 topics: organisers are asked to merge or remove first."""
    number = await meetup(services)
    words = [
        "Moodle",
        "Intune",
        "Eduroam",
        "VLANs",
        "Printers",
        "Backups",
        "Firewalls",
        "Projectors",
        "Chromebooks",
        "SCCM",
        "Jamf",
        "Wi-Fi",
        "Phishing",
        "Laptops",
        "Licensing",
        "CCTV",
        "Tills",
        "Sensors",
        "Kiosks",
        "Servers",
        "Storage",
        "Printing",
        "Patching",
        "Monitoring",
        "Ticketing",
        "Cabling",
    ]
    for i, word in enumerate(words):
        await topics.suggest(Actor(GUILD, 200 + i), f"{word} in practice", None, None)
    with pytest.raises(Conflict, match="merge"):
        await topics.open_poll(ORGANISER, number)


async def test_dot_budget_holds_under_concurrent_clicks(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Ten simultaneous clicks with a budget of 3: exactly 3 dots land."""
    poll_id, ids = await poll_with_topics(services, ["A topic", "B topic"], votes=3)
    results = await asyncio.gather(
        *(topics.add_dot(GUILD, 50, poll_id, ids[i % 2]) for i in range(10)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 7
    ballot = await topics.ballot(GUILD, 50, poll_id)
    assert sum(ballot.mine.values()) == 3
    assert ballot.remaining == 0
    back = await topics.remove_dot(
        GUILD, 50, poll_id, ids[0] if ballot.mine.get(ids[0]) else ids[1]
    )
    assert back.remaining == 1


async def test_thousand_members_vote_at_once(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """1,000 members each putting a dot on at the same time: every one counted once."""
    poll_id, ids = await poll_with_topics(services, ["Alpha", "Bravo", "Charlie"], votes=1)
    await asyncio.gather(
        *(topics.add_dot(GUILD, 10_000 + i, poll_id, ids[i % 3]) for i in range(1000))
    )
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally == {ids[0]: 334, ids[1]: 333, ids[2]: 333}
    assert poll.voters == 1000
    async with sessions() as session:
        assert await session.scalar(select(func.sum(Vote.dots))) == 1000


async def test_close_ranks_sets_agenda_and_carries_over(
    services: tuple[MeetupService, TopicService], topics: TopicService, clock: FakeClock
) -> None:
    """Closing ranks by dots (ties to the earliest suggestion); the top N are the agenda,
    the rest go back to the pool; votes after closing are refused; closing twice is a no-op."""
    poll_id, ids = await poll_with_topics(
        services, ["One", "Two", "Three", "Four"], votes=2, agenda_size=2
    )
    for user, topic in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)]:
        await topics.add_dot(GUILD, 300 + user, poll_id, ids[topic])
    outcome = await topics.close(poll_id)
    assert [r.topic_id for r in outcome.ranking][:3] == [ids[1], ids[2], ids[3]]
    assert outcome.ranking[0].tied
    assert [t.id for t in outcome.agenda] == [ids[1], ids[2]]
    assert {t.id for t in outcome.carried_over} == {ids[0], ids[3]}
    with pytest.raises(Conflict, match="closed"):
        await topics.add_dot(GUILD, 399, poll_id, ids[0])
    again = await topics.close(poll_id)
    assert not again.newly_closed
    assert [t.id for t in again.agenda] == [ids[1], ids[2]]
    view = await services[0].by_number(GUILD, 1)
    assert view.agenda == ("Two", "Three")
    later = await meetup(services, "2026-12-10 18:00")
    _, pool = await topics.topics(GUILD, later)
    assert {t.title for t in pool if t.carried_over} == {"One", "Four"}


async def test_votes_stop_at_the_closing_time(
    services: tuple[MeetupService, TopicService], topics: TopicService, clock: FakeClock
) -> None:
    """Even before the close job has run, a vote after the closing time is refused."""
    poll_id, ids = await poll_with_topics(services, ["Late topic"], closes="1h")
    clock.advance(hours=1)
    with pytest.raises(Conflict, match="closed"):
        await topics.add_dot(GUILD, 400, poll_id, ids[0])


async def test_leavers_and_erased_members_leave_the_tally(
    services: tuple[MeetupService, TopicService],
    topics: TopicService,
    sessions: Sessions,
    clock: FakeClock,
) -> None:
    """A member who left, or erased their data, no longer counts; their topics stay."""
    poll_id, ids = await poll_with_topics(services, ["Kept topic"], votes=2)
    await topics.add_dot(GUILD, 500, poll_id, ids[0])
    await topics.add_dot(GUILD, 501, poll_id, ids[0])
    assert await topics.member_left(GUILD, 500) == [poll_id]
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    privacy = PrivacyService(sessions, personal_data_sources(settings, clock), clock=clock)
    export = await privacy.export(100)
    assert export["data"]["topics"][0]["title"] == "Kept topic"
    await privacy.erase(501)
    await privacy.erase(100)
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally.get(ids[0], 0) == 0
    assert poll.topics[0].suggested_by is None


async def test_volunteer_to_lead(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """'I'll lead this' is for agenda topics, one leader each; the hook is called."""
    handed: list[tuple[int, int]] = []

    async def hook(actor: Actor, topic: object, meetup_id: int) -> str:
        handed.append((actor.user_id, meetup_id))
        return "handed over"

    topics.on_volunteer = hook
    poll_id, ids = await poll_with_topics(services, ["Lead me"], votes=1)
    await topics.add_dot(GUILD, 600, poll_id, ids[0])
    outcome = await topics.close(poll_id)
    led, note = await topics.volunteer(ADA, outcome.agenda[0].id)
    assert led.lead_by == ADA.user_id
    assert note == "handed over"
    with pytest.raises(Conflict, match="already leading"):
        await topics.volunteer(BOB, outcome.agenda[0].id)
    assert handed == [(ADA.user_id, outcome.poll.meetup_id)]


async def test_unknown_things_are_not_found(topics: TopicService) -> None:
    """Numbers that don't exist give a clear answer."""
    with pytest.raises(NotFound):
        await topics.support(ADA, 99)
    with pytest.raises(NotFound):
        await topics.add_dot(GUILD, 1, 999, 1)
    with pytest.raises(BadInput):
        await topics.suggest(ADA, "no", None, None)


async def test_votes_arriving_together_each_get_their_own_answer(
    services: tuple[MeetupService, TopicService],
    topics: TopicService,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Votes at once from members in different situations: each hears about their own
    ballot (a dot, no dots left, not on the ballot), and only the dots spent count. On
    PostgreSQL the votes that arrive while one is being written share statements, ten at a
    time."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=1)
    other_topic = (await topics.suggest(ADA, "Not on the ballot", None, None)).topic.id
    for member in range(800, 805):  # these five have spent their one dot already
        await topics.add_dot(GUILD, member, poll_id, ids[0])
    sent = record_statements(engine, monkeypatch)
    clicks = [(800 + i, ids[i % 2]) for i in range(30)] + [(900, other_topic)]
    results = await asyncio.gather(
        *(topics.add_dot(GUILD, member, poll_id, topic) for member, topic in clicks),
        return_exceptions=True,
    )
    for (member, topic), result in zip(clicks, results, strict=True):
        if member < 805:
            assert isinstance(result, Conflict), (member, result)
        elif member == 900:
            assert isinstance(result, NotFound), result
        else:
            assert isinstance(result, BallotView), result
            assert (result.mine, result.remaining) == ({topic: 1}, 0)
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally == {ids[0]: 5 + 12, ids[1]: 13}
    if engine.dialect.name == "postgresql":
        batches = [sql for sql in sent if "unnest" in sql]
        assert len(batches) == 1 + math.ceil(30 / AT_ONCE), sent


async def test_a_refused_vote_spends_nothing(
    services: tuple[MeetupService, TopicService], topics: TopicService, clock: FakeClock
) -> None:
    """Another server's poll, a topic not on the ballot, no dots left, a closed poll: each
    is refused with its reason, and the member's dots stay as they were."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=1, closes="1h")
    other_topic = await topics.suggest(ADA, "Not on the ballot", None, None)
    with pytest.raises(NotFound, match="poll"):
        await topics.add_dot(GUILD + 1, 700, poll_id, ids[0])
    with pytest.raises(NotFound, match="not on this poll's ballot"):
        await topics.add_dot(GUILD, 700, poll_id, other_topic.topic.id)
    assert (await topics.ballot(GUILD, 700, poll_id)).remaining == 1
    await topics.add_dot(GUILD, 700, poll_id, ids[0])
    with pytest.raises(Conflict, match="used all 1 of your dots"):
        await topics.add_dot(GUILD, 700, poll_id, ids[1])
    clock.advance(hours=1)
    with pytest.raises(Conflict, match="closed"):
        await topics.add_dot(GUILD, 701, poll_id, ids[0])
    assert (await topics.ballot(GUILD, 700, poll_id)).mine == {ids[0]: 1}
    assert (await topics.ballot(GUILD, 701, poll_id)).mine == {}
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally == {ids[0]: 1}


async def test_a_refused_take_back_changes_nothing(
    services: tuple[MeetupService, TopicService], topics: TopicService, clock: FakeClock
) -> None:
    """No dot on the topic, another server's poll, a closed poll: refused with the reason,
    and the member's dots and budget stay as they were."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=2, closes="1h")
    await topics.add_dot(GUILD, 700, poll_id, ids[0])
    with pytest.raises(Conflict, match="no dot on that topic"):
        await topics.remove_dot(GUILD, 700, poll_id, ids[1])
    with pytest.raises(NotFound, match="poll"):
        await topics.remove_dot(GUILD + 1, 700, poll_id, ids[0])
    taken = await topics.remove_dot(GUILD, 700, poll_id, ids[0])
    assert (taken.mine, taken.remaining) == ({}, 2)
    await topics.add_dot(GUILD, 700, poll_id, ids[1])
    clock.advance(hours=1)
    with pytest.raises(Conflict, match="closed"):
        await topics.remove_dot(GUILD, 700, poll_id, ids[1])
    ballot = await topics.ballot(GUILD, 700, poll_id)
    assert (ballot.mine, ballot.remaining) == ({ids[1]: 1}, 1)


async def test_taking_back_a_dot_whose_adding_is_in_flight(
    services: tuple[MeetupService, TopicService], topics: TopicService, engine: AsyncEngine
) -> None:
    """A member clicks + then − on a topic: the − waits for the + to commit, then takes
    that dot back (it must not say there is no dot there)."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=3)
    await topics.add_dot(GUILD, 700, poll_id, ids[0])
    async with engine.connect() as adding:  # the + click, committing a moment later
        await adding.execute(
            text("UPDATE ballots SET used = used + 1 WHERE poll_id = :p AND user_id = 700"),
            {"p": poll_id},
        )
        await adding.execute(
            text(
                "INSERT INTO votes (guild_id, poll_id, topic_id, user_id, dots)"
                " VALUES (:g, :p, :t, 700, 1)"
            ),
            {"g": GUILD, "p": poll_id, "t": ids[1]},
        )
        taking_back = asyncio.create_task(topics.remove_dot(GUILD, 700, poll_id, ids[1]))
        await asyncio.sleep(0.3)
        assert not taking_back.done()  # it waits for the + to commit
        await adding.commit()
    ballot = await asyncio.wait_for(taking_back, 10)
    assert (ballot.mine, ballot.remaining) == ({ids[0]: 1}, 2)
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert (poll.tally[ids[0]], poll.tally.get(ids[1], 0)) == (1, 0)


async def test_no_topic_is_stranded(
    services: tuple[MeetupService, TopicService], topics: TopicService, clock: FakeClock
) -> None:
    """Suggested after a meetup's vote opened, or left on a meetup that passed without a
    vote: the topic is offered to the next meetup's vote."""
    first = await meetup(services)
    await topics.suggest(ADA, "Wi-Fi heat maps", None, first)
    await topics.open_poll(ORGANISER, first, closes="1h")
    late = await topics.suggest(BOB, "Projector lamps", None, None)
    assert late.already_voted == first
    assert late.topic.meetup_id is None
    second = await meetup(services, "2026-12-10 18:00")
    await topics.suggest(CAL, "Door entry systems", None, second)
    third = await meetup(services, "2026-12-17 18:00")
    clock.now = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)  # #2 passed without a vote
    _, offered = await topics.topics(GUILD, third)
    assert {t.title for t in offered} >= {"Projector lamps", "Door entry systems"}
    poll = await topics.open_poll(ORGANISER, third)
    assert {"Projector lamps", "Door entry systems"} <= {t.title for t in poll.topics}


async def test_only_one_vote_per_meetup_even_at_once(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Two organisers opening the vote at once: one vote, a clear refusal for the other."""
    number = await meetup(services)
    await topics.suggest(ADA, "Cyber Essentials", None, None)
    results = await asyncio.gather(
        topics.open_poll(ORGANISER, number),
        topics.open_poll(MANAGER, number),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    [opened] = [r for r in results if not isinstance(r, BaseException)]
    await topics.close(opened.id)
    with pytest.raises(Conflict, match="already has its vote"):
        await topics.open_poll(ORGANISER, number)


async def test_add_and_take_back_at_once_never_deadlock(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """One member adding and taking back dots at the same time: every call completes."""
    poll_id, ids = await poll_with_topics(services, ["Racing topic"], votes=3)
    await topics.add_dot(GUILD, 700, poll_id, ids[0])

    async def flip(i: int) -> None:
        change = topics.add_dot if i % 2 else topics.remove_dot
        with contextlib.suppress(Conflict):  # budget spent / nothing to take back
            await change(GUILD, 700, poll_id, ids[0])

    await asyncio.gather(*(flip(i) for i in range(60)))
    ballot = await topics.ballot(GUILD, 700, poll_id)
    assert 0 <= sum(ballot.mine.values()) <= 3
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally.get(ids[0], 0) == sum(ballot.mine.values())


async def test_a_members_add_and_take_back_take_effect_in_the_order_made(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """A member adds a dot then takes it back in the middle of a burst of votes: both
    work, and the dot is gone, though adding waited for the burst's statement and taking
    back needed none."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=1)
    others = [topics.add_dot(GUILD, 8100 + i, poll_id, ids[0]) for i in range(10)]
    *_, added, taken_back = await asyncio.gather(
        *others,
        topics.add_dot(GUILD, 8200, poll_id, ids[1]),
        topics.remove_dot(GUILD, 8200, poll_id, ids[1]),
    )
    assert (added.mine, taken_back.mine) == ({ids[1]: 1}, {})
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert (poll.tally[ids[0]], poll.tally.get(ids[1], 0)) == (10, 0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_votes_in_one_batch_are_each_timed_by_their_own_click(
    services: tuple[MeetupService, TopicService], sessions: Sessions
) -> None:
    """PostgreSQL: two votes share a statement, one clicked just before the poll closed
    and one just after: the first counts, the second does not."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam"], votes=1, closes="1h")
    closes = NOW + timedelta(hours=1)
    async with sessions.autocommit() as once:
        before, after = await repo.pg_add_dots(
            once,
            guild_id=GUILD,
            poll_id=poll_id,
            clicks=[
                (8301, ids[0], closes - timedelta(milliseconds=20)),
                (8302, ids[0], closes + timedelta(milliseconds=20)),
            ],
        )
    assert before is not None
    assert after is not None
    assert (before["used"], after["used"]) == (1, None)
    poll = await services[1].poll(poll_id)
    assert poll is not None
    assert poll.tally == {ids[0]: 1}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_member_leaving_while_their_vote_is_written_does_not_deadlock(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """PostgreSQL: a member leaves while a vote of theirs is half written (their ballot
    taken, their dot not yet put). Leaving waits for the vote, then removes it all:
    the two never wait for each other."""
    poll_id, ids = await poll_with_topics(services, ["Eduroam"], votes=2)
    await topics.add_dot(GUILD, 8400, poll_id, ids[0])
    async with sessions.raw() as vote:
        spent = await repo.raw_spend_dot(
            vote, guild_id=GUILD, poll_id=poll_id, user_id=8400, budget=2, now=NOW
        )
        assert spent == 2
        leaving = asyncio.create_task(topics.member_left(GUILD, 8400))
        await until_waiting_for_a_lock(sessions)
        await repo.raw_add_dot(vote, guild_id=GUILD, poll_id=poll_id, topic_id=ids[0], user_id=8400)
    assert await leaving == [poll_id]
    assert (await topics.ballot(GUILD, 8400, poll_id)).mine == {}
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.tally.get(ids[0], 0) == 0


async def test_cancelling_or_moving_the_meetup_follows_through(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """Moved earlier: the vote closes before the new start. Cancelled: the vote stops and
    its topics go back to the pool."""
    poll_id, _ = await poll_with_topics(services, ["Moved topic"])
    await services[0].edit(ORGANISER, 1, MeetupDraft(when="2026-11-28 18:00"))
    opened = await topics.poll(poll_id)
    assert opened is not None
    await topics.meetup_moved(opened.meetup_id, datetime(2026, 11, 28, 18, 0, tzinfo=UTC))
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert poll.closes_at <= datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    async with sessions() as session:
        job = await session.scalar(select(ScheduledJob).where(ScheduledJob.kind == POLL_CLOSE))
    assert job is not None
    assert job.due_at == poll.closes_at
    assert await topics.meetup_cancelled(poll.meetup_id) == poll_id
    after = await topics.poll(poll_id)
    assert after is not None
    assert not after.open
    _, pool = await topics.topics(GUILD, None)
    assert [t.title for t in pool] == ["Moved topic"]
    assert pool[0].carried_over


async def test_the_close_job_finishes_as_done(
    services: tuple[MeetupService, TopicService],
    topics: TopicService,
    sessions: Sessions,
    clock: FakeClock,
) -> None:
    """The poll's own close job, run by the dispatcher, ends 'done' (it must not cancel
    itself: a failed results post would then never be retried)."""
    poll_id, _ = await poll_with_topics(services, ["Closing topic"], closes="1h")
    dispatcher = Dispatcher(sessions, clock=clock)

    async def close(job: Job, now: datetime) -> Outcome:
        await topics.close(job.subject_id)
        return Outcome.done("closed")

    dispatcher.register(POLL_CLOSE, close)
    clock.advance(hours=1)
    await dispatcher.run_due()
    await dispatcher.idle()
    async with sessions() as session:
        job = await session.scalar(select(ScheduledJob).where(ScheduledJob.kind == POLL_CLOSE))
    assert job is not None
    assert (job.state, job.result) == ("done", "closed")
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert not poll.open


async def test_merging_during_a_vote_moves_the_dots(
    services: tuple[MeetupService, TopicService], topics: TopicService
) -> None:
    """Two duplicates on one ballot: merged, the target holds all their dots and backers,
    and every member's budget is as it was."""
    poll_id, ids = await poll_with_topics(services, ["Wireless surveys", "Door access"], votes=3)
    await topics.add_dot(GUILD, 800, poll_id, ids[0])
    await topics.add_dot(GUILD, 800, poll_id, ids[1])
    await topics.add_dot(GUILD, 801, poll_id, ids[0])
    source = (await topics.ballot(GUILD, 800, poll_id)).topics[0].number
    target = (await topics.ballot(GUILD, 800, poll_id)).topics[1].number
    _, into = await topics.merge(ORGANISER, source, target)
    poll = await topics.poll(poll_id)
    assert poll is not None
    assert [t.id for t in poll.topics] == [ids[1]]
    assert poll.tally == {ids[1]: 3}
    assert into.support == 2
    ballot = await topics.ballot(GUILD, 800, poll_id)
    assert (ballot.mine, ballot.remaining) == ({ids[1]: 2}, 1)


async def test_a_vote_is_at_most_three_statements(
    services: tuple[MeetupService, TopicService],
    topics: TopicService,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Adding or taking back a dot, and opening the ballot, each send at most 3 statements
    (counted on SQLAlchemy's events and on the driver, which the vote statements use) and
    answer with the member's up-to-date ballot. Exactly: one statement each on PostgreSQL;
    on SQLite three for a vote (read, spend, put) and two to open the ballot (BEGIN, read)."""
    postgres = engine.dialect.name == "postgresql"
    poll_id, ids = await poll_with_topics(services, ["Eduroam", "Intune"], votes=3)
    await topics.ballot(GUILD, 900, poll_id)  # this process learns the ballot's titles
    sent = record_statements(engine, monkeypatch)

    vote, opening = (1, 1) if postgres else (3, 2)
    steps: list[tuple[Callable[[], Awaitable[BallotView]], dict[int, int], int]] = [
        (lambda: topics.add_dot(GUILD, 900, poll_id, ids[0]), {ids[0]: 1}, vote),
        (lambda: topics.add_dot(GUILD, 900, poll_id, ids[0]), {ids[0]: 2}, vote),
        (lambda: topics.add_dot(GUILD, 900, poll_id, ids[1]), {ids[0]: 2, ids[1]: 1}, vote),
        (lambda: topics.remove_dot(GUILD, 900, poll_id, ids[0]), {ids[0]: 1, ids[1]: 1}, vote),
        (lambda: topics.ballot(GUILD, 900, poll_id), {ids[0]: 1, ids[1]: 1}, opening),
    ]
    for action, expect, statements in steps:
        sent.clear()
        ballot = await action()
        assert len(sent) == statements, sent
        assert ballot.mine == expect
        assert [t.title for t in ballot.topics] == ["Eduroam", "Intune"]
        assert ballot.remaining == 3 - sum(expect.values())


async def test_a_poll_that_ends_leaves_no_titles_in_memory(
    services: tuple[MeetupService, TopicService], topics: TopicService, sessions: Sessions
) -> None:
    """Ballots keep their topics' titles in memory while a poll is open; a poll that ends
    is forgotten: closed here, or by another process (seen when its ballot is next shown)."""
    poll_id, ids = await poll_with_topics(services, ["Wi-Fi 7", "Printers"])
    await topics.add_dot(GUILD, ADA.user_id, poll_id, ids[0])
    assert poll_id in topics._ballot_titles
    await topics.close(poll_id)
    assert poll_id not in topics._ballot_titles
    shown = await topics.ballot(GUILD, ADA.user_id, poll_id)
    assert [t.title for t in shown.topics] == ["Wi-Fi 7", "Printers"]
    assert not shown.open
    assert poll_id not in topics._ballot_titles

    # Another process closes the next one.
    meetups = services[0]
    number = (
        await meetups.create(ORGANISER, MeetupDraft(title="Next", when="2026-12-10 18:00"))
    ).meetup.number
    await topics.suggest(ADA, "Backups", None, number)
    other = await topics.open_poll(ORGANISER, number)
    await topics.ballot(GUILD, BOB.user_id, other.id)
    elsewhere = TopicService(sessions, topics._settings, services[0], clock=topics._clock)
    await elsewhere.close(other.id)
    assert other.id in topics._ballot_titles
    assert not (await topics.ballot(GUILD, BOB.user_id, other.id)).open
    assert other.id not in topics._ballot_titles
