"""/techmeet through the Discord stand-in, as organisers and members use it."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import discord
import pytest

from bot.client import TechMeetBot
from bot.domain.meetups import RsvpStatus
from bot.domain.members import Actor
from bot.scheduler import LEASE
from bot.services.meetups import MeetupDraft
from tests.clock import FakeClock
from tests.e2e.conftest import (
    MANAGE_EVENTS,
    MANAGE_GUILD,
    StartBot,
    StopBot,
    create,
    custom_ids,
    fields,
    iso_in,
)
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember, FakeMessage
from tests.standin.permissions import BOT_DEFAULT

CREATE_EVENTS = discord.Permissions(create_events=True).value


@pytest.fixture
def guild(standin: DiscordStandIn) -> FakeGuild:
    return standin.add_guild("FE Technicians", bot_permissions=BOT_DEFAULT | CREATE_EVENTS)


async def test_create_posts_an_announcement_with_buttons(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """The announcement shows the time as a Discord timestamp, counts and RSVP buttons."""
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=6)
    message = await create(
        standin, guild, organiser, when=when.isoformat(), venue="Room B12", capacity=20
    )
    assert message.channel_id == announcements.id
    embed = message.embeds[0]
    assert embed["title"] == "TechMeet #1: Network monitoring night"
    stamp = int(when.timestamp())
    assert f"<t:{stamp}:F>" in fields(message)["When"]
    assert f"<t:{stamp}:R>" in fields(message)["When"]
    assert fields(message)["Venue"] == "Room B12"
    assert "**0** going of 20" in fields(message)["RSVPs"]
    assert custom_ids(message) == [
        f"rsvp:{_meetup_id(message)}:going",
        f"rsvp:{_meetup_id(message)}:maybe",
        f"rsvp:{_meetup_id(message)}:no",
        f"rsvp:{_meetup_id(message)}:who",
        f"cal:{_meetup_id(message)}",
    ]
    assert message.allowed_mentions == {"parse": []}  # no ping role set: pings nobody
    assert message.thread is not None  # follow-ups go in the meetup's own thread
    [event] = guild.upcoming_events()
    assert event["name"] == "TechMeet #1: Network monitoring night"
    assert "not an RSVP" in event["description"]
    assert event["entity_metadata"]["location"] == "Room B12"


def _meetup_id(message: FakeMessage) -> int:
    return int(custom_ids(message)[0].split(":")[1])


async def test_rsvp_clicks_are_answered_privately_and_counted(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Each click gets a private answer; the shared message is edited with the true counts."""
    message = await create(standin, guild, organiser, capacity=1)
    meetup_id = _meetup_id(message)
    ada, bob = guild.add_member("Ada"), guild.add_member("Bob")
    await standin.wait_for_gateway_idle()
    first = await standin.click(message, f"rsvp:{meetup_id}:going", ada)
    assert first.ephemeral
    assert "You're going to TechMeet #1" in first.content
    second = await standin.click(message, f"rsvp:{meetup_id}:going", bob)
    assert "waitlist, position 1" in second.content
    maybe = await standin.click(message, f"rsvp:{meetup_id}:maybe", ada)
    assert "maybe" in maybe.content
    # Bob was promoted: he hears it by DM.
    dm = await standin.wait_for_dm(bob)
    assert "you're now **going** to TechMeet #1" in dm.content

    def counted() -> bool | None:
        latest = standin.find_message(message.id)
        rsvps = fields(latest)["RSVPs"] if latest and latest.embeds else ""
        return ("**1** going of 1" in rsvps and "**1** maybe" in rsvps) or None

    # The coalesced edit ends on the true counts.
    await standin.wait_until(counted, 5, lambda: "the announcement's counts")
    who = await standin.click(message, f"rsvp:{meetup_id}:who", ada)
    assert f"<@{bob.id}>" in who.embeds[0]["description"]
    assert who.allowed_mentions == {"parse": []}


async def test_add_to_calendar(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    member: FakeMember,
    bot: TechMeetBot,
) -> None:
    """The calendar button gives an .ics file and Google/Outlook links."""
    message = await create(standin, guild, organiser)
    reply = await standin.click(message, f"cal:{_meetup_id(message)}", member)
    assert reply.ephemeral
    [(name, data)] = reply.attachments
    assert name == "techmeet-1.ics"
    text = data.decode()
    assert "BEGIN:VEVENT" in text
    assert f"UID:techmeet-{guild.id}-{_meetup_id(message)}@techmeet-bot" in text
    assert "STATUS:CONFIRMED" in text
    links = [c["url"] for row in reply.components for c in row["components"]]
    assert links[0].startswith("https://calendar.google.com/calendar/render?action=TEMPLATE")
    assert links[1].startswith("https://outlook.office.com/calendar/")


async def test_reminder_is_posted_on_time(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """A reminder due in a few seconds is posted within 5 s of its time, once."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=4)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="5m")
    due = starts - timedelta(minutes=5)
    reminder = await standin.wait_for_message(
        announcements, lambda m: m.content.startswith("Reminder"), timeout=15
    )
    posted = datetime.fromisoformat(reminder.timestamp)
    assert abs((posted - due).total_seconds()) < 5
    assert "TechMeet #1" in reminder.content
    assert reminder.nonce is not None
    assert "late" not in reminder.content
    await standin.wait_for_gateway_idle()
    reminders = [m for m in standin.messages(announcements) if m.content.startswith("Reminder")]
    assert len(reminders) == 1


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"when": "next blursday"}, "not a date and time I can read"),
        ({"when": "2020-01-01 18:00"}, "in the past"),
        ({"online_url": "javascript:alert(1)"}, "https://"),
        ({"reminders": "1 fortnight"}, "not a reminder offset"),
        ({"reminders": "1m"}, "between 5m and 8w"),
        ({"region": "Atlantis"}, "/setup regions"),
    ],
)
async def test_bad_values_are_refused(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
    options: dict[str, object],
    expected: str,
) -> None:
    """Each bad value gets a private message saying what to do, and nothing is created."""
    values = {"title": "Wi-Fi clinic", "when": iso_in(days=3), **options}
    reply = await standin.slash(guild, organiser, "techmeet create", options=values)
    assert reply.ephemeral
    assert expected in reply.content
    assert standin.messages(announcements) == []
    assert await bot.meetups.upcoming(guild.id) == []


async def test_members_cannot_organise(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Create, edit, cancel, attendees and stats are refused for a plain member."""
    await create(standin, guild, organiser)
    attempts: list[tuple[str, dict[str, object]]] = [
        ("techmeet create", {"title": "Mine", "when": iso_in(days=2)}),
        ("techmeet edit", {"meetup": 1, "title": "Hijacked"}),
        ("techmeet cancel", {"meetup": 1}),
        ("techmeet attendees", {"meetup": 1}),
        ("techmeet stats", {}),
    ]
    for command, options in attempts:
        reply = await standin.slash(guild, member, command, options=options)
        assert reply.ephemeral
        assert "Only organisers" in reply.content, (command, reply.content)
    [meetup] = await bot.meetups.upcoming(guild.id)
    assert meetup.title == "Network monitoring night"


async def test_user_text_is_inert(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """@everyone, role mentions and masked links in a title post as plain text."""
    role = guild.add_role("Staff")
    title = f"@everyone <@&{role.id}> [free laptops](https://evil.example) **now**"
    message = await create(standin, guild, organiser, title=title)
    embed_title = message.embeds[0]["title"]
    assert "@everyone" not in embed_title.replace("@\u200beveryone", "")
    assert f"<@&{role.id}>" not in embed_title
    assert "](https://evil.example)" not in embed_title
    assert message.mention_everyone is False
    assert message.mention_roles == []


async def test_ping_role_is_the_only_ping(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    manager: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """With a ping role set, the announcement pings exactly that role."""
    pings = guild.add_role("Meetup pings", mentionable=True)
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup ping-role", role=pings)
    message = await create(standin, guild, organiser)
    assert message.content.startswith(f"<@&{pings.id}>")
    assert message.allowed_mentions is not None
    assert message.allowed_mentions.get("roles") in ([pings.id], [str(pings.id)])
    assert message.allowed_mentions.get("parse") == []


async def test_buttons_work_after_a_restart(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
) -> None:
    """An announcement posted before a restart still takes RSVPs after it."""
    start, stop = bots
    first = await start()
    channel = guild.add_text_channel("announcements")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    message = await create(standin, guild, organiser)
    await stop(first)
    second = await start()
    member = guild.add_member("After Restart")
    await standin.wait_for_gateway_idle()
    reply = await standin.click(message, f"rsvp:{_meetup_id(message)}:going", member)
    assert "You're going" in reply.content
    view = await second.meetups.get(_meetup_id(message))
    assert view is not None
    assert view.going == 1


async def test_cancel_asks_then_tells_everyone(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Cancelling needs a confirmation; then the announcement, event and attendees follow."""
    message = await create(standin, guild, organiser)
    await standin.click(message, f"rsvp:{_meetup_id(message)}:going", member)
    ask = await standin.slash(guild, organiser, "techmeet cancel", meetup=1, reason="Room flooded")
    assert ask.ephemeral
    assert "Cancel **TechMeet #1" in ask.content
    [confirm] = [c for row in ask.components for c in row["components"]]
    done = await standin.click(ask, confirm["custom_id"], organiser)
    assert "Cancelled TechMeet #1" in done.content
    assert message.thread is not None
    told = await standin.wait_for_message(message.thread, lambda m: "cancelled" in m.content)
    assert f"<@{member.id}>" in told.content
    assert "Room flooded" in told.content
    assert guild.upcoming_events() == []
    late = await standin.click(
        message, f"rsvp:{_meetup_id(message)}:going", guild.add_member("Late")
    )
    assert "cancelled" in late.content


async def test_attendees_csv_is_safe_for_spreadsheets(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """The attendee list comes as CSV with formula-looking names neutralised."""
    message = await create(standin, guild, organiser)
    sneaky = guild.add_member('=HYPERLINK("https://evil.example","x")')
    await standin.wait_for_gateway_idle()
    await standin.click(message, f"rsvp:{_meetup_id(message)}:going", sneaky)
    reply = await standin.slash(guild, organiser, "techmeet attendees", meetup=1)
    assert reply.ephemeral
    [(name, data)] = reply.attachments
    assert name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "status"
    assert rows[1][0] == "going"
    assert rows[1][2].startswith("'=")
    assert rows[1][3] == str(sneaky.id)


async def test_edit_moves_reminders_and_tells_attendees(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """A new time re-arms the reminders (they fire at the new time) and attendees are told."""
    message = await create(standin, guild, organiser, reminders="1d")
    await standin.click(message, f"rsvp:{_meetup_id(message)}:maybe", member)
    new_start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=3)
    reply = await standin.slash(
        guild, organiser, "techmeet edit", meetup=1, when=new_start.isoformat(), reminders="5m"
    )
    assert "Updated TechMeet #1" in reply.content
    assert "told the 1 people" in reply.content
    assert message.thread is not None
    told = await standin.wait_for_message(message.thread, lambda m: "changed time" in m.content)
    assert f"<@{member.id}>" in told.content
    assert f"<t:{int(new_start.timestamp())}:F>" in told.content
    reminder = await standin.wait_for_message(
        announcements, lambda m: m.content.startswith("Reminder"), timeout=15
    )
    posted = datetime.fromisoformat(reminder.timestamp)
    assert abs((posted - (new_start - timedelta(minutes=5))).total_seconds()) < 5
    updated = standin.find_message(message.id)
    assert updated is not None
    assert f"<t:{int(new_start.timestamp())}:F>" in fields(updated)["When"]


async def test_a_retried_post_appears_once(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Discord stores the reminder but the answer is lost (502): the retry carries the same
    nonce, so the channel shows it once."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=3)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="5m")
    standin.fail_next("POST", rf"/channels/{announcements.id}/messages", 502, after_handling=True)
    await standin.wait_for_message(
        announcements, lambda m: m.content.startswith("Reminder"), timeout=15
    )
    await asyncio.sleep(2)  # discord.py's retry comes about a second later
    posts = [
        r
        for r in standin.requests
        if r[0] == "POST" and r[1] == f"/channels/{announcements.id}/messages"
    ]
    reminders = [m for m in standin.messages(announcements) if m.content.startswith("Reminder")]
    assert len(posts) >= 3  # announcement, the failed reminder post, its retry
    assert len(reminders) == 1
    standin.problems.clear()  # the injected 502 is recorded as a problem


async def test_deleted_channel_fails_the_reminder_and_tells_organisers(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """A reminder for a deleted channel is marked failed with the reason, organisers hear of
    it, and /techmeet info shows it."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=2)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="5m")
    organisers = next(c for c in guild.channels if c.name == "organisers")
    guild.delete_channel(announcements)
    report = await standin.wait_for_message(
        organisers, lambda m: "could not be done" in m.content, timeout=15
    )
    assert "5m reminder for TechMeet #1" in report.content
    info = await standin.slash(guild, organiser, "techmeet info", meetup=1)
    assert "**failed**" in info.embeds[0]["fields"][-1]["value"]


@pytest.fixture
async def clocked(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bots: tuple[StartBot, StopBot]
) -> tuple[TechMeetBot, FakeClock, FakeChannel]:
    """A bot whose clock the test moves; due jobs run when the test sweeps."""
    start, _ = bots
    clock = FakeClock(datetime.now(UTC))
    bot = await start(clock=clock)
    channel = guild.add_text_channel("announcements")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    return bot, clock, channel


async def test_after_the_meetup_feedback_and_stats(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """When it ends, a follow-up asks for a rating and an action; stats sum them up.
    Reminders that were due while the bot was 'away' are skipped, not posted late."""
    bot, clock, channel = clocked
    message = await create(standin, guild, organiser, when=iso_in(days=2), reminders="1d,1h")
    meetup_id = _meetup_id(message)
    await standin.click(message, f"rsvp:{meetup_id}:going", member)
    clock.advance(days=2, hours=2, minutes=1)  # past the end (2 h duration)
    await bot.dispatcher.run_due()
    assert message.thread is not None
    follow_up = await standin.wait_for_message(
        message.thread, lambda m: "has finished" in m.content
    )
    assert [m for m in standin.messages(channel) if m.content.startswith("Reminder")] == []
    rated = await standin.click(follow_up, f"fb:{meetup_id}:4", member)
    assert "4/5" in rated.content
    modal = await standin.click(follow_up, f"fb:{meetup_id}:action", member)
    assert modal.modal is not None
    [field_id] = [
        c["custom_id"]
        for row in modal.modal["components"]
        for c in (row.get("components") or [row.get("component", {})])
        if "custom_id" in c
    ]
    noted = await standin.submit_modal(modal, member, {field_id: "Set up LibreNMS alerts"})
    assert "Noted" in noted.content
    stats = await standin.slash(guild, organiser, "techmeet stats")
    text = stats.embeds[0]["description"]
    assert "**#1**" in text
    assert "4.0/5 from 1 (1 had said Going)" in text
    assert "Set up LibreNMS alerts" in stats.embeds[0]["fields"][-1]["value"]
    details = await bot.meetups.details(guild.id, 1, member.id)
    assert {r.state for r in details.reminders} == {"skipped"}


async def test_a_series_announces_its_next_meetup(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """When a weekly meetup starts, next week's is created and announced, once."""
    bot, clock, channel = clocked
    first_start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    await create(standin, guild, organiser, when=first_start.isoformat(), repeat="weekly")
    clock.now = first_start + timedelta(seconds=1)
    await bot.dispatcher.run_due()
    await bot.dispatcher.run_due()
    second = await standin.wait_for_message(
        channel, lambda m: bool(m.embeds) and "#2" in m.embeds[0]["title"]
    )
    assert f"<t:{int((first_start + timedelta(days=7)).timestamp())}:F>" in fields(second)["When"]
    assert fields(second)["Repeats"].startswith("every ")
    announcements = [
        m for m in standin.messages(channel) if m.embeds and "#2" in m.embeds[0]["title"]
    ]
    assert len(announcements) == 1


async def test_a_series_made_at_start_up_gets_its_discord_event(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    bots: tuple[StartBot, StopBot],
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """The next occurrence is created by a job that runs as the bot starts, before the
    gateway has delivered the guild: its Discord event follows once the guild arrives."""
    bot, clock, channel = clocked
    start, stop = bots
    first_start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    await create(standin, guild, organiser, when=first_start.isoformat(), repeat="weekly")
    assert len(guild.upcoming_events()) == 1
    await stop(bot)
    clock.now = first_start + timedelta(minutes=5)
    # The guild stays unavailable after READY (as in a Discord outage), so the job that
    # makes the next occurrence cannot see it.
    standin.guild_create_payloads = lambda intents: []  # type: ignore[method-assign]
    await start(clock=clock)
    await standin.wait_for_message(
        channel, lambda m: bool(m.embeds) and "#2" in m.embeds[0]["title"]
    )
    assert len(guild.upcoming_events()) == 1
    await standin.dispatch(
        "GUILD_CREATE", guild.payload(intents=standin.gateway.intents, initial=True)
    )
    await standin.wait_until(
        lambda: (
            True
            if any(e["name"].startswith("TechMeet #2") for e in guild.scheduled_events.values())
            else None
        ),
        5,
        lambda: f"events: {[e['name'] for e in guild.scheduled_events.values()]}",
    )
    names = [e["name"] for e in guild.scheduled_events.values()]
    assert sum(name.startswith("TechMeet #2") for name in names) == 1


async def test_remind_me_sends_reminders_by_dm_too(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Members who opt in get the reminder by DM as well; closed DMs don't stop the rest."""
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=4)
    message = await create(standin, guild, organiser, when=starts.isoformat(), reminders="5m")
    closed = guild.add_member("Closed DMs")
    standin.close_dms(closed)
    await standin.wait_for_gateway_idle()
    for who in (member, closed):
        on = await standin.slash(guild, who, "techmeet remind-me", setting="on")
        assert "by DM" in on.content
        await standin.click(message, f"rsvp:{_meetup_id(message)}:going", who)
    dm = await standin.wait_for_dm(member, lambda m: m.content.startswith("Reminder"), timeout=15)
    assert "TechMeet #1" in dm.content
    channel_post = await standin.wait_for_message(
        announcements, lambda m: m.content.startswith("Reminder")
    )
    assert channel_post.nonce == dm.nonce


async def test_autocomplete_shows_meetups_and_how_when_was_read(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """`meetup` choices read '#1 · Thu 3 Dec 18:00 · title'; `when` shows its reading."""
    await create(standin, guild, organiser, when="2027-12-02 18:00", title="x" * 100)
    choices = await standin.autocomplete(
        guild, organiser, "techmeet info", focused="meetup", meetup=""
    )
    assert choices.choices is not None
    [choice] = choices.choices
    assert choice["value"] == 1
    assert choice["name"].startswith("#1 · Thu 2 Dec 18:00 · xxx")
    assert len(choice["name"]) == 100
    preview = await standin.autocomplete(
        guild, organiser, "techmeet create", focused="when", title="t", when="2027-06-03 18:00"
    )
    assert preview.choices is not None
    [reading] = preview.choices
    assert reading["name"].startswith("Thu 3 Jun 2027, 18:00 BST")
    assert reading["value"] == "2027-06-03 18:00"


async def test_list_filters_by_region(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Members see what is coming up, soonest first, optionally in one region."""
    await create(
        standin, guild, organiser, title="Wales meetup", region="Wales", when=iso_in(days=9)
    )
    await create(
        standin, guild, organiser, title="London meetup", region="London", when=iso_in(days=4)
    )
    everything = await standin.slash(guild, member, "techmeet list")
    text = everything.embeds[0]["description"]
    assert text.index("London meetup") < text.index("Wales meetup")
    wales = await standin.slash(guild, member, "techmeet list", region="wales")
    assert "Wales meetup" in wales.embeds[0]["description"]
    assert "London meetup" not in wales.embeds[0]["description"]


async def test_list_shows_the_soonest_twenty_and_counts_the_rest(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """A big community's list: the 20 soonest, then how many more (read, not loaded)."""
    for n in range(23):
        await bot.meetups.create(
            Actor(guild.id, organiser.id, manage_events=True),
            MeetupDraft(title=f"Meetup {n:02}", when=iso_in(days=2 + n)),
        )
    listed = await standin.slash(guild, member, "techmeet list")
    text = listed.embeds[0]["description"]
    assert text.count("\n") == 19
    assert "Meetup 00" in text
    assert "Meetup 19" in text
    assert "Meetup 20" not in text
    assert listed.embeds[0]["footer"]["text"] == "and 3 more"


async def test_member_leaving_hands_their_place_on(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """When a Going member leaves the server, the first on the waitlist gets the place; with
    DMs closed they are told in the meetup's thread instead."""
    message = await create(standin, guild, organiser, capacity=1)
    leaver, waiting = guild.add_member("Leaver"), guild.add_member("Waiting")
    standin.close_dms(waiting)
    await standin.wait_for_gateway_idle()
    await standin.click(message, f"rsvp:{_meetup_id(message)}:going", leaver)
    await standin.click(message, f"rsvp:{_meetup_id(message)}:going", waiting)
    guild.remove_member(leaver)
    assert message.thread is not None
    told = await standin.wait_for_message(
        message.thread, lambda m: "A place came free" in m.content
    )
    assert told.content.startswith(f"<@{waiting.id}>")
    assert told.allowed_mentions is not None
    assert told.allowed_mentions.get("users") in ([waiting.id], [str(waiting.id)])
    lists = await bot.meetups.rsvp_lists(_meetup_id(message))
    assert lists[RsvpStatus.GOING] == [waiting.id]


async def test_a_member_leaving_while_the_gateway_is_down_is_not_missed(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """The gateway connection drops; a Going member leaves before the bot is back. The bot
    resumes its session (no new IDENTIFY), Discord replays the missed event, and the place
    goes to the waitlist as if nothing had happened. Buttons work straight after."""
    message = await create(standin, guild, organiser, capacity=1)
    leaver, waiting, late = (guild.add_member(n) for n in ("Leaver", "Waiting", "Late"))
    await standin.wait_for_gateway_idle()
    going = f"rsvp:{_meetup_id(message)}:going"
    await standin.click(message, going, leaver)
    await standin.click(message, going, waiting)
    identifies = standin.gateway.identifies
    await standin.drop_gateway(wait=False)
    guild.remove_member(leaver)
    await standin.wait_until_identified()
    assert standin.gateway.resumes == 1
    assert standin.gateway.identifies == identifies
    await standin.wait_for_dm(waiting, lambda m: "A place came free" in m.content, timeout=5)
    lists = await bot.meetups.rsvp_lists(_meetup_id(message))
    assert lists[RsvpStatus.GOING] == [waiting.id]
    full = await standin.click(message, going, late)
    assert "waitlist, position 1" in full.content, full.content


async def test_without_create_events_no_discord_event(
    standin: DiscordStandIn, manager: FakeMember, bots: tuple[StartBot, StopBot]
) -> None:
    """Without Create Events the meetup still works; the organiser is told how to mirror it."""
    guild = standin.add_guild("No events")
    organiser = guild.add_member("Olu", permissions=MANAGE_EVENTS)
    admin = guild.add_member("Mia", permissions=MANAGE_GUILD)
    start, _ = bots
    await start()
    channel = guild.add_text_channel("announcements")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, admin, "setup channel", purpose="announcements", channel=channel)
    reply = await standin.slash(
        guild, organiser, "techmeet create", title="Cyber essentials", when=iso_in(days=3)
    )
    assert "Scheduled **TechMeet #1**" in reply.content
    assert "give the bot *Create Events*" in reply.content
    assert guild.scheduled_events == {}


async def test_a_reminder_after_downtime_is_marked_late(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """Within its grace (10% of the offset, at least 5 min) a missed reminder goes out late,
    and says so."""
    bot, clock, channel = clocked
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="1h")
    clock.now = starts - timedelta(minutes=57)  # 3 minutes after it was due
    await bot.dispatcher.run_due()
    late = await standin.wait_for_message(channel, lambda m: m.content.startswith("Reminder"))
    assert "sent late" in late.content


async def test_discord_event_follows_the_meetup(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """A meetup in a voice channel becomes a voice event; an edit moves the event too."""
    voice = guild.add_voice_channel("TechMeet voice")
    await standin.wait_for_gateway_idle()
    await create(standin, guild, organiser, channel=voice)
    [event] = guild.upcoming_events()
    assert (event["entity_type"], event["channel_id"]) == (2, str(voice.id))
    new_start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=9)
    await standin.slash(guild, organiser, "techmeet edit", meetup=1, when=new_start.isoformat())
    [moved] = guild.upcoming_events()
    assert datetime.fromisoformat(moved["scheduled_start_time"]) == new_start


async def test_a_crash_between_posting_and_recording_posts_once(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """A process claims a reminder, posts it and dies before recording it: once its lease
    runs out the reminder is claimed again and re-sent with the same nonce, which Discord
    takes as a repeat. The channel shows one reminder."""
    bot, clock, channel = clocked
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    await create(standin, guild, organiser, when=starts.isoformat(), reminders="1h")
    clock.now = starts - timedelta(hours=1)
    [job] = await bot.dispatcher._claim(limit=8)  # the process that will "die"
    await bot.dispatcher._handlers[job.kind](job, clock.now)  # posted, never recorded
    clock.advance(seconds=LEASE.total_seconds() + 1)
    await bot.dispatcher.run_due()
    await bot.dispatcher.idle()
    reminders = [m for m in standin.messages(channel) if m.content.startswith("Reminder")]
    assert len(reminders) == 1
    details = await bot.meetups.details(guild.id, 1, organiser.id)
    [state] = [r for r in details.reminders if r.offset_minutes == 60]
    assert (state.state, state.result) == ("done", str(reminders[0].id))


async def test_a_new_title_renames_the_thread(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """The meetup's thread and Discord event follow a changed title."""
    message = await create(standin, guild, organiser)
    await standin.slash(guild, organiser, "techmeet edit", meetup=1, title="Wi-Fi 7 in FE")
    assert message.thread is not None
    assert message.thread.name == "TechMeet #1: Wi-Fi 7 in FE"
    [event] = guild.upcoming_events()
    assert event["name"] == "TechMeet #1: Wi-Fi 7 in FE"


async def test_everyone_answering_the_follow_up_at_once_is_heard(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock, FakeChannel],
) -> None:
    """The whole audience opens "One thing I'll do" together: every form sent is recorded
    (forms once shared one id per meetup, so only the last one opened was heard)."""
    bot, clock, _ = clocked
    message = await create(standin, guild, organiser, when=iso_in(days=2))
    meetup_id = _meetup_id(message)
    people = [guild.add_member(f"Attendee {i}") for i in range(3)]
    clock.advance(days=2, hours=2, minutes=1)
    await bot.dispatcher.run_due()
    assert message.thread is not None
    follow_up = await standin.wait_for_message(
        message.thread, lambda m: "has finished" in m.content
    )
    forms = [await standin.click(follow_up, f"fb:{meetup_id}:action", p) for p in people]
    for form, person in zip(forms, people, strict=True):
        assert form.modal is not None
        [field_id] = [
            c["custom_id"]
            for row in form.modal["components"]
            for c in (row.get("components") or [row.get("component", {})])
            if "custom_id" in c
        ]
        noted = await standin.submit_modal(form, person, {field_id: f"Action of {person.name}"})
        assert "Noted" in noted.content, noted.content
    stats = await standin.slash(guild, organiser, "techmeet stats")
    actions = stats.embeds[0]["fields"][-1]["value"]
    assert all(f"Action of Attendee {i}" in actions for i in range(3)), actions
