"""Per-member quotas through the Discord stand-in: past its quota a command or button is
refused privately with when to try again, and nothing of it is stored or posted. Members'
and organisers' commands alike; buttons are named as what was clicked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.client import TechMeetBot
from bot.domain.quotas import QUOTAS
from db.models import MeetupFeedback, PairingMember, Topic
from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot, create, custom_ids, iso_in
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember

IDEAS = [
    "Eduroam certificates",
    "Intune enrolment",
    "Backup testing",
    "Moodle upgrades",
    "Wi-Fi surveys",
    "Printer fleets",
    "Phishing drills",
    "Asset tagging",
    "Firewall reviews",
    "Cloud storage quotas",
]


async def test_a_member_flooding_suggestions_is_slowed_down(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    for n in range(1, 5):
        await create(standin, guild, organiser, title=f"Meetup {n}")
    said = []
    for n, idea in enumerate(IDEAS):  # 3 open suggestions per meetup: spread over four
        reply = await standin.slash(guild, member, "topic suggest", title=idea, meetup=1 + n // 3)
        said.append(reply.content)
    assert all(text.startswith("Thanks!") for text in said), said
    refused = await standin.slash(guild, member, "topic suggest", title="Laptop loans", meetup=4)
    assert refused.ephemeral
    assert "try again in 10 minutes" in refused.content, refused.content
    async with bot.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Topic))
    assert stored == len(IDEAS)
    someone_else = await standin.slash(
        guild, organiser, "topic suggest", title="Laptop loans", meetup=4
    )
    assert someone_else.content.startswith("Thanks!"), someone_else.content


@pytest.fixture
async def clocked(
    standin: DiscordStandIn,
    guild: FakeGuild,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
    database_url: str,
) -> tuple[TechMeetBot, FakeClock]:
    """A bot whose clock the test moves, with announcements and talks channels, on SQLite
    and on PostgreSQL (the counters are upserts that differ between the two)."""
    start, _ = bots
    clock = FakeClock(datetime.now(UTC))
    bot = await start(database_url, clock=clock)
    for purpose in ("announcements", "talks"):
        channel = guild.add_text_channel(purpose)
        await standin.wait_for_gateway_idle()
        done = await standin.slash(
            guild, manager, "setup channel", purpose=purpose, channel=channel
        )
        assert done.content.startswith("Done"), done.content
    return bot, clock


async def test_switching_pairing_on_and_off_is_limited_and_changes_nothing_more(
    standin: DiscordStandIn,
    guild: FakeGuild,
    member: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock],
) -> None:
    """The eleventh /pairing join in ten minutes is refused privately with when to try
    again, and the member stays out; once the window has passed, joining works again."""
    bot, clock = clocked
    opened = await standin.slash(guild, member, "intro")
    await standin.submit_modal(opened, member, {"name": "Sam", "skills": "moodle"})
    for _ in range(QUOTAS["pairing join"].limit):
        joined = await standin.slash(guild, member, "pairing join")
        assert joined.content.startswith("You're in"), joined.content
        left = await standin.slash(guild, member, "pairing leave")
        assert left.content.startswith("Done"), left.content
    clock.advance(minutes=4)
    refused = await standin.slash(guild, member, "pairing join")
    assert refused.ephemeral
    assert refused.content == (
        "That's a lot of `/pairing join` at once (10 times in 10 minutes is the most). "
        "Please try again in 6 minutes."
    )
    async with bot.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PairingMember)) == 0
    clock.advance(minutes=6)
    joined = await standin.slash(guild, member, "pairing join")
    assert joined.content.startswith("You're in"), joined.content


async def test_feedback_buttons_are_limited_in_words_that_fit_a_button(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock],
) -> None:
    """Clicking ratings over and over: past the quota the click is refused, named as what
    was clicked (not as a command), and the last counted rating stands."""
    bot, clock = clocked
    announcement = await create(standin, guild, organiser, when=iso_in(days=2))
    meetup_id = int(custom_ids(announcement)[0].split(":")[1])
    clock.advance(days=2, hours=2, minutes=1)  # past its end: the feedback question is asked
    await bot.dispatcher.run_due()
    assert announcement.thread is not None
    question = await standin.wait_for_message(
        announcement.thread, lambda m: "has finished" in m.content
    )
    limit = QUOTAS["techmeet feedback"].limit
    for n in range(limit):
        rated = await standin.click(question, f"fb:{meetup_id}:{n % 5 + 1}", member)
        assert "/5" in rated.content, rated.content
    refused = await standin.click(question, f"fb:{meetup_id}:1", member)
    assert refused.ephemeral
    assert refused.content.startswith("That's a lot of feedback answers at once"), refused.content
    async with bot.sessions() as session:
        rating = await session.scalar(select(MeetupFeedback.rating))
    assert rating == (limit - 1) % 5 + 1


async def test_an_organiser_posting_the_lineup_over_and_over_is_limited(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock],
) -> None:
    """Organisers' commands have quotas too: past ten line-ups in ten minutes nothing more
    is posted in the talks channel until the window has passed."""
    _, clock = clocked
    talks = next(c for c in guild.channels if c.name == "talks")
    await create(standin, guild, organiser)
    limit = QUOTAS["talk lineup"].limit
    for _ in range(limit):
        posted = await standin.slash(guild, organiser, "talk lineup", meetup=1)
        assert posted.content.startswith("Posted the line-up"), posted.content
    assert len(standin.messages(talks)) == limit
    refused = await standin.slash(guild, organiser, "talk lineup", meetup=1)
    assert refused.ephemeral
    assert "That's a lot of `/talk lineup` at once" in refused.content, refused.content
    assert "try again in 10 minutes" in refused.content
    await standin.wait_for_gateway_idle()
    assert len(standin.messages(talks)) == limit
    clock.advance(minutes=10)
    posted = await standin.slash(guild, organiser, "talk lineup", meetup=1)
    assert posted.content.startswith("Posted the line-up"), posted.content


async def test_privacy_exports_count_once_across_servers_and_direct_messages(
    standin: DiscordStandIn,
    guild: FakeGuild,
    member: FakeMember,
    clocked: tuple[TechMeetBot, FakeClock],
) -> None:
    """/privacy works in DMs too and reads every server: its quota is the member's wherever
    they ask, and a refused export sends no file."""
    limit = QUOTAS["privacy export"].limit
    for n in range(limit):
        if n % 2:
            exported = await standin.slash_in_dm(member, "privacy export")
        else:
            exported = await standin.slash(guild, member, "privacy export")
        assert len(exported.attachments) == 1, exported.content
    refused = await standin.slash_in_dm(member, "privacy export")
    assert refused.ephemeral
    assert "That's a lot of `/privacy export` at once" in refused.content, refused.content
    assert refused.attachments == []
