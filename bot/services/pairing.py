"""Use cases behind /pairing: members opt in, rounds pair them across colleges on a cadence
(exactly once, through the one dispatcher), and a week later each pair is asked if they met."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.domain.pairing import (
    FOLLOW_UP_AFTER,
    Cadence,
    Candidate,
    PastPair,
    conversation_starter,
    first_round_at,
    next_round_at,
    pair_up,
)
from bot.domain.when import parse_date
from bot.errors import BadInput, NotAllowed, NotFound
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupService
from db.engine import Sessions
from db.models import GuildSettings, Introduction, Pair, PairingMember, PairingRound, PairMember
from db.repositories import guild_settings as settings_repo
from db.repositories import jobs as jobs_repo
from db.repositories._dialect import insert

PAIRING_ROUND = "pairing-round"
PAIRING_FOLLOW_UP = "pairing-follow-up"
SCHEDULED, DONE, CANCELLED = "scheduled", "done", "cancelled"
MAX_SNOOZE = timedelta(days=366)


@dataclass(frozen=True)
class PairView:
    id: int
    guild_id: int
    round_number: int
    members: tuple[int, ...]
    starter: str
    thread_id: int | None
    delivered: str | None  # "thread" or "dm" once introduced
    met: bool | None


@dataclass(frozen=True)
class RoundView:
    id: int
    guild_id: int
    number: int
    due_at: datetime


@dataclass(frozen=True)
class Membership:
    snoozed_until: datetime | None
    next_round: RoundView | None
    has_channel: bool


@dataclass(frozen=True)
class Stats:
    rounds: int
    pairs: int
    answered: int
    met: int
    opted_in: int
    cadence: Cadence | None
    next_round: RoundView | None


def _round_view(row: PairingRound) -> RoundView:
    return RoundView(row.id, row.guild_id, row.number, row.due_at)


class PairingService:
    def __init__(
        self,
        sessions: Sessions,
        settings: GuildSettingsService,
        meetups: MeetupService,
        *,
        clock: Clock = utcnow,
        jobs_changed: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._meetups = meetups
        self._clock = clock
        self._jobs_changed = jobs_changed
        self._rng = rng or random.Random()

    # --- members ----------------------------------------------------------------------

    async def join(self, actor: Actor) -> Membership:
        now = self._clock()
        async with self._sessions.begin() as session:
            introduced = await session.scalar(
                select(Introduction.id).where(
                    Introduction.guild_id == actor.guild_id,
                    Introduction.user_id == actor.user_id,
                    Introduction.left_at.is_(None),
                )
            )
            if introduced is None:
                raise NotFound(
                    "Introduce yourself first with `/intro`: your pair gets your introduction "
                    "to start the conversation."
                )
            await session.execute(
                insert(session)(PairingMember)
                .values(guild_id=actor.guild_id, user_id=actor.user_id, joined_at=now)
                .on_conflict_do_update(
                    index_elements=["guild_id", "user_id"], set_={"snoozed_until": None}
                )
            )
            return await self._membership(session, actor.guild_id, None)

    async def leave(self, actor: Actor) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(PairingMember).where(
                    PairingMember.guild_id == actor.guild_id,
                    PairingMember.user_id == actor.user_id,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def snooze(self, actor: Actor, until: str) -> Membership:
        """Skip rounds until the given day (in the guild's timezone)."""
        settings = await self._settings.get(actor.guild_id)
        tz = ZoneInfo(settings.timezone)
        now = self._clock()
        day = parse_date(until, now=now, tz=tz)
        back = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(now.tzinfo)
        if back <= now:
            raise BadInput("Give a day in the future, e.g. `10 Jan` or `2027-01-10`.")
        if back - now > MAX_SNOOZE:
            raise BadInput("Snooze for at most a year; `/pairing leave` stops pairings altogether.")
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(PairingMember)
                .where(
                    PairingMember.guild_id == actor.guild_id,
                    PairingMember.user_id == actor.user_id,
                )
                .values(snoozed_until=back)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound("You're not in pairing rounds; `/pairing join` signs you up.")
            return await self._membership(session, actor.guild_id, back)

    async def _membership(
        self, session: AsyncSession, guild_id: int, snoozed_until: datetime | None
    ) -> Membership:
        settings = await self._settings.get(guild_id)
        return Membership(
            snoozed_until=snoozed_until,
            next_round=await self._next_round(session, guild_id),
            has_channel=settings.channel(ChannelPurpose.PAIRING) is not None,
        )

    async def _next_round(self, session: AsyncSession, guild_id: int) -> RoundView | None:
        row = await session.scalar(
            select(PairingRound)
            .where(PairingRound.guild_id == guild_id, PairingRound.status == SCHEDULED)
            .order_by(PairingRound.due_at)
            .limit(1)
        )
        return _round_view(row) if row else None

    # --- organisers -------------------------------------------------------------------

    async def setup(self, actor: Actor, cadence: Cadence | None) -> RoundView | None:
        """Set the cadence (None switches rounds off); the next round is re-planned."""
        await self._meetups.require_organiser(actor)
        settings = await self._settings.get(actor.guild_id)
        now = self._clock()
        async with self._sessions.begin() as session:
            await settings_repo.ensure_guild_settings(session, actor.guild_id)
            await session.execute(
                update(GuildSettings)
                .where(GuildSettings.guild_id == actor.guild_id)
                .values(pairing_cadence=cadence.value if cadence else None)
            )
            await self._cancel_scheduled(session, actor.guild_id, now)
            planned = None
            if cadence is not None:
                due = first_round_at(now, ZoneInfo(settings.timezone))
                planned = await self._plan(session, actor.guild_id, due)
        self._settings.forget()
        self._jobs_changed()
        return planned

    async def run_now(self, actor: Actor) -> RoundView:
        """A round at once; the cadence carries on from now."""
        await self._meetups.require_organiser(actor)
        now = self._clock()
        async with self._sessions.begin() as session:
            # The server's settings row is locked first (as /pairing setup's update does),
            # so a second organiser pressing at the same time waits here, then calls this
            # round off: one stands. (Not the round counter: a round being run takes it
            # after its round row, and the opposite order would deadlock with it.)
            await settings_repo.ensure_guild_settings(session, actor.guild_id, lock=True)
            await self._cancel_scheduled(session, actor.guild_id, now)
            planned = await self._plan(session, actor.guild_id, now)
        self._jobs_changed()
        return planned

    async def _cancel_scheduled(self, session: AsyncSession, guild_id: int, now: datetime) -> None:
        rounds = list(
            await session.scalars(
                select(PairingRound.id).where(
                    PairingRound.guild_id == guild_id, PairingRound.status == SCHEDULED
                )
            )
        )
        for round_id in rounds:
            await jobs_repo.cancel_pending(
                session, [PAIRING_ROUND], round_id, now=now, why="pairing re-planned"
            )
        if rounds:
            await session.execute(
                update(PairingRound)
                .where(PairingRound.id.in_(rounds), PairingRound.ran_at.is_(None))
                .values(status=CANCELLED)
            )

    async def _plan(self, session: AsyncSession, guild_id: int, due: datetime) -> RoundView:
        # A counter, not max + 1: two organisers planning at once got the same number.
        number = await settings_repo.next_number(
            session,
            guild_id,
            "pairing-round",
            after=select(func.coalesce(func.max(PairingRound.number), 0))
            .where(PairingRound.guild_id == guild_id)
            .scalar_subquery(),
        )
        row = PairingRound(guild_id=guild_id, number=number, due_at=due, status=SCHEDULED)
        session.add(row)
        await session.flush()
        await jobs_repo.schedule(
            session, guild_id=guild_id, kind=PAIRING_ROUND, subject_id=row.id, due_at=due
        )
        return _round_view(row)

    # --- the round itself (dispatcher jobs) -------------------------------------------

    async def run_round(self, round_id: int) -> list[PairView] | None:
        """Make the round's pairs, once: a second run (after a crash or restart) returns the
        pairs still to be introduced. None if the round was called off."""
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await session.get(PairingRound, round_id, populate_existing=True)
            if row is None or row.status == CANCELLED:
                return None
            # The conditional update is the once-only gate, on SQLite and PostgreSQL alike.
            first = await session.execute(
                update(PairingRound)
                .where(PairingRound.id == round_id, PairingRound.ran_at.is_(None))
                .values(ran_at=now, status=DONE)
            )
            if first.rowcount:  # type: ignore[attr-defined]
                await self._make_pairs(session, row, now)
                await self._plan_next(session, row, now)
            return await self._pairs(session, round_id, undelivered=True)

    async def _make_pairs(self, session: AsyncSession, row: PairingRound, now: datetime) -> None:
        people = (
            await session.execute(
                select(Introduction)
                .join(
                    PairingMember,
                    (PairingMember.guild_id == Introduction.guild_id)
                    & (PairingMember.user_id == Introduction.user_id),
                )
                .where(
                    Introduction.guild_id == row.guild_id,
                    Introduction.left_at.is_(None),
                    (PairingMember.snoozed_until.is_(None)) | (PairingMember.snoozed_until <= now),
                )
                .order_by(Introduction.user_id)
            )
        ).scalars()
        candidates = [
            Candidate(p.user_id, p.organisation, p.region, frozenset(p.skills)) for p in people
        ]
        skills = {c.user_id: c.skills for c in candidates}
        pairing = pair_up(candidates, await _history(session, row.guild_id), self._rng)
        for group in pairing.groups:
            pair = Pair(
                guild_id=row.guild_id,
                round_id=row.id,
                starter=conversation_starter([skills[m] for m in group.members], self._rng)[:300],
            )
            session.add(pair)
            await session.flush()
            session.add_all(
                PairMember(pair_id=pair.id, user_id=member, guild_id=row.guild_id)
                for member in group.members
            )
        if pairing.groups:
            await jobs_repo.schedule(
                session,
                guild_id=row.guild_id,
                kind=PAIRING_FOLLOW_UP,
                subject_id=row.id,
                due_at=now + FOLLOW_UP_AFTER,
            )
        await session.flush()

    async def _plan_next(self, session: AsyncSession, row: PairingRound, now: datetime) -> None:
        settings = await self._settings.get(row.guild_id)
        cadence = settings.pairing_cadence
        if cadence is None:
            return
        pending = await self._next_round(session, row.guild_id)
        if pending is not None:
            return  # already planned (e.g. run-now while a cadence round waits)
        due = next_round_at(row.due_at, Cadence(cadence), now, ZoneInfo(settings.timezone))
        await self._plan(session, row.guild_id, due)
        self._jobs_changed()

    async def _pairs(
        self,
        session: AsyncSession,
        round_id: int,
        *,
        undelivered: bool = False,
        pair_id: int | None = None,
    ) -> list[PairView]:
        number = await session.scalar(
            select(PairingRound.number).where(PairingRound.id == round_id)
        )
        query = select(Pair).where(Pair.round_id == round_id).order_by(Pair.id)
        if undelivered:
            query = query.where(Pair.delivered.is_(None))
        if pair_id is not None:
            query = query.where(Pair.id == pair_id)
        pairs = list(await session.scalars(query))
        members: dict[int, list[int]] = {}
        for member_of, user_id in await session.execute(
            select(PairMember.pair_id, PairMember.user_id)
            .where(PairMember.pair_id.in_([p.id for p in pairs]))
            .order_by(PairMember.user_id)
        ):
            members.setdefault(member_of, []).append(user_id)
        return [
            PairView(
                p.id,
                p.guild_id,
                number or 0,
                tuple(members.get(p.id, ())),
                p.starter,
                p.thread_id,
                p.delivered,
                p.met,
            )
            for p in pairs
        ]

    async def round_threads(self, round_id: int) -> set[int]:
        """The threads recorded for the round's pairs (whichever run of the round made them)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(Pair.thread_id).where(Pair.round_id == round_id, Pair.thread_id.is_not(None))
            )
            return {thread_id for thread_id in found if thread_id is not None}

    async def delivered(
        self, pair_id: int, *, how: str | None, thread_id: int | None = None
    ) -> None:
        """Record where the pair was introduced; how=None records a thread being set up."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Pair).where(Pair.id == pair_id).values(delivered=how, thread_id=thread_id)
            )

    async def follow_up(self, round_id: int) -> list[PairView]:
        """The pairs to ask "Did you meet?" (those nobody has answered for yet)."""
        async with self._sessions() as session:
            return [p for p in await self._pairs(session, round_id) if p.met is None]

    async def answer(self, user_id: int, pair_id: int, met: bool) -> PairView:
        """A member of the pair answers; one "yes" from anyone counts for the pair."""
        async with self._sessions.begin() as session:
            pair = await session.get(Pair, pair_id)
            member = await session.get(PairMember, (pair_id, user_id))
            if pair is None:
                raise NotFound("That pairing no longer exists.")
            if member is None:
                raise NotAllowed("Only the people in this pairing can answer.")
            if met:
                pair.met = True
            elif pair.met is None:
                pair.met = False
            await session.flush()
            (view,) = await self._pairs(session, pair.round_id, pair_id=pair_id)
            return view

    async def stats(self, actor: Actor) -> Stats:
        await self._meetups.require_organiser(actor)
        settings = await self._settings.get(actor.guild_id)
        async with self._sessions() as session:
            guild = PairingRound.guild_id == actor.guild_id
            rounds = await session.scalar(
                select(func.count())
                .select_from(PairingRound)
                .where(guild, PairingRound.status == DONE)
            )
            # One pass over the guild's pairs for all three counts.
            pairs, answered, met = (
                await session.execute(
                    select(
                        func.count(),
                        func.count(Pair.met),
                        func.count().filter(Pair.met.is_(True)),
                    ).where(Pair.guild_id == actor.guild_id)
                )
            ).one()
            opted_in = await session.scalar(
                select(func.count())
                .select_from(PairingMember)
                .where(PairingMember.guild_id == actor.guild_id)
            )
            return Stats(
                rounds=rounds or 0,
                pairs=pairs or 0,
                answered=answered or 0,
                met=met or 0,
                opted_in=opted_in or 0,
                cadence=Cadence(settings.pairing_cadence) if settings.pairing_cadence else None,
                next_round=await self._next_round(session, actor.guild_id),
            )


async def _history(session: AsyncSession, guild_id: int) -> list[PastPair]:
    rows = await session.execute(
        select(PairMember.pair_id, PairMember.user_id, PairingRound.number)
        .join(Pair, Pair.id == PairMember.pair_id)
        .join(PairingRound, PairingRound.id == Pair.round_id)
        .where(Pair.guild_id == guild_id)
    )
    groups: dict[int, tuple[int, set[int]]] = {}
    for pair_id, user_id, number in rows:
        groups.setdefault(pair_id, (number, set()))[1].add(user_id)
    return [PastPair(frozenset(members), number) for number, members in groups.values()]


class PairingPersonalData:
    """Privacy: opting in, snoozes and pairing history."""

    name = "pairing"

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        joined = await session.scalars(
            select(PairingMember).where(PairingMember.user_id == user_id)
        )
        history = await session.execute(
            select(Pair, PairingRound.number)
            .join(PairMember, PairMember.pair_id == Pair.id)
            .join(PairingRound, PairingRound.id == Pair.round_id)
            .where(PairMember.user_id == user_id)
            .order_by(Pair.id)
        )
        out: list[dict[str, Any]] = [
            {
                "server_id": str(m.guild_id),
                "opted_in_at": m.joined_at.isoformat(),
                "snoozed_until": m.snoozed_until.isoformat() if m.snoozed_until else None,
            }
            for m in joined
        ]
        for pair, number in history:
            others = await session.scalars(
                select(PairMember.user_id).where(
                    PairMember.pair_id == pair.id, PairMember.user_id != user_id
                )
            )
            out.append(
                {
                    "server_id": str(pair.guild_id),
                    "round": number,
                    "paired_with": [str(o) for o in others],
                    "met": pair.met,
                }
            )
        return out

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        opted = await session.execute(delete(PairingMember).where(PairingMember.user_id == user_id))
        # The pair stays in the statistics; only this member's place in it goes.
        history = await session.execute(delete(PairMember).where(PairMember.user_id == user_id))
        return int(opted.rowcount or 0) + int(history.rowcount or 0)  # type: ignore[attr-defined]
