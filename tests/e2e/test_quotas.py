"""Per-member quotas through the Discord stand-in: the eleventh suggestion in ten minutes is
refused with when to try again, and nothing of it is stored."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.client import TechMeetBot
from db.models import Topic
from tests.e2e.conftest import create
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
