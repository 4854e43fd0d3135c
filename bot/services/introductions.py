"""Use cases behind /intro and /members: introductions, the directory, skill counts and
"people you should meet", and what happens to an introduction when its member leaves."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.domain.guild_settings import region_choices
from bot.domain.introductions import (
    DEFAULT_RETENTION_DAYS,
    NAME_MAX,
    ORGANISATION_MAX,
    ROLE_MAX,
    Criteria,
    Profile,
    check_free_text,
    check_line,
    like_pattern,
    normalise_tag,
    parse_skills,
    search_key,
    search_text,
    suggest,
)
from bot.domain.members import Actor
from bot.errors import BadInput, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupService
from db.engine import Sessions
from db.models import DirectorySearch, GuildSettings, Introduction, IntroductionSkill
from db.repositories import jobs as jobs_repo
from db.repositories._dialect import insert

INTRO_PURGE = "intro-purge"
PAGE_SIZE = 10
# A search's page buttons work this long; after that /members find is run again.
SEARCH_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class IntroductionView:
    id: int
    guild_id: int
    user_id: int
    name: str
    role: str | None
    organisation: str | None
    region: str | None
    skills: tuple[str, ...]
    happy_to_help: str | None
    looking_for: str | None
    channel_id: int | None
    message_id: int | None
    updated_at: datetime


@dataclass(frozen=True)
class Found:
    introduction: IntroductionView
    matched: int  # how many of the search's criteria this member meets


@dataclass(frozen=True)
class SearchPage:
    search_id: int
    criteria: Criteria
    page: int  # 0-based
    total: int
    results: list[Found]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


@dataclass(frozen=True)
class Suggested:
    introduction: IntroductionView
    reason: str


def _view(row: Introduction) -> IntroductionView:
    return IntroductionView(
        id=row.id,
        guild_id=row.guild_id,
        user_id=row.user_id,
        name=row.name,
        role=row.role,
        organisation=row.organisation,
        region=row.region,
        skills=tuple(row.skills),
        happy_to_help=row.happy_to_help,
        looking_for=row.looking_for,
        channel_id=row.channel_id,
        message_id=row.message_id,
        updated_at=row.updated_at,
    )


def _keys(row: Introduction) -> dict[str, Any]:
    """The case-folded copies the directory searches, from the shown values."""
    return {
        "role_key": search_key(row.role),
        "organisation_key": search_key(row.organisation),
        "region_key": search_key(row.region),
        "search_text": search_text(
            row.name,
            row.role,
            row.organisation,
            row.region,
            ", ".join(row.skills),
            row.happy_to_help,
            row.looking_for,
        ),
    }


def _listed() -> ColumnElement[bool]:
    """In the directory: members who left are hidden until they come back or are deleted."""
    return Introduction.left_at.is_(None)


class IntroductionService:
    def __init__(
        self,
        sessions: Sessions,
        settings: GuildSettingsService,
        meetups: MeetupService,
        *,
        clock: Clock = utcnow,
        jobs_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._meetups = meetups
        self._clock = clock
        self._jobs_changed = jobs_changed

    # --- writing an introduction ------------------------------------------------------

    async def save_basics(
        self,
        actor: Actor,
        *,
        name: str | None,
        role: str | None,
        organisation: str | None,
        region: str | None,
        skills: str | None,
    ) -> IntroductionView:
        """The first step (who, where, what they know): saved on its own, new or edited."""
        settings = await self._settings.get(actor.guild_id)
        values: dict[str, Any] = {
            "name": check_line(name, "Your name", NAME_MAX, required=True),
            "role": check_line(role, "Your job role", ROLE_MAX),
            "organisation": check_line(organisation, "Your organisation", ORGANISATION_MAX),
            "region": _region(region, region_choices(settings.regions)),
            "skills": list(parse_skills(skills)),
        }
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._row(session, actor.guild_id, actor.user_id)
            if row is None:
                # Two submits at once (a double click) meet at the unique constraint: the
                # second becomes an update of the first.
                statement = insert(session)(Introduction).values(
                    guild_id=actor.guild_id,
                    user_id=actor.user_id,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                await session.execute(
                    statement.on_conflict_do_nothing(index_elements=["guild_id", "user_id"])
                )
                row = await self._row(session, actor.guild_id, actor.user_id)
                assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            await self._changed(session, row, now)
            await self._came_back(session, row, now)
            return _view(row)

    async def save_more(
        self, actor: Actor, *, happy_to_help: str | None, looking_for: str | None
    ) -> IntroductionView:
        """The second step: what the member can help with and what they are looking for."""
        helps = check_free_text(happy_to_help, "Happy to help with")
        looking = check_free_text(looking_for, "Looking for")
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._row(session, actor.guild_id, actor.user_id)
            if row is None:
                raise NotFound("Introduce yourself first with `/intro`.")
            row.happy_to_help, row.looking_for = helps, looking
            await self._changed(session, row, now)
            return _view(row)

    async def posted(self, intro_id: int, channel_id: int, message_id: int) -> None:
        """Remember the introduction's message, so editing edits that message."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Introduction)
                .where(Introduction.id == intro_id)
                .values(channel_id=channel_id, message_id=message_id)
            )

    async def remove(self, actor: Actor, user_id: int) -> IntroductionView:
        """Organisers take an introduction down (the cog tells the member why)."""
        await self._meetups.require_organiser(actor)
        async with self._sessions.begin() as session:
            row = await self._row(session, actor.guild_id, user_id)
            if row is None:
                raise NotFound("That member has no introduction here.")
            view = _view(row)
            await self._delete(session, row)
        return view

    async def _row(self, session: AsyncSession, guild_id: int, user_id: int) -> Introduction | None:
        row: Introduction | None = await session.scalar(
            select(Introduction)
            .where(Introduction.guild_id == guild_id, Introduction.user_id == user_id)
            .execution_options(populate_existing=True)
        )
        return row

    async def _changed(self, session: AsyncSession, row: Introduction, now: datetime) -> None:
        for key, value in _keys(row).items():
            setattr(row, key, value)
        row.updated_at = now
        await session.flush()
        await session.execute(
            delete(IntroductionSkill).where(IntroductionSkill.introduction_id == row.id)
        )
        if row.skills:
            await session.execute(
                insert(session)(IntroductionSkill).values(
                    [
                        {"introduction_id": row.id, "tag": t, "guild_id": row.guild_id}
                        for t in row.skills
                    ]
                )
            )

    async def _delete(self, session: AsyncSession, row: Introduction) -> None:
        await jobs_repo.cancel_open(
            session, [INTRO_PURGE], row.id, now=self._clock(), why="introduction deleted"
        )
        await session.delete(row)

    # --- reading ----------------------------------------------------------------------

    async def get(self, guild_id: int, user_id: int) -> IntroductionView | None:
        """A member's introduction as the directory shows it (none once they have left)."""
        async with self._sessions() as session:
            row = await self._row(session, guild_id, user_id)
            return _view(row) if row is not None and row.left_at is None else None

    async def find(self, actor: Actor, criteria: Criteria) -> SearchPage:
        """Start a search: kept, so its page buttons keep working (also after a restart)."""
        now = self._clock()
        async with self._sessions.begin() as session:
            await session.execute(
                delete(DirectorySearch).where(DirectorySearch.created_at < now - SEARCH_KEPT)
            )
            search = DirectorySearch(
                guild_id=actor.guild_id,
                user_id=actor.user_id,
                criteria={k: v for k, v in vars(criteria).items() if v is not None},
                created_at=now,
            )
            session.add(search)
            await session.flush()
            return await self._page(session, actor.guild_id, search.id, criteria, 0)

    async def search_page(self, actor: Actor, search_id: int, page: int) -> SearchPage:
        async with self._sessions() as session:
            search = await session.get(DirectorySearch, search_id)
            # Search results are the searcher's own (their buttons are on an ephemeral reply).
            if search is None or (search.guild_id, search.user_id) != (
                actor.guild_id,
                actor.user_id,
            ):
                raise NotFound("That search has expired. Run `/members find` again.")
            return await self._page(
                session, actor.guild_id, search_id, Criteria(**search.criteria), page
            )

    async def _page(
        self, session: AsyncSession, guild_id: int, search_id: int, criteria: Criteria, page: int
    ) -> SearchPage:
        matched = functools.reduce(
            operator.add, (case((test, 1), else_=0) for test in _tests(criteria))
        )
        ranked = (
            select(Introduction, matched.label("matched"), func.count().over().label("total"))
            .where(Introduction.guild_id == guild_id, _listed(), matched > 0)
            .order_by(matched.desc(), func.lower(Introduction.name), Introduction.id)
        )
        page = max(0, page)
        rows = (await session.execute(ranked.offset(page * PAGE_SIZE).limit(PAGE_SIZE))).all()
        if not rows and page > 0:
            # The directory shrank since the search: show its last page instead.
            return await self._page(session, guild_id, search_id, criteria, 0)
        total = int(rows[0].total) if rows else 0
        return SearchPage(
            search_id=search_id,
            criteria=criteria,
            page=page,
            total=total,
            results=[Found(_view(row.Introduction), int(row.matched)) for row in rows],
        )

    async def skills(self, guild_id: int, *, limit: int = 25) -> list[tuple[str, int]]:
        """The community's most common skills, with how many members list each."""
        count = func.count().label("members")
        async with self._sessions() as session:
            rows = await session.execute(
                select(IntroductionSkill.tag, count)
                .join(Introduction, Introduction.id == IntroductionSkill.introduction_id)
                .where(IntroductionSkill.guild_id == guild_id, _listed())
                .group_by(IntroductionSkill.tag)
                .order_by(count.desc(), IntroductionSkill.tag)
                .limit(limit)
            )
            return [(tag, int(n)) for tag, n in rows]

    async def suggestions(self, actor: Actor, *, limit: int = 5) -> list[Suggested]:
        async with self._sessions() as session:
            me = await self._row(session, actor.guild_id, actor.user_id)
            if me is None or me.left_at is not None:
                raise NotFound(
                    "Introduce yourself first with `/intro`: suggestions come from your skills "
                    "and what you're looking for."
                )
            rows = {
                row.user_id: row
                for row in await session.scalars(
                    select(Introduction).where(
                        Introduction.guild_id == actor.guild_id,
                        _listed(),
                        Introduction.user_id != actor.user_id,
                    )
                )
            }
        picked = suggest(_profile(me), [_profile(row) for row in rows.values()], limit=limit)
        return [Suggested(_view(rows[s.user_id]), s.reason) for s in picked]

    async def known_values(self, guild_id: int, field: str, typed: str) -> list[str]:
        """Autocomplete for /members find: skills, regions or organisations members gave."""
        key = search_key(typed)
        async with self._sessions() as session:
            if field == "skill":
                column: Any = IntroductionSkill.tag
                query = select(column, func.count()).join(
                    Introduction, Introduction.id == IntroductionSkill.introduction_id
                )
                query = query.where(IntroductionSkill.guild_id == guild_id, _listed())
                if key:
                    query = query.where(
                        column.like(like_pattern(normalise_tag(typed)), escape="\\")
                    )
            else:
                column = Introduction.region if field == "region" else Introduction.organisation
                keyed = (
                    Introduction.region_key if field == "region" else Introduction.organisation_key
                )
                query = select(column, func.count()).where(
                    Introduction.guild_id == guild_id, _listed(), column.is_not(None)
                )
                if key:
                    query = query.where(keyed.like(like_pattern(key), escape="\\"))
            rows = await session.execute(
                query.group_by(column).order_by(func.count().desc(), column).limit(25)
            )
            return [str(value) for value, _ in rows]

    # --- members leaving and returning ------------------------------------------------

    async def member_left(self, guild_id: int, user_id: int) -> IntroductionView | None:
        """Hide the introduction; delete it after the retention period unless they return."""
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._row(session, guild_id, user_id)
            if row is None or row.left_at is not None:
                return None
            row.left_at = now
            days = await _retention_days(session, guild_id)
            await jobs_repo.schedule(
                session,
                guild_id=guild_id,
                kind=INTRO_PURGE,
                subject_id=row.id,
                due_at=now + timedelta(days=days),
            )
            view = _view(row)
        self._jobs_changed()
        return view

    async def member_returned(self, guild_id: int, user_id: int) -> IntroductionView | None:
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._row(session, guild_id, user_id)
            if row is None or row.left_at is None:
                return None
            await self._came_back(session, row, now)
            return _view(row)

    async def _came_back(self, session: AsyncSession, row: Introduction, now: datetime) -> None:
        if row.left_at is None:
            return
        row.left_at = None
        await jobs_repo.cancel_open(session, [INTRO_PURGE], row.id, now=now, why="member returned")

    async def purge(self, intro_id: int) -> IntroductionView | datetime | None:
        """The retention job: delete a leaver's introduction once its time is up.

        Returns what was deleted, the new due time (a new job) when the retention period
        was lengthened meanwhile, or None when there is nothing to do (they came back).
        """
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(Introduction, intro_id, populate_existing=True)
            if row is None or row.left_at is None:
                return None
            due = row.left_at + timedelta(days=await _retention_days(session, row.guild_id))
            if due > now:
                await jobs_repo.schedule(
                    session, guild_id=row.guild_id, kind=INTRO_PURGE, subject_id=row.id, due_at=due
                )
                self._jobs_changed()
                return due
            view = _view(row)
            await session.delete(row)
            return view

    async def set_retention(self, actor: Actor, days: int) -> int:
        """/setup retention: how long a leaver's introduction is kept; pending deletions
        move to the new time (a shorter period deletes sooner, as members would expect)."""
        await self._settings.set_retention_days(actor, days)
        now = self._clock()
        async with self._sessions.begin() as session:
            leavers = await session.scalars(
                select(Introduction).where(
                    Introduction.guild_id == actor.guild_id, Introduction.left_at.is_not(None)
                )
            )
            for row in leavers:
                assert row.left_at is not None
                due = max(now, row.left_at + timedelta(days=days))
                for job in await jobs_repo.for_subject(session, [INTRO_PURGE], row.id):
                    if job.state == jobs_repo.PENDING:
                        await jobs_repo.rearm(session, job, due)
        self._jobs_changed()
        return days


def _region(text: str | None, choices: tuple[str, ...]) -> str | None:
    if not text:
        return None
    for choice in choices:
        if search_key(choice) == search_key(text):
            return choice
    raise BadInput(f"Pick a region from the list: {', '.join(choices)}.")


def _tests(criteria: Criteria) -> list[ColumnElement[bool]]:
    """One SQL test per given criterion; a member's rank is how many they pass."""
    tests: list[ColumnElement[bool]] = []
    if criteria.skill:
        tests.append(
            exists().where(
                IntroductionSkill.introduction_id == Introduction.id,
                IntroductionSkill.tag.like(like_pattern(criteria.skill), escape="\\"),
            )
        )
    if criteria.region:
        tests.append(Introduction.region_key == criteria.region)
    if criteria.organisation:
        tests.append(
            Introduction.organisation_key.like(like_pattern(criteria.organisation), escape="\\")
        )
    if criteria.role:
        tests.append(Introduction.role_key.like(like_pattern(criteria.role), escape="\\"))
    if criteria.text:
        tests.append(Introduction.search_text.like(like_pattern(criteria.text), escape="\\"))
    return tests


def _profile(row: Introduction) -> Profile:
    return Profile(
        user_id=row.user_id,
        organisation=row.organisation,
        region=row.region,
        skills=frozenset(row.skills),
        happy_to_help=row.happy_to_help,
        looking_for=row.looking_for,
    )


async def _retention_days(session: AsyncSession, guild_id: int) -> int:
    days = await session.scalar(
        select(GuildSettings.retention_days).where(GuildSettings.guild_id == guild_id)
    )
    return days or DEFAULT_RETENTION_DAYS


class IntroductionPersonalData:
    """Privacy: the member's introductions (with their skills) and saved searches."""

    name = "introductions"

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(Introduction).where(Introduction.user_id == user_id).order_by(Introduction.id)
        )
        searches = await session.scalars(
            select(DirectorySearch).where(DirectorySearch.user_id == user_id)
        )
        return [
            {
                "server_id": str(row.guild_id),
                "name": row.name,
                "role": row.role,
                "organisation": row.organisation,
                "region": row.region,
                "skills": list(row.skills),
                "happy_to_help": row.happy_to_help,
                "looking_for": row.looking_for,
                "left_server_at": row.left_at.isoformat() if row.left_at else None,
                "updated_at": row.updated_at.isoformat(),
            }
            for row in rows
        ] + [
            {
                "server_id": str(s.guild_id),
                "directory_search": s.criteria,
                "at": s.created_at.isoformat(),
            }
            for s in searches
        ]

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        ids = list(
            await session.scalars(select(Introduction.id).where(Introduction.user_id == user_id))
        )
        # Skills go with their introduction (ON DELETE CASCADE; SQLite enforces it too).
        await session.execute(
            delete(IntroductionSkill).where(IntroductionSkill.introduction_id.in_(ids))
        )
        intros = await session.execute(delete(Introduction).where(Introduction.user_id == user_id))
        searches = await session.execute(
            delete(DirectorySearch).where(DirectorySearch.user_id == user_id)
        )
        for intro_id in ids:
            await jobs_repo.cancel_open(
                session, [INTRO_PURGE], intro_id, now=self._clock(), why="erased"
            )
        return int(intros.rowcount or 0) + int(searches.rowcount or 0)  # type: ignore[attr-defined]
