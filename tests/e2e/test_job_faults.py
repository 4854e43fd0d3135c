"""Discord's faults under the scheduled jobs not covered elsewhere: the talk timer's edits,
pairing rounds and their follow-up, a poll's automatic close, reminders when the bot loses
a permission mid-burst, DM reminders to members with closed DMs, and a rate-limited post.

Each test moves the bot's clock and runs the dispatcher itself, and asserts what people
see: each message exactly once, each edit exactly as meant, organisers told when something
cannot be done. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.client import TechMeetBot
from db.models import ScheduledJob
from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot, create
from tests.e2e.test_introductions import introduce
from tests.e2e.test_topics import ballot_topic_ids, component_ids, open_poll, suggest, vote
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember, FakeMessage
from tests.standin import permissions as perms


@dataclass
class Env:
    bot: TechMeetBot
    clock: FakeClock
    announcements: FakeChannel
    organisers: FakeChannel


@pytest.fixture
async def env(
    database_url: str,
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
) -> Env:
    """A bot on a movable clock (due jobs run when the test says), with announcements and
    organisers channels. (The database comes first so that it is dropped after the bot
    has stopped.)"""
    start, _ = bots
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    bot = await start(database_url, clock=clock)
    announcements = guild.add_text_channel("announcements")
    organisers = guild.add_text_channel("organisers")
    await standin.wait_for_gateway_idle()
    await set_channel(standin, guild, manager, "announcements", announcements)
    await set_channel(standin, guild, manager, "organisers", organisers)
    return Env(bot, clock, announcements, organisers)


async def set_channel(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    purpose: str,
    channel: FakeChannel,
) -> None:
    done = await standin.slash(guild, manager, "setup channel", purpose=purpose, channel=channel)
    assert done.content.startswith("Done"), done.content


async def run_jobs(bot: TechMeetBot) -> None:
    """Everything due now, to the end (discord.py's own retries included). A pass the
    bot's own timers started may hold the dispatcher: it looks again when done."""
    dispatcher = bot.dispatcher
    await dispatcher.run_due()
    while dispatcher._running.locked() or dispatcher._jobs:
        await dispatcher.idle()
        await asyncio.sleep(0.01)


async def jobs_of(bot: TechMeetBot, kind: str) -> list[tuple[str, str | None]]:
    """(state, result) of each job of a kind, oldest first."""
    async with bot.sessions() as session:
        rows = await session.execute(
            select(ScheduledJob.state, ScheduledJob.result)
            .where(ScheduledJob.kind == kind)
            .order_by(ScheduledJob.id)
        )
        return [(state, result) for state, result in rows]


def sent(standin: DiscordStandIn, method: str, path: str) -> int:
    """How many requests the bot made to exactly this path."""
    return sum(1 for m, p, _ in standin.requests if (m, p) == (method, path))


@dataclass(frozen=True)
class Fault:
    """One answer from Discord that is not the one the bot hoped for."""

    status: int
    lost_answer: bool = False  # Discord did the work; its answer never arrived
    retry_after: float | None = None  # a 429's wait, as Discord says it

    def inject(self, standin: DiscordStandIn, method: str, path_regex: str) -> None:
        """The next matching request meets this fault."""
        if self.retry_after is None:
            standin.fail_next(method, path_regex, self.status, after_handling=self.lost_answer)
            return
        standin.fail_next(
            method,
            path_regex,
            self.status,
            {"message": "You are being rate limited.", "retry_after": self.retry_after},
            headers={"X-RateLimit-Reset-After": str(self.retry_after)},
            after_handling=self.lost_answer,
        )


LOST_502 = Fault(502, lost_answer=True)
RATE_LIMITED = Fault(429, retry_after=0.5)
FAULTS = {"502, answer lost": LOST_502, "429 with retry_after": RATE_LIMITED}


def all_faults_met(standin: DiscordStandIn) -> None:
    """Every injected fault was met: the test exercised what it says."""
    assert [f for f in standin.rest.faults if f.times > 0] == []


def distinct(versions: list[str]) -> list[str]:
    """Consecutive repeats collapsed: a repeated identical edit is invisible to readers."""
    return [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v]


# --- the lightning-talk timer ----------------------------------------------------------------


@dataclass
class OnStage:
    talks: FakeChannel
    timer: FakeMessage
    ends: datetime


async def talk_on_stage(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, organiser: FakeMember, env: Env
) -> OnStage:
    """TechMeet #1 with one 5-minute talk, which an organiser has just put on stage."""
    talks = guild.add_text_channel("talks")
    speaker = guild.add_member("Sol Speaker")
    await standin.wait_for_gateway_idle()
    await set_channel(standin, guild, manager, "talks", talks)
    starts = env.clock.now + timedelta(days=2)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="1d")
    proposed = await standin.slash(
        guild, speaker, "talk propose", meetup=1, title="Our Wi-Fi rollout", length=5
    )
    assert "accepted" in proposed.content, proposed.content
    env.clock.now = starts + timedelta(seconds=30)
    started = await standin.slash(guild, organiser, "talk next", meetup=1)
    assert "Timer started" in started.content, started.content
    timer = await standin.wait_for_message(talks, lambda m: "On stage now" in m.content)
    await run_jobs(env.bot)  # nothing else is due yet
    return OnStage(talks, timer, env.clock.now + timedelta(minutes=5))


@pytest.mark.parametrize("fault", FAULTS)
async def test_timer_edits_land_once_through_a_fault(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
    fault: str,
) -> None:
    """Both scheduled edits of the timer meet the fault and land all the same: the timer
    reads 30 seconds left, then time's up, and there is still one timer message."""
    stage = await talk_on_stage(standin, guild, manager, organiser, env)
    path = f"/channels/{stage.talks.id}/messages/{stage.timer.id}"
    for moment, expected in (
        (stage.ends - timedelta(seconds=29), "**30 seconds left**"),
        (stage.ends, "**Time's up!**"),
    ):
        FAULTS[fault].inject(standin, "PATCH", f"^{path}$")
        env.clock.now = moment
        await run_jobs(env.bot)
        assert expected in stage.timer.content, stage.timer.content
    assert sent(standin, "PATCH", path) == 4  # each edit, and its retry after the fault
    versions = [v.content for v in [*stage.timer.edits, stage.timer]]
    assert [v.split("**")[1] for v in distinct(versions)] == [
        "On stage now",
        "30 seconds left",
        "Time's up!",
    ]
    if not FAULTS[fault].lost_answer:
        assert len(stage.timer.edits) == 2  # refused before Discord did anything
    assert stage.timer.components == []  # no Stop button once time is up
    timers = [m for m in standin.messages(stage.talks) if "Talk #1" in m.content]
    assert timers == [stage.timer]
    assert await jobs_of(env.bot, "talk-warning") == [("done", "timer of Talk #1: warning")]
    assert await jobs_of(env.bot, "talk-end") == [("done", "timer of Talk #1: up")]
    all_faults_met(standin)


async def test_a_time_up_edit_refused_by_a_5xx_lands_when_the_job_is_retried(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
) -> None:
    """A 503 (which discord.py does not retry itself) refuses the time's-up edit: the
    dispatcher retries the job a few seconds later, and the edit lands then."""
    stage = await talk_on_stage(standin, guild, manager, organiser, env)
    path = f"/channels/{stage.talks.id}/messages/{stage.timer.id}"
    env.clock.now = stage.ends - timedelta(seconds=29)
    await run_jobs(env.bot)
    assert "**30 seconds left**" in stage.timer.content
    Fault(503).inject(standin, "PATCH", f"^{path}$")
    env.clock.now = stage.ends
    await run_jobs(env.bot)
    assert "**30 seconds left**" in stage.timer.content  # refused, for now
    assert await jobs_of(env.bot, "talk-end") == [("pending", "Discord answered 503")]
    env.clock.advance(seconds=6)  # the dispatcher's first back-off is 5 s
    await run_jobs(env.bot)
    assert "**Time's up!**" in stage.timer.content, stage.timer.content
    assert stage.timer.components == []
    assert len(stage.timer.edits) == 2
    assert await jobs_of(env.bot, "talk-end") == [("done", "timer of Talk #1: up")]
    all_faults_met(standin)


# --- pairing rounds ----------------------------------------------------------------------------


@dataclass
class Pairing:
    channel: FakeChannel
    people: list[FakeMember]


async def pairing_ready(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    *,
    introduced_as: str | None = None,
) -> Pairing:
    """Four introduced members from two colleges opted in (each under their own name, or
    all under `introduced_as`); a round starts now."""
    pairing = guild.add_text_channel("pairing")
    intros = guild.add_text_channel("introductions")
    people = [guild.add_member(name) for name in ("Ada", "Bea", "Cal", "Dev")]
    await standin.wait_for_gateway_idle()
    await set_channel(standin, guild, manager, "pairing", pairing)
    await set_channel(standin, guild, manager, "introductions", intros)
    for who, college in zip(people, ["Riverside", "Riverside", "Hilltop", "Hilltop"], strict=True):
        name = introduced_as or who.name
        await introduce(standin, guild, who, name=name, organisation=college)
        joined = await standin.slash(guild, who, "pairing join")
        assert joined.content.startswith("You're in."), joined.content
    started = await standin.slash(guild, organiser, "pairing run-now")
    assert "Pairing round #1 is starting" in started.content, started.content
    return Pairing(pairing, people)


def pair_threads(guild: FakeGuild, pairing: Pairing) -> list[FakeChannel]:
    """The pairing channel's threads, as members see the list (archived ones left out)."""
    return [t for t in guild.threads if t.parent is pairing.channel and not t.archived]


def greetings(standin: DiscordStandIn, thread: FakeChannel) -> list[FakeMessage]:
    return [m for m in standin.messages(thread) if m.content.startswith("Meet each other")]


def assert_each_pair_greeted_once(
    standin: DiscordStandIn, guild: FakeGuild, pairing: Pairing
) -> list[FakeChannel]:
    threads = pair_threads(guild, pairing)
    assert len(threads) == 2, [(t.name, t.thread_members) for t in threads]
    paired = sorted(m for t in threads for m in t.thread_members)
    assert paired == sorted(p.id for p in pairing.people)
    for thread in threads:
        assert len(greetings(standin, thread)) == 1, standin.messages(thread)
        assert len([m for m in standin.messages(thread) if m.embeds]) == 2  # both intros
    for who in pairing.people:  # introduced in the thread, so not by DM as well
        assert not [m for m in standin.dm_messages(who) if "Meet each other" in m.content]
    return threads


THREAD_FAULTS = {
    # discord.py sends it again and Discord makes a second thread: the empty first one is
    # archived (the bot may not delete it).
    "502, answer lost (discord.py re-sends it)": LOST_502,
    "503, refused (the job is retried)": Fault(503),
}


@pytest.mark.parametrize("fault", THREAD_FAULTS.values(), ids=THREAD_FAULTS.keys())
async def test_a_pair_thread_is_made_once_through_a_fault(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
    fault: Fault,
) -> None:
    """Creating the first pair's private thread meets the fault: the round still ends with
    one thread per pair, each with its pair in it and one greeting, and no DMs. Any
    thread left behind is archived, empty and with nobody added."""
    pairing = await pairing_ready(standin, guild, manager, organiser)
    fault.inject(standin, "POST", rf"^/channels/{pairing.channel.id}/threads$")
    await run_jobs(env.bot)
    env.clock.advance(seconds=6)  # past the dispatcher's first back-off, if it retried
    await run_jobs(env.bot)
    assert_each_pair_greeted_once(standin, guild, pairing)
    strays = [t for t in guild.threads if t.parent is pairing.channel and t.archived]
    assert len(strays) == (1 if fault is LOST_502 else 0)
    assert all(not standin.messages(t) and not t.thread_members for t in strays)
    assert await jobs_of(env.bot, "pairing-round") == [("done", "introduced 2 pair(s)")]
    all_faults_met(standin)


async def test_a_retried_round_keeps_a_pair_thread_that_shares_its_name(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
) -> None:
    """Everyone introduced as "Sam": both pairs' threads are "Round 1: Sam & Sam". The second
    thread is refused (503), so the round is tried again and opens it then: the first pair's
    thread, from the earlier run, is theirs and stays open (it is no stray to archive)."""
    pairing = await pairing_ready(standin, guild, manager, organiser, introduced_as="Sam")
    made = standin.thread_created

    def refuse_the_second(thread: FakeChannel) -> None:
        made(thread)
        if len(pair_threads(guild, pairing)) == 1:
            standin.fail_next("POST", rf"^/channels/{pairing.channel.id}/threads$", 503)

    standin.thread_created = refuse_the_second  # type: ignore[method-assign]
    await run_jobs(env.bot)
    env.clock.advance(seconds=6)  # past the dispatcher's first back-off
    await run_jobs(env.bot)
    threads = assert_each_pair_greeted_once(standin, guild, pairing)
    assert {t.name for t in threads} == {"Round 1: Sam & Sam"}
    assert not [t for t in guild.threads if t.archived]
    # The run that was tried again introduced the pair still waiting.
    assert await jobs_of(env.bot, "pairing-round") == [("done", "introduced 1 pair(s)")]
    all_faults_met(standin)


@pytest.mark.parametrize("fault", FAULTS)
async def test_pair_greetings_and_the_follow_up_arrive_once_through_faults(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
    fault: str,
) -> None:
    """The first greeting meets the fault; a week later so does the first "Did you meet?"
    question. Each pair still sees one greeting and one question."""
    pairing = await pairing_ready(standin, guild, manager, organiser)
    posts = r"^/channels/\d+/messages$"
    FAULTS[fault].inject(standin, "POST", posts)
    await run_jobs(env.bot)
    threads = assert_each_pair_greeted_once(standin, guild, pairing)

    env.clock.advance(days=7, minutes=1)
    FAULTS[fault].inject(standin, "POST", posts)
    await run_jobs(env.bot)
    for thread in threads:
        asked = [m for m in standin.messages(thread) if "did you manage to meet" in m.content]
        assert len(asked) == 1, standin.messages(thread)
        assert {u.id for u in asked[0].mentions} == thread.thread_members
    assert await jobs_of(env.bot, "pairing-follow-up") == [("done", "asked 2 pair(s)")]
    all_faults_met(standin)


# --- a poll's automatic close -----------------------------------------------------------------

CLOSE_FAULTS = {
    **FAULTS,
    "503, answer lost (the job is retried)": Fault(503, lost_answer=True),
}


@pytest.mark.parametrize("fault", CLOSE_FAULTS)
async def test_poll_results_appear_once_through_a_fault(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    env: Env,
    fault: str,
) -> None:
    """The poll closes itself at its time; the results post meets the fault and the poll's
    own edit (button off) is rate limited. The thread shows one results post, and the
    poll's Vote button ends up disabled."""
    announcement = await create(standin, guild, organiser)
    thread = announcement.thread
    assert thread is not None
    await suggest(standin, guild, member, "Eduroam certificate renewals")
    await suggest(standin, guild, organiser, "Intune for student laptops")
    poll = await open_poll(standin, guild, organiser, thread, closes="1h")
    [vote_button] = component_ids(poll)
    ids = ballot_topic_ids(await standin.click(poll, vote_button, member))
    await vote(standin, poll, member, ids["Intune for student laptops"])
    await standin.wait_until(lambda: poll.edits or None, 5, lambda: "the tally was not shown")

    CLOSE_FAULTS[fault].inject(standin, "POST", rf"^/channels/{thread.id}/messages$")
    RATE_LIMITED.inject(standin, "PATCH", rf"^/channels/{thread.id}/messages/{poll.id}$")
    env.clock.advance(hours=1, seconds=1)
    await run_jobs(env.bot)
    if CLOSE_FAULTS[fault].status == 503:
        assert await jobs_of(env.bot, "poll-close") == [("pending", "Discord answered 503")]
        env.clock.advance(seconds=6)  # the dispatcher's first back-off is 5 s
        await run_jobs(env.bot)

    def is_results(message: FakeMessage) -> bool:
        return bool(message.embeds) and message.embeds[0]["title"].startswith("The agenda")

    results = await standin.wait_for_message(thread, is_results)
    assert results.embeds[0]["description"].startswith("1. #2 · Intune for student laptops")
    assert [m for m in standin.messages(thread) if is_results(m)] == [results]

    def vote_disabled() -> bool | None:
        [button] = [c for row in poll.components for c in row["components"]]
        return True if button.get("disabled") else None

    await standin.wait_until(vote_disabled, 5, lambda: f"poll still open: {poll.components}")
    assert await jobs_of(env.bot, "poll-close") == [("done", "closed; 1 topics on the agenda")]
    all_faults_met(standin)


# --- meetup reminders: a lost permission, closed DMs, a rate limit ----------------------------


def reminders_in(standin: DiscordStandIn, channel: FakeChannel) -> dict[str, int]:
    """How many reminders each meetup got in the channel, by "TechMeet #n"."""
    counts: dict[str, int] = {}
    for message in standin.messages(channel):
        if message.content.startswith("Reminder: **TechMeet #"):
            number = message.content.split("**")[1]
            counts[number] = counts.get(number, 0) + 1
    return counts


async def meetups_at_the_same_time(
    standin: DiscordStandIn, guild: FakeGuild, organiser: FakeMember, env: Env, count: int
) -> datetime:
    """`count` meetups starting at the same moment, each with a 1-hour reminder; the clock
    is moved to that reminder's time. Returns the start."""
    starts = env.clock.now + timedelta(days=2)
    for n in range(count):
        await create(
            standin,
            guild,
            organiser,
            title=f"Meetup {n + 1}",
            when=starts.isoformat(),
            reminders="1h",
        )
    env.clock.now = starts - timedelta(hours=1)
    return starts


async def test_a_permission_lost_before_the_reminders_fails_them_and_tells_organisers(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    env: Env,
) -> None:
    """The bot may no longer post in the announcements channel when three reminders fall
    due: nothing crashes, nothing is posted, organisers are told about each reminder and
    what to do, and /techmeet info shows each as failed. Failed is final (Discord's 403 is
    not retried): restoring the permission brings no late burst, and organisers know."""
    await meetups_at_the_same_time(standin, guild, organiser, env, 3)
    env.announcements.set_overwrite(guild.bot_role, deny=perms.SEND_MESSAGES)
    await standin.wait_for_gateway_idle()
    await run_jobs(env.bot)
    assert reminders_in(standin, env.announcements) == {}
    assert [s for s, _ in await jobs_of(env.bot, "reminder")] == ["failed"] * 3
    await assert_organisers_told(standin, env, ["TechMeet #1", "TechMeet #2", "TechMeet #3"])
    # The report names the channel to fix (a mention shows its name).
    [report] = standin.messages(env.organisers)
    assert report.content.count(f"lacks a permission in <#{env.announcements.id}>") == 3

    env.announcements.remove_overwrite(guild.bot_role)
    await standin.wait_for_gateway_idle()
    env.clock.advance(minutes=1)
    await run_jobs(env.bot)
    assert reminders_in(standin, env.announcements) == {}
    for number in (1, 2, 3):
        info = await standin.slash(guild, organiser, "techmeet info", meetup=number)
        assert "**failed**" in info.embeds[0]["fields"][-1]["value"]


async def test_a_permission_lost_mid_burst_keeps_what_was_posted(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    env: Env,
) -> None:
    """Three reminders fall due together; the channel lets one through at once (Discord's
    5-per-5-s limit, tightened), and the permission goes while the others wait. The first
    reminder stays posted once; the other two fail and the organisers hear of both."""
    await meetups_at_the_same_time(standin, guild, organiser, env, 3)
    standin.rate_limit(rf"^/channels/{env.announcements.id}/messages$", 1, 2.0)
    burst = asyncio.create_task(run_jobs(env.bot))
    first = await standin.wait_for_message(
        env.announcements, lambda m: m.content.startswith("Reminder"), timeout=5
    )
    env.announcements.set_overwrite(guild.bot_role, deny=perms.SEND_MESSAGES)
    await burst
    counts = reminders_in(standin, env.announcements)
    assert counts == {first.content.split("**")[1]: 1}
    states = [s for s, _ in await jobs_of(env.bot, "reminder")]
    assert sorted(states) == ["done", "failed", "failed"]
    failed = [f"TechMeet #{n}" for n in (1, 2, 3) if f"TechMeet #{n}" not in counts]
    await assert_organisers_told(standin, env, failed)


async def test_a_burst_of_failed_reminders_is_one_message_to_organisers(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    env: Env,
) -> None:
    """Three reminders refused for the same reason at the same moment make one message in
    the organisers channel that names all three, not three messages."""
    await meetups_at_the_same_time(standin, guild, organiser, env, 3)
    env.announcements.set_overwrite(guild.bot_role, deny=perms.SEND_MESSAGES)
    await standin.wait_for_gateway_idle()
    await run_jobs(env.bot)
    await assert_organisers_told(standin, env, ["TechMeet #1", "TechMeet #2", "TechMeet #3"])
    assert len(standin.messages(env.organisers)) == 1, [
        m.content for m in standin.messages(env.organisers)
    ]


async def assert_organisers_told(standin: DiscordStandIn, env: Env, meetups: list[str]) -> None:
    """The organisers channel names each reminder that could not be posted, once, says
    what to do, and shows no internals."""

    def named() -> list[str]:
        text = "\n".join(m.content for m in standin.messages(env.organisers))
        return [m for m in meetups if f"1h reminder for {m} " in text]

    await standin.wait_until(
        lambda: True if len(named()) == len(meetups) else None,
        10,
        lambda: f"organisers heard of {named()} of {meetups}",
    )
    await standin.wait_for_gateway_idle()
    await asyncio.sleep(0.5)  # a repeated report would be on its way by now
    reports = standin.messages(env.organisers)
    text = "\n".join(m.content for m in reports)
    for meetup in meetups:
        assert text.count(f"1h reminder for {meetup} ") == 1, text
    for report in reports:
        assert "could not be done" in report.content
        assert "permission" in report.content
        assert "`/setup channel`" in report.content
        for internal in ("Traceback", "Forbidden", "50013", "HTTPException", "job "):
            assert internal not in report.content


async def test_closed_dms_do_not_stop_the_other_reminder_dms(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    env: Env,
) -> None:
    """Eight attendees asked for DM reminders; two have closed their DMs and one DM's answer
    is lost (502). Everyone else gets the DM exactly once, the channel reminder is posted
    once, and organisers are not bothered about anyone's DM settings."""
    starts = env.clock.now + timedelta(days=2)
    announcement = await create(standin, guild, organiser, when=starts.isoformat(), reminders="1h")
    attendees = [guild.add_member(f"Attendee {n}") for n in range(8)]
    closed = attendees[2:4]
    for who in closed:
        standin.close_dms(who)
    await standin.wait_for_gateway_idle()
    meetup_id = next(c for c in component_ids(announcement) if c.endswith(":going")).split(":")[1]
    for who in attendees:
        on = await standin.slash(guild, who, "techmeet remind-me", setting="on")
        assert "by DM" in on.content
        await standin.click(announcement, f"rsvp:{meetup_id}:going", who)
    lost = standin.dm_channel(attendees[5].user)
    LOST_502.inject(standin, "POST", rf"^/channels/{lost.id}/messages$")

    env.clock.now = starts - timedelta(hours=1)
    await run_jobs(env.bot)
    open_dms = [who for who in attendees if who not in closed]

    def reminded() -> list[FakeMember]:
        return [
            who
            for who in open_dms
            if any(m.content.startswith("Reminder") for m in standin.dm_messages(who))
        ]

    await standin.wait_until(
        lambda: True if len(reminded()) == len(open_dms) else None,
        10,
        lambda: f"reminded {len(reminded())} of {len(open_dms)}",
    )
    await asyncio.sleep(1.5)  # discord.py's retry of the lost DM comes about a second later
    for who in open_dms:
        dms = [m for m in standin.dm_messages(who) if m.content.startswith("Reminder")]
        assert len(dms) == 1, (who.name, [m.content for m in dms])
    for who in closed:
        assert standin.dm_messages(who) == []
    assert reminders_in(standin, env.announcements) == {"TechMeet #1": 1}
    assert standin.messages(env.organisers) == []
    assert sent(standin, "POST", f"/channels/{lost.id}/messages") == 2
    all_faults_met(standin)


async def test_a_rate_limited_reminder_is_posted_once_after_the_wait(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    env: Env,
) -> None:
    """Something else used the channel's budget (say a second bot process): the reminder
    gets one 429, waits the retry_after Discord gave, and is posted once. No flood."""
    starts = env.clock.now + timedelta(days=2)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="1h")
    path = f"/channels/{env.announcements.id}/messages"
    standin.rate_limit(f"^{path}$", 1, 2.5)
    async with aiohttp.ClientSession() as session:
        taken = await session.post(
            standin.api_base + path,
            json={"content": "Someone else's post"},
            headers={"Authorization": f"Bot {standin.token}"},
        )
        assert taken.status == 200
    before = sent(standin, "POST", path)
    env.clock.now = starts - timedelta(hours=1)
    await run_jobs(env.bot)
    assert reminders_in(standin, env.announcements) == {"TechMeet #1": 1}
    # One 429: a retry before Discord's retry_after had passed would have met another.
    assert standin.rate_limited == 1
    assert sent(standin, "POST", path) - before == 2  # the refused try and the one that counted
    assert [s for s, _ in await jobs_of(env.bot, "reminder")] == ["done"]


async def test_a_follow_up_retried_for_a_thread_does_not_ask_dm_pairs_twice(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    env: Env,
) -> None:
    """A round with one pair in a thread and one by DM (its thread could not be made). A
    week on, the DM pair is asked first; then Discord refuses the thread's question for a
    moment (503) and the job is retried: the DM pair is still asked once."""
    threads = r"^/channels/\d+/threads$"
    standin.fail_next("POST", threads, 403)  # the first pair's thread: no permission
    pairing = await pairing_ready(standin, guild, manager, organiser)
    await run_jobs(env.bot)
    [thread] = pair_threads(guild, pairing)
    by_dm = [p for p in pairing.people if p.id not in thread.thread_members]
    assert len(by_dm) == 2
    standin.problems.clear()  # the 403 above was ours

    env.clock.advance(days=7, minutes=1)
    standin.fail_next("POST", rf"^/channels/{thread.id}/messages$", 503)
    await run_jobs(env.bot)
    env.clock.advance(seconds=6)  # past the dispatcher's first back-off
    await run_jobs(env.bot)
    for who in by_dm:
        asked = [m for m in standin.dm_messages(who) if "did you manage to meet" in m.content]
        assert len(asked) == 1, [m.content for m in standin.dm_messages(who)]
    assert len([m for m in standin.messages(thread) if "did you manage" in m.content]) == 1
    assert await jobs_of(env.bot, "pairing-follow-up") == [("done", "asked 2 pair(s)")]
    all_faults_met(standin)
