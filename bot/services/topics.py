"""Use cases behind /topic: suggest, back, merge, dot-vote, close, carry over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.batches import Batches, Turns
from bot.clock import Clock, utcnow
from bot.domain.members import Actor
from bot.domain.topics import (
    DEFAULT_AGENDA_SIZE,
    DEFAULT_CLOSE_BEFORE,
    DEFAULT_MAX_PER_MEMBER,
    DEFAULT_VOTES,
    MAX_POLL_TOPICS,
    Ranked,
    Results,
    TopicStatus,
    check_agenda_size,
    check_details,
    check_title,
    check_votes,
    near_duplicate,
    poll_closes,
    rank,
)
from bot.errors import BadInput, Conflict, NotAllowed, NotFound, TechMeetError
from bot.services.guild_settings import GuildSettingsService
from bot.services.meetups import MeetupService
from db import raw
from db.engine import Sessions
from db.models import Ballot, Meetup, Poll, PollTopic, Topic, TopicSupport, Vote
from db.repositories import guild_settings as settings_repo
from db.repositories import jobs as jobs_repo
from db.repositories import meetups as meetups_repo
from db.repositories import topics as repo

POLL_CLOSE = "poll-close"


@dataclass(frozen=True)
class TopicView:
    id: int
    guild_id: int
    number: int
    title: str
    details: str | None
    suggested_by: int | None
    meetup_id: int | None
    status: TopicStatus
    carried_over: bool
    support: int = 0
    lead_by: int | None = None


@dataclass(frozen=True)
class Suggested:
    """A new topic, or the open one it looks like (nothing created then)."""

    topic: TopicView
    duplicate_of: TopicView | None = None
    # The meetup asked for had already voted: the topic waits in the pool instead.
    already_voted: int | None = None


@dataclass(frozen=True)
class PollView:
    id: int
    guild_id: int
    meetup_id: int
    meetup_number: int
    votes_per_member: int
    agenda_size: int
    results: Results
    closes_at: datetime
    open: bool
    channel_id: int | None
    message_id: int | None
    topics: list[TopicView]
    tally: dict[int, int]
    voters: int
    results_message_id: int | None = None


@dataclass(frozen=True)
class BallotTopic:
    id: int
    number: int
    title: str


@dataclass(frozen=True)
class BallotView:
    """A member's own ballot: the poll's topics and their dots on each."""

    poll_id: int
    meetup_number: int
    votes_per_member: int
    open: bool
    topics: list[BallotTopic]
    mine: dict[int, int]

    @property
    def remaining(self) -> int:
        return self.votes_per_member - sum(self.mine.values())


@dataclass(frozen=True)
class Outcome:
    """A poll's result: the ranking and the agenda it set."""

    poll: PollView
    ranking: list[Ranked]
    agenda: list[TopicView]
    carried_over: list[TopicView] = field(default_factory=list)
    newly_closed: bool = True


# What "I'll lead this" hands over (the lightning-talk feature plugs in here): it gets the
# leader, the topic and its meetup's id, and returns a line telling the leader what it did.
Volunteered = Callable[[Actor, TopicView, int], Awaitable[str]]


class TopicService:
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
        self.on_volunteer: Volunteered | None = None
        # By poll, its ballot's topics. A topic's number and title cannot change while it
        # is on an open poll's ballot (only open suggestions can be edited). A poll that
        # ends is forgotten, so the bot's memory does not grow with every poll it has run.
        self._ballot_titles: dict[int, dict[int, BallotTopic]] = {}
        # Votes on PostgreSQL, by (poll, guild): a burst shares statements.
        self._votes_together: Batches[
            tuple[int, int], tuple[int, int, datetime], dict[str, Any] | None
        ] = Batches(self._vote_batch)
        self._voting: Turns[tuple[int, int]] = Turns()

    # --- members ----------------------------------------------------------------------

    async def suggest(
        self,
        actor: Actor,
        title: str,
        details: str | None,
        meetup_number: int | None,
        *,
        anyway: bool = False,
    ) -> Suggested:
        """A new topic for a meetup (the next one by default, else the general pool)."""
        title = check_title(title)
        details = check_details(details)
        settings = await self._settings.get(actor.guild_id)
        limit = settings.topics_max_per_member or DEFAULT_MAX_PER_MEMBER
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup_id = await self._target_meetup(session, actor.guild_id, meetup_number, now)
            already_voted = None
            if meetup_id is not None and await repo.poll_for(session, meetup_id) is not None:
                # That meetup's ballot is fixed: the topic waits for the next one's vote.
                meetup = await session.get(Meetup, meetup_id)
                already_voted = meetup.number if meetup else None
                meetup_id = None
            live = await repo.open_topics(session, actor.guild_id, meetup_id, now=now)
            similar = near_duplicate(title, [(t.id, t.title) for t in live])
            if similar is not None and not anyway:
                [match] = [t for t in live if t.id == similar]
                existing = await self._view(session, match)
                return Suggested(existing, duplicate_of=existing)
            if (
                await repo.open_suggestions(
                    session, actor.guild_id, actor.user_id, meetup_id, now=now
                )
                >= limit
            ):
                raise Conflict(
                    f"You already have {limit} open suggestion{'s' if limit != 1 else ''} for "
                    "this meetup. Withdraw one "
                    "(`/topic withdraw`) or back someone else's with `/topic list`."
                )
            topic = Topic(
                guild_id=actor.guild_id,
                number=await settings_repo.next_number(session, actor.guild_id, "topic"),
                meetup_id=meetup_id,
                title=title,
                details=details,
                suggested_by=actor.user_id,
                created_at=now,
                status=TopicStatus.OPEN.value,
                carried_over=False,
            )
            session.add(topic)
            await session.flush()
            await repo.add_support(session, actor.guild_id, topic.id, actor.user_id)
            return Suggested(await self._view(session, topic), already_voted=already_voted)

    async def support(self, actor: Actor, number: int) -> TopicView:
        async with self._sessions.begin() as session:
            topic = await self._live(session, actor.guild_id, number)
            await repo.add_support(session, actor.guild_id, topic.id, actor.user_id)
            return await self._view(session, topic)

    async def edit(
        self, actor: Actor, number: int, title: str | None, details: str | None
    ) -> TopicView:
        if title is None and details is None:
            raise BadInput("Give a new title or new details.")
        async with self._sessions.begin() as session:
            topic = await self._own_open(session, actor, number, "edit")
            if title is not None:
                topic.title = check_title(title)
            if details is not None:
                topic.details = check_details(details)
            return await self._view(session, topic)

    async def withdraw(self, actor: Actor, number: int) -> TopicView:
        async with self._sessions.begin() as session:
            topic = await self._own_open(session, actor, number, "withdraw")
            topic.status = TopicStatus.WITHDRAWN.value
            return await self._view(session, topic)

    async def topics(
        self, guild_id: int, meetup_number: int | None
    ) -> tuple[int | None, list[TopicView]]:
        """(meetup number, open topics) for a meetup (the next one by default) with the pool."""
        now = self._clock()
        async with self._sessions() as session:
            meetup_id = await self._target_meetup(session, guild_id, meetup_number, now)
            meetup = await session.get(Meetup, meetup_id) if meetup_id else None
            live = await repo.open_topics(session, guild_id, meetup_id, now=now)
            return (meetup.number if meetup else None), await self._views(session, live)

    async def choices(self, guild_id: int) -> list[TopicView]:
        """Live topics for autocomplete."""
        async with self._sessions() as session:
            live = await session.scalars(
                select(Topic)
                .where(Topic.guild_id == guild_id, Topic.status.in_(repo.LIVE_STATUSES))
                .order_by(Topic.number.desc())
                .limit(100)
            )
            return await self._views(session, list(live))

    # --- organisers -------------------------------------------------------------------

    async def merge(self, actor: Actor, source: int, target: int) -> tuple[TopicView, TopicView]:
        """Fold a duplicate into another topic: its backers back the target, and during a
        vote its dots move to the target (each member's budget is unchanged)."""
        await self._meetups.require_organiser(actor)
        if source == target:
            raise BadInput("Pick two different topics to merge.")
        async with self._sessions.begin() as session:
            src = await self._live(session, actor.guild_id, source)
            dst = await self._live(session, actor.guild_id, target)
            if src.status == TopicStatus.IN_POLL:
                await self._merge_votes(session, src, dst)
            backers = await session.scalars(
                select(TopicSupport.user_id).where(TopicSupport.topic_id == src.id)
            )
            for user_id in list(backers):
                await repo.add_support(session, actor.guild_id, dst.id, user_id)
            src.status = TopicStatus.MERGED.value
            src.merged_into_id = dst.id
            return await self._view(session, src), await self._view(session, dst)

    async def _merge_votes(self, session: AsyncSession, src: Topic, dst: Topic) -> None:
        polls = {
            topic.id: await session.scalar(
                select(PollTopic.poll_id)
                .join(Poll, Poll.id == PollTopic.poll_id)
                .where(PollTopic.topic_id == topic.id, Poll.status == "open")
            )
            for topic in (src, dst)
        }
        poll_id = polls[src.id]
        if poll_id is None or poll_id != polls[dst.id]:
            raise Conflict("During a vote, merge two topics that are on the same ballot.")
        # Hold the poll (votes share-lock it on PostgreSQL) while dots move.
        await repo.lock_poll(session, poll_id)
        for vote in list(
            await session.scalars(
                select(Vote).where(Vote.poll_id == poll_id, Vote.topic_id == src.id)
            )
        ):
            await repo.add_dots(
                session,
                guild_id=vote.guild_id,
                poll_id=poll_id,
                topic_id=dst.id,
                user_id=vote.user_id,
                dots=vote.dots,
            )
            await session.delete(vote)
        await session.execute(
            delete(PollTopic).where(PollTopic.poll_id == poll_id, PollTopic.topic_id == src.id)
        )

    async def remove(self, actor: Actor, number: int) -> TopicView:
        await self._meetups.require_organiser(actor)
        async with self._sessions.begin() as session:
            topic = await self._live(session, actor.guild_id, number)
            if topic.status == TopicStatus.IN_POLL:
                raise Conflict("That topic is on an open poll's ballot; close the poll first.")
            topic.status = TopicStatus.REMOVED.value
            return await self._view(session, topic)

    async def open_poll(
        self,
        actor: Actor,
        meetup_number: int,
        *,
        votes: int = DEFAULT_VOTES,
        closes: str | None = None,
        results: Results = Results.LIVE,
        agenda_size: int = DEFAULT_AGENDA_SIZE,
    ) -> PollView:
        settings = await self._meetups.require_organiser(actor)
        votes, agenda_size = check_votes(votes), check_agenda_size(agenda_size)
        now = self._clock()
        async with self._sessions.begin() as session:
            meetup = await meetups_repo.by_number(session, actor.guild_id, meetup_number)
            if meetup is None or meetup.status != "scheduled" or meetup.starts_at <= now:
                raise NotFound(f"TechMeet #{meetup_number} is not an upcoming meetup.")
            if await repo.poll_for(session, meetup.id) is not None:
                raise Conflict(f"TechMeet #{meetup_number} already has its vote (one per meetup).")
            closes_at = poll_closes(
                closes, starts_at=meetup.starts_at, now=now, tz=ZoneInfo(settings.timezone)
            )
            live = [
                t
                for t in await repo.open_topics(
                    session, actor.guild_id, meetup.id, now=now, lock=True
                )
                if t.status == TopicStatus.OPEN
            ]
            if not live:
                raise Conflict(
                    "There are no open topics to vote on yet: members can `/topic suggest`."
                )
            if len(live) > MAX_POLL_TOPICS:
                raise Conflict(
                    f"{len(live)} topics are open, more than a ballot holds ({MAX_POLL_TOPICS}). "
                    "Merge duplicates (`/topic merge`) or remove some (`/topic remove`) first."
                )
            poll = Poll(
                guild_id=actor.guild_id,
                meetup_id=meetup.id,
                votes_per_member=votes,
                agenda_size=agenda_size,
                results=results.value,
                closes_at=closes_at,
                status="open",
                opened_by=actor.user_id,
                opened_at=now,
            )
            try:
                async with session.begin_nested():
                    session.add(poll)
            except IntegrityError:
                # Another organiser opened it a moment ago (one poll per meetup).
                raise Conflict(f"TechMeet #{meetup_number} already has its vote.") from None
            for topic in live:
                session.add(PollTopic(poll_id=poll.id, topic_id=topic.id))
                # Pool topics join this meetup: the poll decides their fate here.
                topic.meetup_id = meetup.id
                topic.status = TopicStatus.IN_POLL.value
            await jobs_repo.schedule(
                session,
                guild_id=actor.guild_id,
                kind=POLL_CLOSE,
                subject_id=poll.id,
                due_at=closes_at,
            )
            view = await self._poll_view(session, poll)
        self._jobs_changed()
        return view

    async def attach_poll_message(self, poll_id: int, channel_id: int, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Poll)
                .where(Poll.id == poll_id)
                .values(channel_id=channel_id, message_id=message_id)
            )

    async def discard_poll(self, poll_id: int) -> None:
        """Undo opening a poll whose message could not be posted."""
        async with self._sessions.begin() as session:
            poll = await session.get(Poll, poll_id)
            if poll is None:
                return
            topic_ids = [t.id for t in await repo.poll_topics(session, poll_id)]
            await repo.set_statuses(session, topic_ids, TopicStatus.OPEN.value)
            await jobs_repo.cancel_open(
                session, [POLL_CLOSE], poll_id, now=self._clock(), why="not posted"
            )
            await session.delete(poll)
        self._ballot_titles.pop(poll_id, None)
        self._jobs_changed()

    async def close_meetup_poll(self, actor: Actor, meetup_number: int) -> Outcome:
        await self._meetups.require_organiser(actor)
        async with self._sessions() as session:
            meetup = await meetups_repo.by_number(session, actor.guild_id, meetup_number)
            poll = await repo.poll_for(session, meetup.id) if meetup else None
        if poll is None:
            raise NotFound(f"TechMeet #{meetup_number} has no vote to close.")
        # Closing a closed poll again is harmless: it posts results still missing.
        return await self.close(poll.id)

    async def close(self, poll_id: int) -> Outcome:
        """Close a poll exactly once (the job, or an organiser): rank, set the agenda, carry
        the rest over. Closing again returns the same outcome and changes nothing."""
        now = self._clock()
        async with self._sessions.begin() as session:
            closed = await session.execute(
                update(Poll)
                .where(Poll.id == poll_id, Poll.status == "open")
                .values(status="closed", closed_at=now)
            )
            newly = bool(closed.rowcount)  # type: ignore[attr-defined]
            poll = await session.get(Poll, poll_id, populate_existing=True)
            if poll is None:
                raise NotFound("That poll no longer exists.")
            topics = await repo.poll_topics(session, poll_id)
            dots = await repo.tally(session, poll_id)
            ranking = rank([(t.id, dots.get(t.id, 0), t.number) for t in topics])
            by_id = {t.id: t for t in topics}
            chosen_ids = [r.topic_id for r in ranking if r.dots > 0][: poll.agenda_size]
            if newly:
                # Only a job still waiting: a running one is this very close.
                await jobs_repo.cancel_pending(
                    session, [POLL_CLOSE], poll_id, now=now, why="closed by an organiser"
                )
                for place, topic_id in enumerate(chosen_ids, start=1):
                    topic = by_id[topic_id]
                    topic.status = TopicStatus.CHOSEN.value
                    topic.agenda_place = place
                for topic in topics:
                    if topic.id not in chosen_ids and topic.status == TopicStatus.IN_POLL:
                        # Not chosen this time: offered to the next meetup's poll.
                        topic.status = TopicStatus.OPEN.value
                        topic.meetup_id = None
                        topic.carried_over = True
            await session.flush()
            view = await self._poll_view(session, poll)
            agenda = [await self._view(session, by_id[i]) for i in chosen_ids]
            carried = [await self._view(session, t) for t in topics if t.id not in chosen_ids]
        self._ballot_titles.pop(poll_id, None)
        self._jobs_changed()
        return Outcome(view, ranking, agenda, carried, newly)

    async def record_results(self, poll_id: int, message_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Poll).where(Poll.id == poll_id).values(results_message_id=message_id)
            )

    async def meetup_cancelled(self, meetup_id: int) -> int | None:
        """The meetup is off: an open vote stops without an agenda and its topics (and any
        waiting for it) go back to the pool. Returns the stopped poll's id."""
        now = self._clock()
        async with self._sessions.begin() as session:
            poll = await repo.poll_for(session, meetup_id)
            stopped = None
            if poll is not None and poll.status == "open":
                poll.status, poll.closed_at, stopped = "closed", now, poll.id
                await jobs_repo.cancel_pending(
                    session, [POLL_CLOSE], poll.id, now=now, why="the meetup was cancelled"
                )
            await session.execute(
                update(Topic)
                .where(Topic.meetup_id == meetup_id, Topic.status.in_(repo.LIVE_STATUSES))
                .values(status=TopicStatus.OPEN.value, meetup_id=None, carried_over=True)
            )
        if stopped is not None:
            self._ballot_titles.pop(stopped, None)
        self._jobs_changed()
        return stopped

    async def meetup_moved(self, meetup_id: int, starts_at: datetime) -> None:
        """A vote must close before its meetup starts: an earlier start pulls it forward."""
        now = self._clock()
        async with self._sessions.begin() as session:
            poll = await repo.poll_for(session, meetup_id)
            if poll is None or poll.status != "open" or poll.closes_at <= starts_at:
                return
            poll.closes_at = max(starts_at - DEFAULT_CLOSE_BEFORE, now)
            for job in await jobs_repo.for_subject(session, [POLL_CLOSE], poll.id):
                if job.state in jobs_repo.OPEN_STATES:
                    await jobs_repo.rearm(session, job, poll.closes_at)
        self._jobs_changed()

    async def poll_status(self, actor: Actor, meetup_number: int) -> tuple[PollView, list[int]]:
        """For organisers: who has voted (never how)."""
        await self._meetups.require_organiser(actor)
        async with self._sessions() as session:
            meetup = await meetups_repo.by_number(session, actor.guild_id, meetup_number)
            poll = await repo.poll_for(session, meetup.id) if meetup else None
            if poll is None:
                raise NotFound(f"TechMeet #{meetup_number} has no poll.")
            return await self._poll_view(session, poll), await repo.voters(session, poll.id)

    # --- voting -----------------------------------------------------------------------

    async def poll(self, poll_id: int) -> PollView | None:
        # Straight on the driver (repo.raw_poll_view): the poll message is redrawn from this
        # after bursts of votes. It takes its turn like a vote (see MeetupService.get).
        async with self._sessions.raw() as tx:
            return _poll_of(await repo.raw_poll_view(tx, poll_id))

    # A vote is the click members make most: one statement reads the poll and the member's
    # ballot, two spend the dot (on PostgreSQL all three are one statement), and the titles
    # come from memory (see _BALLOT in db.repositories.topics).

    async def ballot(self, guild_id: int, user_id: int, poll_id: int) -> BallotView:
        async with self._sessions() as session:
            poll = await repo.raw_ballot(await raw.within(session), poll_id, user_id)
        if poll is None or poll["guild_id"] != guild_id:
            raise NotFound("That poll no longer exists.")
        return await self._ballot_view(poll_id, poll, poll["mine"])

    async def add_dot(self, guild_id: int, user_id: int, poll_id: int, topic_id: int) -> BallotView:
        """One more dot from the member's budget on a topic. The budget is enforced by one
        conditional statement, so concurrent clicks can never overspend it."""
        # A member's clicks take effect in the order they were made (bot.batches.Turns);
        # which also keeps each batch to one click per member.
        async with self._voting.turn((poll_id, user_id)):
            return await self._add_dot(guild_id, user_id, poll_id, topic_id)

    async def _add_dot(
        self, guild_id: int, user_id: int, poll_id: int, topic_id: int
    ) -> BallotView:
        now = self._clock()
        if self._sessions.postgres:
            # Shared with the votes on the same poll that arrive meanwhile.
            poll = await self._votes_together.submit((poll_id, guild_id), (user_id, topic_id, now))
            _check_on_ballot(poll, topic_id, guild_id, now)
            assert poll is not None
            if poll["used"] is None:
                raise _no_dots_left(poll)
        else:
            async with self._sessions.raw() as tx:
                poll = await repo.raw_ballot(tx, poll_id, user_id, topic_id=topic_id)
                _check_on_ballot(poll, topic_id, guild_id, now)
                assert poll is not None
                used = await repo.raw_spend_dot(
                    tx,
                    guild_id=guild_id,
                    poll_id=poll_id,
                    user_id=user_id,
                    budget=poll["votes_per_member"],
                    now=now,
                )
                if used is None:
                    raise _no_dots_left(poll)
                await repo.raw_add_dot(
                    tx, guild_id=guild_id, poll_id=poll_id, topic_id=topic_id, user_id=user_id
                )
        mine = {**poll["mine"], topic_id: poll["mine"].get(topic_id, 0) + 1}
        return await self._ballot_view(poll_id, poll, mine)

    async def remove_dot(
        self, guild_id: int, user_id: int, poll_id: int, topic_id: int
    ) -> BallotView:
        async with self._voting.turn((poll_id, user_id)):
            return await self._remove_dot(guild_id, user_id, poll_id, topic_id)

    async def _remove_dot(
        self, guild_id: int, user_id: int, poll_id: int, topic_id: int
    ) -> BallotView:
        now = self._clock()
        taken = False
        if self._sessions.postgres:
            # Twice at most. A take-back that waited for the member's own "add" to commit
            # (sent by another process: in this one a member's clicks take turns) cannot
            # see that dot in the same statement (its snapshot is from before the wait);
            # the statement again, with a fresh snapshot, can.
            for _ in range(2):
                async with self._sessions.autocommit() as once:
                    poll = await repo.pg_take_back_dot(
                        once,
                        guild_id=guild_id,
                        poll_id=poll_id,
                        topic_id=topic_id,
                        user_id=user_id,
                        now=now,
                    )
                _check_votable(poll, guild_id, now)
                assert poll is not None
                taken = poll["taken"]
                if taken:
                    break
        else:
            async with self._sessions.raw() as tx:
                poll = await repo.raw_ballot(tx, poll_id, user_id, topic_id=topic_id)
                _check_votable(poll, guild_id, now)
                assert poll is not None
                taken = await repo.raw_take_back_dot(
                    tx, poll_id=poll_id, topic_id=topic_id, user_id=user_id, now=now
                )
        if not taken:
            raise Conflict("You have no dot on that topic to take back.")
        assert poll is not None
        mine = {**poll["mine"], topic_id: poll["mine"].get(topic_id, 1) - 1}
        return await self._ballot_view(poll_id, poll, {t: d for t, d in mine.items() if d > 0})

    async def _vote_batch(
        self, key: tuple[int, int], clicks: Sequence[tuple[int, int, datetime]]
    ) -> list[dict[str, Any] | None]:
        """PostgreSQL: votes by different members on one poll in one statement, one round
        trip (see _VOTES_AT_ONCE)."""
        poll_id, guild_id = key
        async with self._sessions.autocommit() as once:
            return await repo.pg_add_dots(once, guild_id=guild_id, poll_id=poll_id, clicks=clicks)

    async def _ballot_view(
        self, poll_id: int, poll: dict[str, Any], mine: dict[int, int]
    ) -> BallotView:
        known = self._ballot_titles.setdefault(poll_id, {})
        missing = [t for t in poll["ballot"] if t not in known]
        if missing:  # the first ballot this process shows for the poll
            async with self._sessions() as session:
                rows = await session.execute(
                    select(Topic.id, Topic.number, Topic.title).where(Topic.id.in_(missing))
                )
                for topic_id, number, title in rows:
                    known[topic_id] = BallotTopic(topic_id, number, title)
        topics = sorted((known[t] for t in poll["ballot"] if t in known), key=lambda t: t.number)
        if poll["status"] != "open":
            # Closed here or by another process: its ballot is seldom shown again.
            self._ballot_titles.pop(poll_id, None)
        return BallotView(
            poll_id=poll_id,
            meetup_number=poll["meetup_number"],
            votes_per_member=poll["votes_per_member"],
            open=poll["status"] == "open",
            topics=topics,
            mine=mine,
        )

    async def member_left(self, guild_id: int, user_id: int) -> list[int]:
        """A member left: their votes leave the open polls' tallies. Returns those polls."""
        async with self._sessions.begin() as session:
            return await repo.drop_member_votes(session, guild_id, user_id)

    async def volunteer(self, actor: Actor, topic_id: int) -> tuple[TopicView, str | None]:
        """ "I'll lead this": the member leads a topic on the agenda. Also returns what the
        hand-over did (a talk proposal), or why it could not."""
        async with self._sessions.begin() as session:
            topic = await session.get(Topic, topic_id)
            if topic is None or topic.guild_id != actor.guild_id:
                raise NotFound("That topic no longer exists.")
            if topic.status != TopicStatus.CHOSEN:
                raise Conflict("Only topics on the agenda can be led.")
            if topic.lead_by not in (None, actor.user_id):
                raise Conflict(f"<@{topic.lead_by}> is already leading this topic.")
            topic.lead_by = actor.user_id
            view = await self._view(session, topic)
        if self.on_volunteer is None or topic.meetup_id is None:
            return view, None
        try:
            return view, await self.on_volunteer(actor, view, topic.meetup_id)
        except TechMeetError as refused:
            # Leading stands either way; the member hears why there is no talk for it.
            return view, refused.message

    # --- helpers ----------------------------------------------------------------------

    async def _target_meetup(
        self, session: AsyncSession, guild_id: int, number: int | None, now: datetime
    ) -> int | None:
        if number is not None:
            meetup = await meetups_repo.by_number(session, guild_id, number)
            if meetup is None:
                raise NotFound(f"There is no TechMeet #{number} here.")
            if meetup.status != "scheduled" or meetup.starts_at <= now:
                raise Conflict(
                    f"TechMeet #{number} is over or cancelled; suggest for a coming one."
                )
            return meetup.id
        coming = await meetups_repo.upcoming(session, guild_id, now=now, limit=1)
        return coming[0].id if coming else None

    async def _live(self, session: AsyncSession, guild_id: int, number: int) -> Topic:
        topic = await repo.by_number(session, guild_id, number, lock=True)
        if topic is None or topic.status not in repo.LIVE_STATUSES:
            raise NotFound(f"There is no open Topic #{number}. Pick one from the list.")
        return topic

    async def _own_open(self, session: AsyncSession, actor: Actor, number: int, verb: str) -> Topic:
        topic = await self._live(session, actor.guild_id, number)
        if topic.suggested_by != actor.user_id:
            raise NotAllowed(f"Only the member who suggested Topic #{number} can {verb} it.")
        if topic.status != TopicStatus.OPEN:
            raise Conflict(f"Topic #{number} is on an open poll's ballot; it can't change now.")
        return topic

    async def _view(self, session: AsyncSession, topic: Topic) -> TopicView:
        [view] = await self._views(session, [topic])
        return view

    async def _views(self, session: AsyncSession, topics: list[Topic] | Any) -> list[TopicView]:
        topics = list(topics)
        support = await repo.support_counts(session, [t.id for t in topics])
        return [
            _topic_of(
                {name: getattr(t, name) for name in repo.TOPIC_COLUMNS},
                support=support.get(t.id, 0),
            )
            for t in topics
        ]

    async def _poll_view(self, session: AsyncSession, poll: Poll) -> PollView:
        """The poll as the session's transaction has it, changes not yet flushed included."""
        await session.flush()
        view = _poll_of(await repo.raw_poll_view(await raw.within(session), poll.id))
        if view is None:  # PostgreSQL: its meetup was discarded since the poll was read
            raise NotFound("That poll no longer exists.")
        return view


def _topic_of(topic: Mapping[str, Any], *, support: int) -> TopicView:
    """A topic's repo.TOPIC_COLUMNS (from a row or a Topic) as members see it."""
    return TopicView(
        id=topic["id"],
        guild_id=topic["guild_id"],
        number=topic["number"],
        title=topic["title"],
        details=topic["details"],
        suggested_by=topic["suggested_by"],
        meetup_id=topic["meetup_id"],
        status=TopicStatus(topic["status"]),
        carried_over=bool(topic["carried_over"]),  # SQLite's 0 or 1 on the driver
        support=support,
        lead_by=topic["lead_by"],
    )


def _poll_of(poll: Mapping[str, Any] | None) -> PollView | None:
    """A poll read by repo.raw_poll_view as members see it."""
    if poll is None:
        return None
    return PollView(
        id=poll["id"],
        guild_id=poll["guild_id"],
        meetup_id=poll["meetup_id"],
        meetup_number=poll["meetup_number"],
        votes_per_member=poll["votes_per_member"],
        agenda_size=poll["agenda_size"],
        results=Results(poll["results"]),
        closes_at=poll["closes_at"],
        open=poll["status"] == "open",
        channel_id=poll["channel_id"],
        message_id=poll["message_id"],
        topics=[_topic_of(topic, support=topic["support"]) for topic in poll["topics"]],
        tally=poll["tally"],
        voters=poll["voters"],
        results_message_id=poll["results_message_id"],
    )


def _check_votable(poll: Any, guild_id: int, now: datetime) -> None:
    if poll is None or poll["guild_id"] != guild_id:
        raise NotFound("That poll no longer exists.")
    if poll["status"] != "open" or poll["closes_at"] <= now:
        raise Conflict("This poll has closed, so votes can't change any more.")


def _check_on_ballot(poll: Any, topic_id: int, guild_id: int, now: datetime) -> None:
    _check_votable(poll, guild_id, now)
    if poll["on_ballot"] != topic_id:
        raise NotFound("That topic is not on this poll's ballot.")


def _no_dots_left(poll: Any) -> Conflict:
    return Conflict(
        f"You've used all {poll['votes_per_member']} of your dots. Take one back from "
        "another topic to move it."
    )


class TopicPersonalData:
    """Privacy: suggestions (authorship), support, votes and leading a topic."""

    name = "topics"

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        suggested = await session.scalars(select(Topic).where(Topic.suggested_by == user_id))
        backed = await session.execute(
            select(Topic)
            .join(TopicSupport, TopicSupport.topic_id == Topic.id)
            .where(TopicSupport.user_id == user_id)
        )
        votes = await session.execute(
            select(Vote, Topic)
            .join(Topic, Topic.id == Vote.topic_id)
            .where(Vote.user_id == user_id, Vote.dots > 0)
        )
        leading = await session.scalars(select(Topic).where(Topic.lead_by == user_id))
        opened = await session.scalars(select(Poll).where(Poll.opened_by == user_id))
        return (
            [
                {"server_id": str(t.guild_id), "suggested_topic": t.number, "title": t.title}
                for t in suggested
            ]
            + [{"server_id": str(t.guild_id), "backed_topic": t.number} for (t,) in backed]
            + [{"server_id": str(t.guild_id), "topic": t.number, "dots": v.dots} for v, t in votes]
            + [{"server_id": str(t.guild_id), "leads_topic": t.number} for t in leading]
            + [
                {"server_id": str(p.guild_id), "opened_vote_for_meetup": p.meetup_id}
                for p in opened
            ]
        )

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        changed = 0
        # Their dots leave the tallies and give the budget back (ballots go too). Ballot
        # before votes: the order a vote locks them in, so erasing during a vote queues
        # instead of deadlocking.
        for model in (Ballot, Vote, TopicSupport):
            result = await session.execute(delete(model).where(model.user_id == user_id))
            changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        for column in (Topic.suggested_by, Topic.lead_by, Poll.opened_by):
            result = await session.execute(
                update(column.class_).where(column == user_id).values({column.key: None})
            )
            changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return changed
