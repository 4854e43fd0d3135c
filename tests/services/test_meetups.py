"""/techmeet use cases on SQLite and PostgreSQL: scheduling, RSVPs and waitlists, edits."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.batches import AT_ONCE
from bot.domain.guild_settings import ChannelPurpose
from bot.domain.meetups import Repeat, RsvpStatus
from bot.domain.members import Actor
from bot.errors import BadInput, Conflict, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import FOLLOW_UP, REMINDER, SERIES_NEXT, MeetupDraft, MeetupService
from bot.services.privacy import PrivacyService, personal_data_sources
from db.engine import Sessions
from db.models import Meetup, MeetupSeries, Rsvp, ScheduledJob, Topic
from db.repositories import meetups as repo
from tests.clock import FakeClock
from tests.services.locks import until_waiting_for_a_lock
from tests.services.permissions import ALL_POSTING
from tests.services.statements import record_statements

GUILD = 700_000_000_000_000_001
ANNOUNCEMENTS = 42
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ORGANISER = Actor(GUILD, 1, manage_events=True)
MANAGER = Actor(GUILD, 2, manage_guild=True)
MEMBER = Actor(GUILD, 3)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def service(sessions: Sessions, clock: FakeClock) -> MeetupService:
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    await settings.set_channel(
        MANAGER, ChannelPurpose.ANNOUNCEMENTS, ANNOUNCEMENTS, bot_permissions=ALL_POSTING
    )
    return MeetupService(sessions, settings, clock=clock)


def draft(**changes: object) -> MeetupDraft:
    values: dict[str, object] = {"title": "Network monitoring night", "when": "2026-12-03 18:00"}
    values.update(changes)
    return MeetupDraft(**values)  # type: ignore[arg-type]


async def jobs_of(sessions: Sessions, meetup_id: int) -> list[ScheduledJob]:
    async with sessions() as session:
        result = await session.scalars(
            select(ScheduledJob)
            .where(ScheduledJob.subject_id == meetup_id)
            .order_by(ScheduledJob.due_at)
        )
        return list(result)


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_create_numbers_meetups_and_plans_jobs(
    service: MeetupService, sessions: Sessions
) -> None:
    """Meetups are numbered per guild; reminders, follow-up (and series) jobs are planned."""
    first = await service.create(ORGANISER, draft(reminders="1w,1d,1h"))
    second = await service.create(ORGANISER, draft(when="2026-12-10 18:00"))
    assert (first.meetup.number, second.meetup.number) == (1, 2)
    assert first.meetup.starts_at == datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    assert first.skipped_offsets == [10080]  # a week before is already past
    jobs = await jobs_of(sessions, first.meetup.id)
    assert [(j.kind, j.detail, j.due_at) for j in jobs] == [
        (REMINDER, 1440, datetime(2026, 12, 2, 18, 0, tzinfo=UTC)),
        (REMINDER, 60, datetime(2026, 12, 3, 17, 0, tzinfo=UTC)),
        (FOLLOW_UP, None, datetime(2026, 12, 3, 20, 0, tzinfo=UTC)),
    ]
    assert all(j.state == "pending" for j in jobs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"when": "yesterday 18:00"}, "not a date and time I can read"),
        ({"when": "2020-01-01 18:00"}, "past"),
        ({"title": "   "}, "can't be empty"),
        ({"online_url": "javascript:alert(1)"}, "https://"),
        ({"capacity": 0}, "at least 1"),
        ({"duration_minutes": 5}, "between 15 and 720"),
        ({"reminders": "1 day"}, "not a reminder offset"),
        ({"region": "Atlantis"}, "/setup regions"),
        ({"until": "2027-01-01"}, "repeating"),
        ({"repeat": Repeat.MONTHLY_LAST}, "first Thursday"),
    ],
)
async def test_create_refuses_bad_input(
    service: MeetupService, sessions: Sessions, changes, message
) -> None:
    """Each bad value is refused with what to do instead, and nothing is stored."""
    with pytest.raises(BadInput, match=message):
        await service.create(ORGANISER, draft(**changes))
    assert await count(sessions, Meetup) == 0
    assert await count(sessions, ScheduledJob) == 0


async def test_only_organisers_create(service: MeetupService, sessions: Sessions) -> None:
    """A plain member is refused; the organiser role counts once it is set."""
    with pytest.raises(NotAllowed, match="organisers"):
        await service.create(MEMBER, draft())
    assert await count(sessions, Meetup) == 0


async def test_create_needs_an_announcements_channel(sessions: Sessions, clock: FakeClock) -> None:
    """Without an announcements channel the organiser is told to run /setup channel."""
    bare = MeetupService(
        sessions, GuildSettingsService(sessions, default_timezone="Europe/London"), clock=clock
    )
    with pytest.raises(BadInput, match="/setup channel purpose:announcements"):
        await bare.create(ORGANISER, draft())


async def test_fifty_concurrent_going_clicks_on_ten_places(
    service: MeetupService, sessions: Sessions
) -> None:
    """50 members clicking Going at once: exactly 10 going, 40 waitlisted in commit order."""
    meetup = (await service.create(ORGANISER, draft(capacity=10))).meetup
    outcomes = await asyncio.gather(
        *(service.rsvp(GUILD, 1000 + i, meetup.id, RsvpStatus.GOING) for i in range(50))
    )
    statuses = [o.status for o in outcomes]
    assert statuses.count(RsvpStatus.GOING) == 10
    assert statuses.count(RsvpStatus.WAITLISTED) == 40
    async with sessions() as session:
        waitlist = list(
            await session.scalars(
                select(Rsvp).where(Rsvp.status == "waitlisted").order_by(Rsvp.waitlist_position)
            )
        )
        going_count = await session.scalar(select(Meetup.going_count))
    assert going_count == 10
    assert [r.waitlist_position for r in waitlist] == list(range(1, 41))
    # The rank each member was told matches the order the database committed.
    told = {o.waitlist_rank for o in outcomes if o.status is RsvpStatus.WAITLISTED}
    assert told == set(range(1, 41))


async def test_leaving_going_promotes_the_first_waitlisted(service: MeetupService) -> None:
    """A Going member switching to Maybe hands the place to the first on the waitlist."""
    meetup = (await service.create(ORGANISER, draft(capacity=1))).meetup
    await service.rsvp(GUILD, 10, meetup.id, RsvpStatus.GOING)
    second = await service.rsvp(GUILD, 11, meetup.id, RsvpStatus.GOING)
    third = await service.rsvp(GUILD, 12, meetup.id, RsvpStatus.GOING)
    assert (second.status, second.waitlist_rank) == (RsvpStatus.WAITLISTED, 1)
    assert third.waitlist_rank == 2
    again = await service.rsvp(GUILD, 11, meetup.id, RsvpStatus.GOING)
    assert (again.status, again.previous, again.waitlist_rank) == (
        RsvpStatus.WAITLISTED,
        RsvpStatus.WAITLISTED,
        1,
    )
    dropped = await service.rsvp(GUILD, 10, meetup.id, RsvpStatus.MAYBE)
    assert dropped.promoted == [11]
    lists = await service.rsvp_lists(meetup.id)
    assert lists[RsvpStatus.GOING] == [11]
    assert lists[RsvpStatus.WAITLISTED] == [12]
    assert lists[RsvpStatus.MAYBE] == [10]
    view = await service.get(meetup.id)
    assert view is not None
    assert (view.going, view.maybe, view.waitlisted) == (1, 1, 1)


async def test_capacity_changes(service: MeetupService) -> None:
    """Lowering keeps those going; raising promotes from the waitlist in order."""
    meetup = (await service.create(ORGANISER, draft(capacity=2))).meetup
    for user in (20, 21, 22, 23):
        await service.rsvp(GUILD, user, meetup.id, RsvpStatus.GOING)
    lowered = await service.edit(ORGANISER, meetup.number, MeetupDraft(capacity=1))
    assert lowered.meetup.going == 2  # nobody loses their place
    refused = await service.rsvp(GUILD, 24, meetup.id, RsvpStatus.GOING)
    assert refused.status is RsvpStatus.WAITLISTED
    raised = await service.edit(ORGANISER, meetup.number, MeetupDraft(capacity=4))
    assert raised.promoted == [22, 23]
    assert raised.meetup.going == 4


async def test_edit_time_rearms_every_future_reminder(
    service: MeetupService, sessions: Sessions, clock: FakeClock
) -> None:
    """A new time re-arms each offset still ahead, even one already sent for the old time."""
    meetup = (await service.create(ORGANISER, draft(reminders="1d,1h"))).meetup
    await service.rsvp(GUILD, 30, meetup.id, RsvpStatus.GOING)
    await service.rsvp(GUILD, 31, meetup.id, RsvpStatus.MAYBE)
    async with sessions.begin() as session:
        sent = await session.scalar(select(ScheduledJob).where(ScheduledJob.detail == 1440))
        assert sent is not None
        sent.state, sent.result = "done", "12345"
    changed = await service.edit(ORGANISER, meetup.number, MeetupDraft(when="2026-12-05 19:00"))
    assert changed.time_changed
    assert sorted(changed.notify) == [30, 31]
    jobs = {(j.kind, j.detail): j for j in await jobs_of(sessions, meetup.id)}
    day = jobs[(REMINDER, 1440)]
    assert (day.state, day.revision, day.due_at) == (
        "pending",
        1,
        datetime(2026, 12, 4, 19, 0, tzinfo=UTC),
    )
    assert jobs[(REMINDER, 60)].due_at == datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    assert jobs[(FOLLOW_UP, None)].due_at == datetime(2026, 12, 5, 21, 0, tzinfo=UTC)


async def test_cancel_stops_jobs_and_rsvps(service: MeetupService, sessions: Sessions) -> None:
    """Cancelling cancels pending jobs, names who to tell, and closes RSVPs."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    await service.rsvp(GUILD, 40, meetup.id, RsvpStatus.GOING)
    with pytest.raises(NotAllowed):
        await service.cancel(MEMBER, meetup.number, None, whole_series=False)
    changed = await service.cancel(ORGANISER, meetup.number, "Room flooded", whole_series=False)
    assert changed.meetup.cancelled
    assert changed.notify == [40]
    assert {j.state for j in await jobs_of(sessions, meetup.id)} == {"cancelled"}
    with pytest.raises(Conflict, match="cancelled"):
        await service.rsvp(GUILD, 41, meetup.id, RsvpStatus.GOING)
    with pytest.raises(Conflict, match="cancelled"):
        await service.edit(ORGANISER, meetup.number, MeetupDraft(title="New"))


async def test_rsvp_closes_when_the_meetup_starts(service: MeetupService, clock: FakeClock) -> None:
    """After the start, RSVPs are refused with a clear reason."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    clock.now = meetup.starts_at
    with pytest.raises(Conflict, match="already started"):
        await service.rsvp(GUILD, 50, meetup.id, RsvpStatus.GOING)


async def test_rsvp_to_another_guilds_meetup_is_not_found(service: MeetupService) -> None:
    """A custom_id naming another guild's meetup is not trusted."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    with pytest.raises(NotFound):
        await service.rsvp(GUILD + 1, 60, meetup.id, RsvpStatus.GOING)


async def test_member_leaving_frees_their_place(service: MeetupService) -> None:
    """A Going member leaving the server hands their place on."""
    meetup = (await service.create(ORGANISER, draft(capacity=1))).meetup
    await service.rsvp(GUILD, 70, meetup.id, RsvpStatus.GOING)
    await service.rsvp(GUILD, 71, meetup.id, RsvpStatus.GOING)
    [(ref, promoted)] = await service.member_left(GUILD, 70)
    assert ref.id == meetup.id
    assert promoted == [71]


async def test_series_creates_its_next_occurrence_once(
    service: MeetupService, sessions: Sessions, clock: FakeClock
) -> None:
    """When an occurrence starts the next one is created, once, at the same local time."""
    first = (
        await service.create(ORGANISER, draft(when="2027-03-25 18:00", repeat=Repeat.WEEKLY))
    ).meetup
    assert first.starts_at == datetime(2027, 3, 25, 18, 0, tzinfo=UTC)  # GMT
    assert SERIES_NEXT in {j.kind for j in await jobs_of(sessions, first.id)}
    clock.now = first.starts_at
    nxt = await service.create_next_occurrence(first.id)
    again = await service.create_next_occurrence(first.id)
    assert nxt is not None
    assert again is not None
    assert nxt.id == again.id
    assert nxt.number == 2
    assert nxt.starts_at == datetime(2027, 4, 1, 17, 0, tzinfo=UTC)  # 18:00 BST
    assert nxt.title == first.title
    await service.cancel(ORGANISER, nxt.number, None, whole_series=True)
    assert await service.create_next_occurrence(nxt.id) is None


async def test_double_clicks_count_once(service: MeetupService, sessions: Sessions) -> None:
    """A member clicking Going several times at once holds one place, not several."""
    meetup = (await service.create(ORGANISER, draft(capacity=5))).meetup
    outcomes = await asyncio.gather(
        *(service.rsvp(GUILD, 90, meetup.id, RsvpStatus.GOING) for _ in range(6))
    )
    assert {o.status for o in outcomes} == {RsvpStatus.GOING}
    assert sum(o.previous is None for o in outcomes) == 1
    view = await service.get(meetup.id)
    assert view is not None
    assert view.going == 1
    async with sessions() as session:
        assert await session.scalar(select(Meetup.going_count)) == 1


async def test_edit_can_clear_fields_and_lift_the_limit(service: MeetupService) -> None:
    """In an edit, '-' clears a text field and capacity 0 removes the limit."""
    meetup = (
        await service.create(
            ORGANISER, draft(venue="Room 4", online_url="https://meet.example.ac.uk", capacity=3)
        )
    ).meetup
    changed = await service.edit(
        ORGANISER, meetup.number, MeetupDraft(venue="-", online_url=" - ", capacity=0)
    )
    assert (changed.meetup.venue, changed.meetup.online_url, changed.meetup.capacity) == (
        None,
        None,
        None,
    )
    assert changed.place_changed
    with pytest.raises(BadInput, match="at least 1"):
        await service.create(ORGANISER, draft(capacity=0))


async def test_cancelling_one_occurrence_keeps_the_series(
    service: MeetupService, clock: FakeClock
) -> None:
    """'Cancel this TechMeet' on one week of a series: next week's still comes."""
    first = (
        await service.create(ORGANISER, draft(when="2026-12-03 18:00", repeat=Repeat.WEEKLY))
    ).meetup
    await service.cancel(ORGANISER, first.number, "Snow day", whole_series=False)
    clock.now = first.starts_at
    nxt = await service.create_next_occurrence(first.id)
    assert nxt is not None
    assert nxt.starts_at == datetime(2026, 12, 10, 18, 0, tzinfo=UTC)


async def test_a_moved_occurrence_does_not_shift_the_series(
    service: MeetupService, clock: FakeClock
) -> None:
    """One week moved from Thursday to Wednesday: the next is still the Thursday after."""
    first = (
        await service.create(ORGANISER, draft(when="2026-12-03 18:00", repeat=Repeat.WEEKLY))
    ).meetup
    await service.edit(ORGANISER, first.number, MeetupDraft(when="2026-12-02 18:00"))
    clock.now = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    nxt = await service.create_next_occurrence(first.id)
    assert nxt is not None
    assert nxt.starts_at == datetime(2026, 12, 10, 18, 0, tzinfo=UTC)


async def test_a_longer_meetup_moves_its_follow_up(
    service: MeetupService, sessions: Sessions
) -> None:
    """Changing the duration moves the 'has finished' follow-up to the new end."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    await service.edit(ORGANISER, meetup.number, MeetupDraft(duration_minutes=240))
    [follow_up] = [j for j in await jobs_of(sessions, meetup.id) if j.kind == FOLLOW_UP]
    assert follow_up.due_at == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


async def test_erasing_a_going_member_hands_their_place_on(
    service: MeetupService, sessions: Sessions, clock: FakeClock
) -> None:
    """After /privacy delete, the freed place goes to the first waiting, not a newcomer."""
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    privacy = PrivacyService(sessions, personal_data_sources(settings, clock), clock=clock)
    meetup = (await service.create(ORGANISER, draft(capacity=1))).meetup
    await service.rsvp(GUILD, 80, meetup.id, RsvpStatus.GOING)
    await service.rsvp(GUILD, 81, meetup.id, RsvpStatus.GOING)
    await privacy.erase(80)
    late = await service.rsvp(GUILD, 82, meetup.id, RsvpStatus.GOING)
    assert late.status is RsvpStatus.WAITLISTED
    lists = await service.rsvp_lists(meetup.id)
    assert lists[RsvpStatus.GOING] == [81]


async def test_an_rsvp_is_at_most_three_statements(
    service: MeetupService, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every RSVP path sends at most 3 statements (SQLAlchemy's events and the driver both
    counted; BEGIN and COMMIT not). Exactly, per database, so a slower path shows: on
    PostgreSQL a new Going answer is a single statement, and one more for a waitlist place
    (its rank)."""
    meetup = (await service.create(ORGANISER, draft(capacity=1))).meetup
    sent = record_statements(engine, monkeypatch)
    postgres = engine.dialect.name == "postgresql"
    steps = [  # who, answer, what they hear, statements on (SQLite, PostgreSQL)
        (100, RsvpStatus.GOING, RsvpStatus.GOING, (3, 1)),  # a seat is free
        (101, RsvpStatus.GOING, RsvpStatus.WAITLISTED, (3, 2)),  # full: the waitlist
        (103, RsvpStatus.GOING, RsvpStatus.WAITLISTED, (3, 2)),  # and the next
        (102, RsvpStatus.MAYBE, RsvpStatus.MAYBE, (2, 2)),
        (100, RsvpStatus.GOING, RsvpStatus.GOING, (1, 2)),  # no change
    ]
    for user_id, answer, heard, statements in steps:
        sent.clear()
        outcome = await service.rsvp(GUILD, user_id, meetup.id, answer)
        assert outcome.status is heard
        assert len(sent) == statements[postgres], sent


async def going_count(sessions: Sessions, meetup_id: int) -> tuple[int, int]:
    """The meetup's count of places taken, and its Going answers counted."""
    async with sessions() as session:
        kept = await session.scalar(select(Meetup.going_count).where(Meetup.id == meetup_id))
        counted = await session.scalar(
            select(func.count()).where(Rsvp.meetup_id == meetup_id, Rsvp.status == "going")
        )
    return int(kept or 0), int(counted or 0)


async def test_going_clicks_at_once_are_first_come_first_served(
    service: MeetupService, sessions: Sessions, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 Going clicks at once on 10 places: the first 10 to arrive are going and the rest
    wait in the order they clicked. On PostgreSQL the clicks that arrive while one is being
    written share statements, ten at a time: the whole burst takes four, not 30."""
    meetup = (await service.create(ORGANISER, draft(capacity=10))).meetup
    sent = record_statements(engine, monkeypatch)
    outcomes = await asyncio.gather(
        *(service.rsvp(GUILD, 4000 + i, meetup.id, RsvpStatus.GOING) for i in range(30))
    )
    going = [i for i, o in enumerate(outcomes) if o.status is RsvpStatus.GOING]
    assert going == list(range(10))
    assert [o.waitlist_rank for o in outcomes[10:]] == list(range(1, 21))
    assert await going_count(sessions, meetup.id) == (10, 10)
    if sessions.postgres:
        answers = [sql for sql in sent if "unnest" in sql]
        assert len(answers) == 1 + math.ceil(29 / AT_ONCE), sent


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_going_batch_that_races_another_answer_changes_nothing(
    service: MeetupService, sessions: Sessions
) -> None:
    """PostgreSQL: a batch of Going clicks waits for the meetup while another transaction
    records an answer by one of its members. The batch then changes nothing (no seat taken
    for anyone in it) and tells each click to decide on its own; they then do. (SQLite has
    one writer at a time: nothing waits behind another writer there.)"""
    meetup = (await service.create(ORGANISER, draft(capacity=10))).meetup
    async with sessions.raw() as other:
        await repo.raw_lock_with_rsvp(other, meetup.id, 7001)
        await repo.raw_upsert_rsvp(
            other,
            guild_id=GUILD,
            meetup_id=meetup.id,
            user_id=7001,
            status="maybe",
            waitlist_position=None,
            now=NOW,
        )
        async with sessions.autocommit() as once:
            batch = asyncio.create_task(
                repo.pg_going_at_once(
                    once, meetup_id=meetup.id, guild_id=GUILD, clicks=[(7002, NOW), (7001, NOW)]
                )
            )
            await until_waiting_for_a_lock(sessions)
            assert not batch.done()
    assert await batch == [None, None]
    assert await going_count(sessions, meetup.id) == (0, 0)
    outcomes = [await service.rsvp(GUILD, u, meetup.id, RsvpStatus.GOING) for u in (7002, 7001)]
    assert [(o.status, o.previous) for o in outcomes] == [
        (RsvpStatus.GOING, None),
        (RsvpStatus.GOING, RsvpStatus.MAYBE),
    ]
    assert await going_count(sessions, meetup.id) == (2, 2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_going_batch_waiting_while_the_waitlist_moves_on_takes_no_place_there(
    service: MeetupService, sessions: Sessions
) -> None:
    """PostgreSQL: an organiser raises the limit of a full meetup (the waiting member
    moves up and places are left) while a batch of Going clicks waits for the meetup. The
    batch still sees someone waiting in its snapshot: it decides nothing, and the clicks
    then get the free places rather than a waitlist nobody would move."""
    meetup = (await service.create(ORGANISER, draft(capacity=2))).meetup
    for member in (8001, 8002, 8003):
        await service.rsvp(GUILD, member, meetup.id, RsvpStatus.GOING)
    async with sessions.raw() as organiser:
        await repo.raw_lock_with_rsvp(organiser, meetup.id, 1)
        await organiser.execute("UPDATE meetups SET capacity = 5 WHERE id = $1", meetup.id)
        assert await repo.raw_promote(organiser, meetup.id, now=NOW) == [8003]
        async with sessions.autocommit() as once:
            batch = asyncio.create_task(
                repo.pg_going_at_once(
                    once, meetup_id=meetup.id, guild_id=GUILD, clicks=[(8010, NOW), (8011, NOW)]
                )
            )
            await until_waiting_for_a_lock(sessions)
    assert await batch == [None, None]
    outcomes = [await service.rsvp(GUILD, m, meetup.id, RsvpStatus.GOING) for m in (8010, 8011)]
    assert [o.status for o in outcomes] == [RsvpStatus.GOING, RsvpStatus.GOING]
    shown = await service.get(meetup.id)
    assert shown is not None
    assert (shown.going, shown.waitlisted) == (5, 0)


async def test_a_members_clicks_take_effect_in_the_order_made(
    service: MeetupService, sessions: Sessions
) -> None:
    """A member clicks Going then Can't go in the middle of a burst of Going clicks: their
    answer ends as Can't go, though Going waited for the burst's statement and Can't go
    needed none."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    others = [service.rsvp(GUILD, 8100 + i, meetup.id, RsvpStatus.GOING) for i in range(10)]
    *_, going, cannot = await asyncio.gather(
        *others,
        service.rsvp(GUILD, 8200, meetup.id, RsvpStatus.GOING),
        service.rsvp(GUILD, 8200, meetup.id, RsvpStatus.NOT_GOING),
    )
    assert (going.status, cannot.status) == (RsvpStatus.GOING, RsvpStatus.NOT_GOING)
    assert cannot.previous is RsvpStatus.GOING
    async with sessions() as session:
        final = await session.scalar(
            select(Rsvp.status).where(Rsvp.meetup_id == meetup.id, Rsvp.user_id == 8200)
        )
    assert final == "not_going"
    assert await going_count(sessions, meetup.id) == (10, 10)


async def test_a_limit_set_after_the_going_clicks_counts_the_places_taken(
    service: MeetupService, sessions: Sessions
) -> None:
    """Going clicks at once on a meetup without a limit are all counted. An organiser
    setting a limit later finds the places already taken, so the meetup is full at once and
    a waiting member moves up when someone leaves; lifting the limit again lets everyone
    in."""
    meetup = (await service.create(ORGANISER, draft())).meetup
    await asyncio.gather(
        *(service.rsvp(GUILD, 2000 + i, meetup.id, RsvpStatus.GOING) for i in range(30))
    )
    await service.rsvp(GUILD, 2000, meetup.id, RsvpStatus.MAYBE)
    shown = await service.get(meetup.id)
    assert shown is not None
    assert (shown.going, shown.maybe) == (29, 1)

    limited = await service.edit(ORGANISER, meetup.number, MeetupDraft(capacity=29))
    assert (limited.meetup.going, limited.meetup.places_left) == (29, 0)
    assert await going_count(sessions, meetup.id) == (29, 29)
    late = await service.rsvp(GUILD, 3000, meetup.id, RsvpStatus.GOING)
    assert late.status is RsvpStatus.WAITLISTED
    left = await service.rsvp(GUILD, 2001, meetup.id, RsvpStatus.NOT_GOING)
    assert left.promoted == [3000]
    assert await going_count(sessions, meetup.id) == (29, 29)

    lifted = await service.edit(ORGANISER, meetup.number, MeetupDraft(capacity=0))
    assert lifted.meetup.capacity is None
    await service.rsvp(GUILD, 3001, meetup.id, RsvpStatus.GOING)
    shown = await service.get(meetup.id)
    assert shown is not None
    assert shown.going == 30


async def test_a_limit_set_while_going_clicks_arrive_counts_every_place(
    service: MeetupService, sessions: Sessions
) -> None:
    """An organiser sets a limit in the middle of a burst of Going clicks: the count of
    places taken equals the Going answers, whichever came first, and nobody waits for a
    place while one is free."""
    for attempt in range(3):
        meetup = (await service.create(ORGANISER, draft(title=f"Burst {attempt}"))).meetup
        clicks = [
            service.rsvp(GUILD, 5000 + 100 * attempt + i, meetup.id, RsvpStatus.GOING)
            for i in range(40)
        ]
        limit = service.edit(ORGANISER, meetup.number, MeetupDraft(capacity=20))
        await asyncio.gather(*clicks[:20], limit, *clicks[20:])
        kept, counted = await going_count(sessions, meetup.id)
        assert kept == counted
        shown = await service.get(meetup.id)
        assert shown is not None
        assert shown.going == counted
        assert shown.going + shown.waitlisted == 40
        assert shown.waitlisted == 0 or shown.going >= 20


async def test_a_meetup_read_straight_from_the_driver_shows_what_a_list_shows(
    service: MeetupService, sessions: Sessions
) -> None:
    """get() reads on the driver (announcements are redrawn from it after bursts of RSVPs):
    the series' rule, every count and the agenda in its order, as the session path has them."""
    created = await service.create(
        ORGANISER,
        draft(
            capacity=1,
            repeat=Repeat.WEEKLY,
            venue="Library, room 2",
            description="Bring a laptop",
            reminders="1d,1h",
        ),
    )
    meetup = created.meetup
    for user, answer in [
        (10, RsvpStatus.GOING),
        (11, RsvpStatus.GOING),  # full: waitlisted
        (12, RsvpStatus.GOING),
        (13, RsvpStatus.MAYBE),
        (14, RsvpStatus.NOT_GOING),
    ]:
        await service.rsvp(GUILD, user, meetup.id, answer)
    async with sessions.begin() as session:
        for number, (title, place) in enumerate([("Wi-Fi surveys", 2), ("Eduroam", 1)], 1):
            session.add(
                Topic(
                    guild_id=GUILD,
                    number=number,
                    meetup_id=meetup.id,
                    title=title,
                    created_at=NOW,
                    status="chosen",
                    agenda_place=place,
                )
            )
        session.add(
            Topic(guild_id=GUILD, number=3, meetup_id=meetup.id, title="Not chosen", created_at=NOW)
        )

    shown = await service.get(meetup.id)
    [listed] = await service.upcoming(GUILD)
    assert shown == listed
    assert shown is not None
    assert (shown.going, shown.waitlisted, shown.maybe, shown.not_going) == (1, 2, 1, 1)
    assert shown.agenda == ("Eduroam", "Wi-Fi surveys")
    assert shown.repeat is Repeat.WEEKLY
    assert shown.reminder_offsets == (1440, 60)
    assert shown.starts_at == datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    assert await service.get(meetup.id + 1000) is None


async def test_a_meetup_of_a_cancelled_series_reads_as_not_repeating(
    service: MeetupService, sessions: Sessions
) -> None:
    """A series stopped by its organiser no longer says "every week" on its meetups."""
    created = await service.create(ORGANISER, draft(repeat=Repeat.WEEKLY))
    async with sessions.begin() as session:
        series = await session.get(MeetupSeries, created.meetup.series_id)
        assert series is not None
        series.cancelled = True
    shown = await service.get(created.meetup.id)
    assert shown is not None
    assert shown.repeat is Repeat.NONE
    assert [shown] == await service.upcoming(GUILD)
