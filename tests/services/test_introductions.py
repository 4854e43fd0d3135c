"""Introductions and the directory on SQLite and PostgreSQL: saving both steps, ranking,
skill counts, suggestions, leavers and retention, and privacy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.introductions import Criteria
from bot.domain.members import Actor
from bot.errors import BadInput, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.introductions import INTRO_PURGE, IntroductionService, IntroductionView
from bot.services.meetups import MeetupService
from bot.services.privacy import PrivacyService, personal_data_sources
from db.engine import Sessions, create_sessions
from db.models import Introduction, IntroductionSkill, ScheduledJob
from tests.clock import FakeClock

GUILD = 600_000_000_000_000_006
OTHER_GUILD = 600_000_000_000_000_007
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ORGANISER = Actor(GUILD, 1, manage_events=True)
MANAGER = Actor(GUILD, 2, manage_guild=True)
ADA, BEA, CAL, DEV = (Actor(GUILD, 10 + i) for i in range(4))


@dataclass
class World:
    sessions: Sessions
    clock: FakeClock
    intros: IntroductionService

    async def introduce(
        self,
        who: Actor,
        name: str,
        *,
        skills: str = "",
        region: str | None = None,
        organisation: str | None = None,
        role: str | None = None,
        helps: str | None = None,
        looking: str | None = None,
    ) -> IntroductionView:
        await self.intros.save_basics(
            who, name=name, role=role, organisation=organisation, region=region, skills=skills
        )
        return await self.intros.save_more(who, happy_to_help=helps, looking_for=looking)


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    sessions = create_sessions(engine)
    clock = FakeClock(NOW)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London", clock=clock)
    meetups = MeetupService(sessions, settings, clock=clock)
    return World(sessions, clock, IntroductionService(sessions, settings, meetups, clock=clock))


async def test_both_steps_save_and_edit_one_introduction(world: World) -> None:
    """Step one alone is saved; step two adds to it; saving again edits, with tags
    normalised and the region matched to the guild's list."""
    first = await world.intros.save_basics(
        ADA,
        name="  Ada  Lovelace ",
        role="Network technician",
        organisation="Riverside College",
        region="south west",
        skills="Aruba Switches; #Moodle\nmoodle, Intune",
    )
    assert first.name == "Ada Lovelace"
    assert first.region == "South West"
    assert first.skills == ("aruba switches", "moodle", "intune")
    more = await world.intros.save_more(ADA, happy_to_help="Moodle upgrades", looking_for=None)
    assert more.id == first.id
    assert more.happy_to_help == "Moodle upgrades"
    again = await world.intros.save_basics(
        ADA, name="Ada", role=None, organisation=None, region=None, skills="python"
    )
    assert again.id == first.id
    assert again.happy_to_help == "Moodle upgrades"
    async with world.sessions() as session:
        tags = list(await session.scalars(select(IntroductionSkill.tag)))
    assert tags == ["python"]


async def test_bad_input_changes_nothing(world: World) -> None:
    """Refusals state the limit and leave the stored introduction as it was."""
    await world.introduce(ADA, "Ada", skills="moodle")
    with pytest.raises(BadInput, match="limit is 64"):
        await world.intros.save_basics(
            ADA, name="x" * 65, role=None, organisation=None, region=None, skills=""
        )
    with pytest.raises(BadInput, match="at most 40 characters"):
        await world.intros.save_basics(
            ADA, name="Ada", role=None, organisation=None, region=None, skills="y" * 41
        )
    with pytest.raises(BadInput, match="Pick a region"):
        await world.intros.save_basics(
            ADA, name="Ada", role=None, organisation=None, region="Atlantis", skills=""
        )
    with pytest.raises(BadInput, match="limit is 500"):
        await world.intros.save_more(ADA, happy_to_help="z" * 501, looking_for=None)
    with pytest.raises(NotFound, match="Introduce yourself first"):
        await world.intros.save_more(BEA, happy_to_help="hi", looking_for=None)
    kept = await world.intros.get(GUILD, ADA.user_id)
    assert kept is not None
    assert kept.skills == ("moodle",)
    assert kept.happy_to_help is None


async def test_double_submit_makes_one_introduction(world: World) -> None:
    """Two first-step submits at once (a double click) give one row."""
    await asyncio.gather(
        *(
            world.intros.save_basics(
                ADA, name=f"Ada {n}", role=None, organisation=None, region=None, skills="moodle"
            )
            for n in range(2)
        )
    )
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Introduction)) == 1


async def test_find_ranks_by_criteria_met(world: World) -> None:
    """Members meeting more criteria come first; case, accents and LIKE wildcards are
    handled; other guilds and leavers are not listed."""
    await world.introduce(ADA, "Ada", skills="moodle, aruba switches", region="South West")
    await world.introduce(BEA, "Bea", skills="Moodle", region="North West", role="IT manager")
    await world.introduce(CAL, "Cal", skills="jamf", region="South West", organisation="Café_Tech")
    await world.introduce(DEV, "Dev", skills="moodle")
    other = Actor(OTHER_GUILD, 99)
    await world.introduce(other, "Zed", skills="moodle", region="South West")
    await world.intros.member_left(GUILD, DEV.user_id)

    page = await world.intros.find(BEA, Criteria.of(skill="MOODLE", region="south west"))
    assert [(f.introduction.name, f.matched) for f in page.results] == [
        ("Ada", 2),
        ("Bea", 1),
        ("Cal", 1),
    ]
    assert page.total == 3
    aruba = await world.intros.find(BEA, Criteria.of(skill="aruba"))
    assert [f.introduction.name for f in aruba.results] == ["Ada"]
    cafe = await world.intros.find(BEA, Criteria.of(organisation="cafe_"))
    assert [f.introduction.name for f in cafe.results] == ["Cal"]
    wildcard = await world.intros.find(BEA, Criteria.of(text="%"))
    assert wildcard.results == []
    manager = await world.intros.find(BEA, Criteria.of(role="manager", text="north"))
    assert [(f.introduction.name, f.matched) for f in manager.results] == [("Bea", 2)]


async def test_search_pages_are_kept_per_guild(world: World) -> None:
    """12 matches → pages of 10 and 2; the saved search is not usable from another guild."""
    for n in range(12):
        await world.introduce(Actor(GUILD, 100 + n), f"Tech {n:02}", skills="intune")
    first = await world.intros.find(ADA, Criteria.of(skill="intune"))
    assert (len(first.results), first.pages) == (10, 2)
    second = await world.intros.search_page(ADA, first.search_id, 1)
    assert [f.introduction.name for f in second.results] == ["Tech 10", "Tech 11"]
    with pytest.raises(NotFound, match="expired"):
        await world.intros.search_page(Actor(OTHER_GUILD, 10), first.search_id, 0)
    world.clock.advance(days=2)
    await world.intros.find(ADA, Criteria.of(skill="intune"))
    with pytest.raises(NotFound, match="expired"):
        await world.intros.search_page(ADA, first.search_id, 1)


async def test_skill_counts_and_known_values(world: World) -> None:
    await world.introduce(ADA, "Ada", skills="moodle, intune", organisation="Riverside College")
    await world.introduce(BEA, "Bea", skills="moodle", organisation="Riverside College")
    await world.introduce(CAL, "Cal", skills="jamf", organisation="Hilltop")
    assert await world.intros.skills(GUILD) == [("moodle", 2), ("intune", 1), ("jamf", 1)]
    assert await world.intros.known_values(GUILD, "organisation", "river") == ["Riverside College"]
    assert await world.intros.known_values(GUILD, "skill", "") == ["moodle", "intune", "jamf"]


async def test_suggestions_prefer_other_colleges_and_explain(world: World) -> None:
    await world.introduce(
        ADA,
        "Ada",
        skills="moodle",
        organisation="Riverside",
        region="South West",
        looking="someone who knows intune",
    )
    await world.introduce(
        BEA, "Bea", skills="moodle", organisation="Riverside", region="South West"
    )
    await world.introduce(CAL, "Cal", skills="moodle", organisation="Hilltop", region="Wales")
    await world.introduce(DEV, "Dev", skills="intune", organisation="Hilltop", region="Wales")
    suggested = await world.intros.suggestions(ADA)
    names = [s.introduction.name for s in suggested]
    assert names[0] == "Dev"
    assert "can help with intune" in suggested[0].reason
    assert names.index("Cal") < names.index("Bea")
    assert "in Wales" in suggested[names.index("Cal")].reason


async def test_leaver_is_hidden_then_deleted_after_retention(world: World) -> None:
    """Leaving hides at once; returning restores; after the retention period (changed with
    /setup retention, pending deletions move) the introduction is deleted."""
    await world.introduce(ADA, "Ada", skills="moodle")
    left = await world.intros.member_left(GUILD, ADA.user_id)
    assert left is not None
    assert await world.intros.get(GUILD, ADA.user_id) is None
    assert await world.intros.member_returned(GUILD, ADA.user_id) is not None
    assert await world.intros.get(GUILD, ADA.user_id) is not None

    await world.intros.member_left(GUILD, ADA.user_id)
    await world.intros.set_retention(MANAGER, 7)
    async with world.sessions() as session:
        job = await session.scalar(
            select(ScheduledJob).where(
                ScheduledJob.kind == INTRO_PURGE, ScheduledJob.state == "pending"
            )
        )
    assert job is not None
    assert job.due_at == NOW + timedelta(days=7)
    with pytest.raises(NotAllowed):
        await world.intros.set_retention(ADA, 1)
    with pytest.raises(BadInput, match="1 to 365"):
        await world.intros.set_retention(MANAGER, 0)

    assert await world.intros.purge(left.id) == NOW + timedelta(days=7)  # not yet
    world.clock.advance(days=7)
    purged = await world.intros.purge(left.id)
    assert isinstance(purged, IntroductionView)
    assert purged.name == "Ada"
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Introduction)) == 0
        assert await session.scalar(select(func.count()).select_from(IntroductionSkill)) == 0


async def test_organiser_removes_and_member_cannot(world: World) -> None:
    await world.introduce(ADA, "Ada")
    with pytest.raises(NotAllowed):
        await world.intros.remove(BEA, ADA.user_id)
    removed = await world.intros.remove(ORGANISER, ADA.user_id)
    assert removed.name == "Ada"
    assert await world.intros.get(GUILD, ADA.user_id) is None


async def test_privacy_export_and_erase(world: World) -> None:
    await world.introduce(ADA, "Ada", skills="moodle", looking="cloud print")
    await world.intros.find(ADA, Criteria.of(skill="moodle"))
    await world.intros.member_left(GUILD, ADA.user_id)
    settings = GuildSettingsService(world.sessions, default_timezone="Europe/London")
    privacy = PrivacyService(world.sessions, personal_data_sources(settings, world.clock))
    exported = (await privacy.export(ADA.user_id))["data"]["introductions"]
    assert exported[0]["name"] == "Ada"
    assert exported[0]["looking_for"] == "cloud print"
    assert exported[1]["directory_search"] == {"skill": "moodle"}
    report = await privacy.erase(ADA.user_id)
    assert "introductions" in report.sources
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Introduction)) == 0
        purge = await session.scalar(
            select(ScheduledJob.state).where(ScheduledJob.kind == INTRO_PURGE)
        )
    assert purge == "cancelled"
