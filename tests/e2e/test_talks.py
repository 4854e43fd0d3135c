"""/talk through the Discord stand-in: proposals, reserves, review, the line-up, the timer
on the night and speaker reminders across a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.client import TechMeetBot
from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot, create, custom_ids
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def starts() -> datetime:
    """The meetup's start: three days ahead, 18:00 London time (on the minute)."""
    day = datetime.now(LONDON) + timedelta(days=3)
    return day.replace(hour=18, minute=0, second=0, microsecond=0).astimezone(UTC)


@pytest.fixture
async def night(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    organiser: FakeMember,
    bots: tuple[StartBot, StopBot],
    starts: datetime,
) -> tuple[TechMeetBot, FakeClock, FakeChannel]:
    """A bot on a movable clock, announcements and talks channels, and TechMeet #1."""
    start, _ = bots
    clock = FakeClock(datetime.now(UTC))
    bot = await start(clock=clock)
    announcements = guild.add_text_channel("announcements")
    talks = guild.add_text_channel("talks")
    await standin.wait_for_gateway_idle()
    for purpose, channel in (("announcements", announcements), ("talks", talks)):
        done = await standin.slash(
            guild, manager, "setup channel", purpose=purpose, channel=channel
        )
        assert done.content.startswith("Done"), done.content
    await create(standin, guild, organiser, when=starts.isoformat(), title="Talks night")
    return bot, clock, talks


async def propose(
    standin: DiscordStandIn, guild: FakeGuild, who: FakeMember, title: str, length: int = 5
) -> str:
    reply = await standin.slash(guild, who, "talk propose", meetup=1, title=title, length=length)
    assert reply.ephemeral
    return reply.content


def at(when: datetime) -> str:
    return f"`{when.astimezone(LONDON):%H:%M}`"


async def test_from_proposals_to_the_night(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    bots: tuple[StartBot, StopBot],
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
    starts: datetime,
) -> None:
    """Settings → proposals → reserve → withdraw promotes → line-up with London times →
    speaker reminder once across a restart → /talk next timer, edited twice → archive."""
    bot, clock, talks = night
    start, stop = bots
    ada, bea, cal, dev = (guild.add_member(n) for n in ("Ada", "Bea", "Cal", "Dev"))
    await standin.wait_for_gateway_idle()

    settings = await standin.slash(guild, organiser, "talk settings", meetup=1, budget=12)
    assert settings.content.startswith("Saved"), settings.content
    budget = next(f for f in settings.embeds[0]["fields"] if f["name"] == "Budget")
    assert budget["value"] == "0 of 12 minutes taken"

    assert "accepted for TechMeet #1" in await propose(standin, guild, ada, "VLANs for BYOD")
    assert "accepted" in await propose(standin, guild, bea, "Imaging 300 laptops", length=7)
    # All 12 minutes are taken: the next talks wait on the reserve list, in arrival order.
    assert "reserve list for TechMeet #1, 1st in line" in await propose(
        standin, guild, cal, "Moodle backups", length=7
    )
    assert "2nd in line" in await propose(standin, guild, dev, "Label printers")

    # 5 minutes free up: Cal's 7 don't fit, so Dev's 5 (next in order that fits) get in.
    withdrawn = await standin.slash(guild, ada, "talk withdraw", talk=1)
    assert "Its minutes went to 1 reserve talk." in withdrawn.content
    told = await standin.wait_for_dm(dev, lambda m: "now **accepted**" in m.content)
    assert "Talk #4" in told.content
    mine = await standin.slash(guild, cal, "talk mine")
    assert "1st in line" in mine.content
    # A bigger budget lets Cal in too.
    raised = await standin.slash(guild, organiser, "talk settings", meetup=1, budget=19)
    assert "1 reserve talk moved up" in raised.content
    await standin.wait_for_dm(cal, lambda m: "now **accepted**" in m.content)

    lineup = await standin.slash(guild, organiser, "talk lineup", meetup=1)
    assert "Posted the line-up" in lineup.content
    post = await standin.wait_for_message(talks, lambda m: "Running order" in m.content)
    # Bea 18:00-18:07, a minute's changeover, Dev 18:08-18:13, Cal 18:14.
    lines = post.content.splitlines()[1:]
    assert lines[0].startswith(f"1. {at(starts)} **Talk #2**")
    assert lines[1].startswith(f"2. {at(starts + timedelta(minutes=8))} **Talk #4**")
    assert lines[2].startswith(f"3. {at(starts + timedelta(minutes=14))} **Talk #3**")
    assert {u.id for u in post.mentions} == {bea.id, cal.id, dev.id}
    assert post.mention_roles == []
    assert not post.mention_everyone
    info = await standin.slash(guild, cal, "techmeet info", meetup=1)
    [talks_field] = [f for f in info.embeds[0]["fields"] if f["name"] == "Lightning talks"]
    assert talks_field["value"].startswith("3 accepted (19 of 19 min)")

    # The day before: each accepted speaker hears their slot, once, even across a restart.
    clock.now = starts - timedelta(days=1) + timedelta(seconds=1)
    await bot.dispatcher.run_due()
    reminder = await standin.wait_for_dm(cal, lambda m: m.content.startswith("Reminder"))
    assert f"<t:{int((starts + timedelta(minutes=14)).timestamp())}:f>" in reminder.content
    await stop(bot)
    bot = await start(bot.settings.database_url, clock=clock)
    await bot.dispatcher.run_due()
    await standin.wait_for_gateway_idle()
    for who in (bea, cal, dev):
        reminders = [m for m in standin.dm_messages(who) if m.content.startswith("Reminder")]
        assert len(reminders) == 1, [m.content for m in reminders]
    assert not [m for m in standin.dm_messages(ada) if m.content.startswith("Reminder")]

    # On the night.
    clock.now = starts + timedelta(seconds=30)
    started = await standin.slash(guild, organiser, "talk next", meetup=1)
    assert "Timer started" in started.content
    assert "Up next: **Talk #4**" in started.content
    timer = await standin.wait_for_message(talks, lambda m: "On stage now" in m.content)
    ends = clock.now + timedelta(minutes=7)
    assert f"<t:{int(ends.timestamp())}:R>" in timer.content
    assert [u.id for u in timer.mentions] == [bea.id]
    assert custom_ids(timer) == ["talk:stop:2"]
    await bot.dispatcher.run_due()  # the test's clock is not the timers' clock
    up_next = await standin.wait_for_dm(dev, lambda m: "up next" in m.content)
    assert "Talk #4" in up_next.content

    clock.now = ends - timedelta(seconds=29)
    await bot.dispatcher.run_due()
    await standin.wait_until(
        lambda: timer.content if "30 seconds left" in timer.content else None,
        5,
        lambda: f"no warning edit: {timer.content}",
    )
    assert custom_ids(timer) == ["talk:stop:2"]
    clock.now = ends
    await bot.dispatcher.run_due()
    await standin.wait_until(
        lambda: timer.content if "**Time's up!**" in timer.content else None,
        5,
        lambda: f"no time's-up edit: {timer.content}",
    )
    assert timer.components == []
    await bot.dispatcher.run_due()
    await standin.wait_for_gateway_idle()
    assert len(timer.edits) == 2  # two edits a talk, whatever its length

    clock.now = ends + timedelta(minutes=1)
    await standin.slash(guild, organiser, "talk next", meetup=1)
    second = await standin.wait_for_message(
        talks, lambda m: "On stage now" in m.content and m.id != timer.id
    )
    assert "Talk #4" in second.content
    not_allowed = await standin.click(second, "talk:stop:4", cal)
    assert "Only organisers or the speaker" in not_allowed.content
    stopped = await standin.click(second, "talk:stop:4", dev)
    assert "Timer stopped" in second.content, stopped.content
    assert second.components == []
    clock.now += timedelta(minutes=10)
    await bot.dispatcher.run_due()  # its cancelled warning and end change nothing
    assert len(second.edits) == 1

    await standin.slash(guild, organiser, "talk next", meetup=1)
    third = await standin.wait_for_message(
        talks, lambda m: "Talk #3" in m.content and "On stage" in m.content
    )
    done = await standin.slash(guild, organiser, "talk next", meetup=1)
    assert "That was the last talk" in done.content
    assert "Finished" in third.content  # the last call closed the running timer
    again = await standin.slash(guild, organiser, "talk next", meetup=1)
    assert "That's the lot" in again.content

    archived = await standin.slash(guild, organiser, "talk archive", meetup=1)
    assert "Posted the archive" in archived.content
    archive = await standin.wait_for_message(talks, lambda m: "The talks from" in m.content)
    assert archive.content.index("Talk #2") < archive.content.index("Talk #3")
    assert "VLANs" not in archive.content  # withdrawn
    assert archive.mentions == []


async def test_review_accept_and_decline_with_a_reason(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """Review mode: proposals wait, five to a page; Accept is refused when the talk no
    longer fits; Decline asks for a reason, which the speaker receives."""
    await standin.slash(guild, organiser, "talk settings", meetup=1, approval="review", budget=10)
    speakers = [guild.add_member(f"Speaker {i}") for i in range(7)]
    await standin.wait_for_gateway_idle()
    for i, who in enumerate(speakers):
        assert "waiting for an organiser" in await propose(standin, guild, who, f"Talk idea {i}")

    page = await standin.slash(guild, organiser, "talk review", meetup=1)
    assert len(page.embeds[0]["fields"]) == 5
    assert len(page.components) == 5  # Discord's limit: one row per proposal
    assert page.embeds[0]["footer"]["text"] == "Page 1 of 2"
    ids = custom_ids(page)
    assert ids[:2] == ["talk:accept:1:1", "talk:decline:1:1"]
    turned = await standin.click(page, "talk:review:1:1:Next", organiser)
    assert [f["name"] for f in turned.embeds[0]["fields"]] == [
        "Talk #6 · 5 min",
        "Talk #7 · 5 min",
    ]
    back = await standin.click(page, "talk:review:1:0:Previous", organiser)
    assert back.embeds[0]["fields"][0]["name"] == "Talk #1 · 5 min"

    member = speakers[0]
    refused = await standin.slash(guild, member, "talk review", meetup=1)
    assert "Only organisers" in refused.content

    await standin.click(page, "talk:accept:1:1", organiser)
    await standin.click(page, "talk:accept:2:2", organiser)
    accepted = await standin.wait_for_dm(speakers[0], lambda m: "**accepted**" in m.content)
    assert "Talk #1" in accepted.content
    full = await standin.click(page, "talk:accept:3:3", organiser)
    assert "no longer fits: 0 minutes are left" in full.content

    modal = await standin.click(page, "talk:decline:3:3", organiser)
    assert modal.modal is not None
    [field_id] = [
        c["custom_id"]
        for row in modal.modal["components"]
        for c in (row.get("components") or [row.get("component", {})])
        if "custom_id" in c
    ]
    declined = await standin.submit_modal(
        modal, organiser, {field_id: "Covered last month @everyone [x](https://evil.example)"}
    )
    assert "Declined" in declined.content
    told = await standin.wait_for_dm(speakers[2], lambda m: "declined" in m.content)
    assert "Covered last month" in told.content
    assert "](https" not in told.content  # never a masked link
    listed = await standin.slash(guild, organiser, "talk list", meetup=1)
    names = [f["name"] for f in listed.embeds[0]["fields"]]
    assert names == ["Accepted (2)", "Waiting for review (4)"]


async def test_bad_input_changes_nothing(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
    starts: datetime,
) -> None:
    """Each mistake gets a short ephemeral answer saying what to do, and nothing changes."""
    bot, _, _ = night
    other = guild.add_member("Other")
    await standin.wait_for_gateway_idle()
    cases: list[tuple[FakeMember, str, dict[str, object], str]] = [
        (member, "talk propose", {"meetup": 1, "title": "Six minutes", "length": 6}, "not one of"),
        (
            member,
            "talk propose",
            {"meetup": 1, "title": "Slides", "length": 5, "slides_url": "javascript:alert(1)"},
            "https://",
        ),
        (member, "talk propose", {"meetup": 9, "title": "Nowhere", "length": 5}, "no TechMeet #9"),
        (
            organiser,
            "talk settings",
            {"meetup": 1, "deadline": (starts + timedelta(hours=1)).isoformat()},
            "before the TechMeet starts",
        ),
        (organiser, "talk settings", {"meetup": 1, "lengths": "2,fish"}, "separated by commas"),
        (member, "talk settings", {"meetup": 1, "budget": 60}, "Only organisers"),
    ]
    for who, command, options, expected in cases:
        answer = await standin.slash(guild, who, command, options=options)
        assert answer.ephemeral
        assert expected in answer.content, (command, options, answer.content)
    assert (await bot.talks.lineup(guild.id, 1)).talks == []

    await propose(standin, guild, member, "Mine", length=7)
    await propose(standin, guild, organiser, "Also accepted", length=7)
    mistakes: list[tuple[FakeMember, str, dict[str, object], str]] = [
        (other, "talk withdraw", {"talk": 1}, "isn't yours"),
        (other, "talk edit", {"talk": 1, "title": "Hijacked"}, "isn't yours"),
        (organiser, "talk settings", {"meetup": 1, "budget": 10}, "already take 14 minutes"),
        (member, "talk edit", {"talk": 1, "length": 30}, "not one of"),
    ]
    for who, command, options, expected in mistakes:
        answer = await standin.slash(guild, who, command, options=options)
        assert expected in answer.content, (command, answer.content)
    lineup = await bot.talks.lineup(guild.id, 1)
    assert [(t.title, t.length) for t in lineup.talks] == [("Mine", 7), ("Also accepted", 7)]
    assert lineup.budget == 40


async def test_draw_mode_and_inert_titles(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
    starts: datetime,
) -> None:
    """In draw mode the line-up has no times; each /talk next draws one, and whoever was
    told they're up next is the one who goes on. Titles never ping or link."""
    bot, clock, talks = night
    speakers = [guild.add_member(f"Speaker {i}") for i in range(3)]
    await standin.wait_for_gateway_idle()
    await propose(standin, guild, speakers[0], "@everyone look [here](https://evil.example)")
    await propose(standin, guild, speakers[1], "<@&123> roles")
    await propose(standin, guild, speakers[2], "Plain")
    await standin.slash(guild, organiser, "talk order", meetup=1, mode="draw")
    await standin.slash(guild, organiser, "talk lineup", meetup=1)
    post = await standin.wait_for_message(talks, lambda m: "drawn live" in m.content)
    assert "`" not in post.content.split("\n", 1)[1]  # no planned times
    assert not post.mention_everyone
    assert post.mention_roles == []
    assert "](https" not in post.content

    clock.now = starts
    first = await standin.slash(guild, organiser, "talk next", meetup=1)
    assert "Up next" in first.content
    first_timer = await standin.wait_for_message(talks, lambda m: "On stage now" in m.content)
    await bot.dispatcher.run_due()

    def told() -> list[FakeMember]:
        return [
            who for who in speakers if any("up next" in m.content for m in standin.dm_messages(who))
        ]

    await standin.wait_until(lambda: told() or None, 5, lambda: "nobody was told they're next")
    [nxt] = told()
    assert f"<@{nxt.id}>" not in first_timer.content
    await standin.slash(guild, organiser, "talk next", meetup=1)
    second = await standin.wait_for_message(
        talks, lambda m: "On stage now" in m.content and m.id != first_timer.id
    )
    assert f"<@{nxt.id}>" in second.content
    assert "Finished" in first_timer.content


async def test_a_speaker_reminder_whose_answer_is_lost_arrives_once(
    standin: DiscordStandIn,
    guild: FakeGuild,
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
    starts: datetime,
) -> None:
    """Discord stores the speaker's DM but the answer is lost (502): discord.py sends it
    again with the same nonce, so the speaker sees one reminder."""
    bot, clock, _ = night
    speaker = guild.add_member("Sol Speaker")
    await standin.wait_for_gateway_idle()
    await propose(standin, guild, speaker, "Our Wi-Fi rollout")
    dm = standin.dm_channel(speaker.user)
    standin.fail_next("POST", rf"^/channels/{dm.id}/messages$", 502, after_handling=True)
    clock.now = starts - timedelta(days=1) + timedelta(seconds=1)
    await bot.dispatcher.run_due()
    await standin.wait_for_dm(speaker, lambda m: m.content.startswith("Reminder"))
    await asyncio.sleep(2)  # discord.py's retry comes about a second later
    sends = [r for r in standin.requests if r[:2] == ("POST", f"/channels/{dm.id}/messages")]
    reminders = [m for m in standin.dm_messages(speaker) if m.content.startswith("Reminder")]
    assert len(sends) >= 2  # the send whose answer was lost, and its retry
    assert len(reminders) == 1
    standin.problems.clear()  # the injected 502 is recorded as a problem


async def test_a_speaker_with_two_talks_is_pinged_once_in_the_line_up(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    night: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """A member may give two talks on one night (say their own, and a topic they lead):
    the line-up lists both and mentions them once (Discord refuses a user listed twice in
    allowed_mentions, which made /talk lineup fail)."""
    _, _, talks = night
    ada = guild.add_member("Ada")
    await standin.wait_for_gateway_idle()
    assert "accepted" in await propose(standin, guild, ada, "VLANs for BYOD")
    assert "accepted" in await propose(standin, guild, ada, "Label printers")
    lineup = await standin.slash(guild, organiser, "talk lineup", meetup=1)
    assert "Posted the line-up" in lineup.content, lineup.content
    post = await standin.wait_for_message(talks, lambda m: "Running order" in m.content)
    assert "VLANs for BYOD" in post.content
    assert "Label printers" in post.content
    assert [u.id for u in post.mentions] == [ada.id]
