"""Topics, polls, ballots and votes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Ballot, Meetup, Poll, PollTopic, Topic, TopicSupport, Vote
from db.raw import RawTransaction, to_datetime
from db.repositories._dialect import insert, is_postgres

LIVE_STATUSES = ("open", "in_poll")


async def by_number(
    session: AsyncSession, guild_id: int, number: int, *, lock: bool = False
) -> Topic | None:
    """`lock` (PostgreSQL): changes to the topic wait for a poll opening on it, and back."""
    query = select(Topic).where(Topic.guild_id == guild_id, Topic.number == number)
    if lock and is_postgres(session):
        query = query.with_for_update()
    return await session.scalar(query)


def _in_pool(now: datetime) -> ColumnElement[bool]:
    """Open topics waiting for a vote: unattached, or left on a meetup that is over or
    cancelled without having voted on them (they go to the next meetup's poll)."""
    gone = select(Meetup.id).where((Meetup.status == "cancelled") | (Meetup.starts_at <= now))
    return Topic.meetup_id.is_(None) | (
        (Topic.status == "open") & Topic.meetup_id.in_(gone.scalar_subquery())
    )


async def open_topics(
    session: AsyncSession,
    guild_id: int,
    meetup_id: int | None,
    *,
    now: datetime,
    lock: bool = False,
) -> Sequence[Topic]:
    """Topics still collecting support for a meetup, and the pool offered to it. `lock`
    (PostgreSQL) holds them while a poll opens, so a concurrent withdraw or merge waits."""
    where = _in_pool(now)
    if meetup_id is not None:
        where = where | (Topic.meetup_id == meetup_id)
    query = (
        select(Topic)
        .where(Topic.guild_id == guild_id, Topic.status.in_(LIVE_STATUSES), where)
        .order_by(Topic.number)
    )
    if lock and is_postgres(session):
        query = query.with_for_update(of=Topic)
    return (await session.scalars(query)).all()


async def support_counts(session: AsyncSession, topic_ids: Sequence[int]) -> dict[int, int]:
    if not topic_ids:
        return {}
    rows = await session.execute(
        select(TopicSupport.topic_id, func.count())
        .where(TopicSupport.topic_id.in_(topic_ids))
        .group_by(TopicSupport.topic_id)
    )
    return {int(topic_id): int(count) for topic_id, count in rows}


async def add_support(session: AsyncSession, guild_id: int, topic_id: int, user_id: int) -> bool:
    """True if the member was not backing the topic yet."""
    result = await session.execute(
        insert(session)(TopicSupport)
        .values(guild_id=guild_id, topic_id=topic_id, user_id=user_id)
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def open_suggestions(
    session: AsyncSession, guild_id: int, user_id: int, meetup_id: int | None, *, now: datetime
) -> int:
    where = Topic.meetup_id == meetup_id if meetup_id is not None else _in_pool(now)
    count = await session.scalar(
        select(func.count())
        .select_from(Topic)
        .where(
            Topic.guild_id == guild_id,
            Topic.suggested_by == user_id,
            Topic.status.in_(LIVE_STATUSES),
            where,
        )
    )
    return int(count or 0)


async def poll_for(session: AsyncSession, meetup_id: int) -> Poll | None:
    """A meetup's poll, open or closed (there is at most one)."""
    return await session.scalar(select(Poll).where(Poll.meetup_id == meetup_id))


async def poll_topics(session: AsyncSession, poll_id: int) -> Sequence[Topic]:
    result = await session.scalars(
        select(Topic)
        .join(PollTopic, PollTopic.topic_id == Topic.id)
        .where(PollTopic.poll_id == poll_id)
        .order_by(Topic.number)
    )
    return result.all()


async def tally(session: AsyncSession, poll_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(Vote.topic_id, func.coalesce(func.sum(Vote.dots), 0))
        .where(Vote.poll_id == poll_id)
        .group_by(Vote.topic_id)
    )
    return {topic_id: int(dots) for topic_id, dots in rows}


async def voters(session: AsyncSession, poll_id: int) -> list[int]:
    result = await session.scalars(
        select(Ballot.user_id).where(Ballot.poll_id == poll_id, Ballot.used > 0)
    )
    return list(result)


async def agenda(session: AsyncSession, meetup_ids: Sequence[int]) -> dict[int, list[str]]:
    """Chosen topics' titles per meetup, in agenda order."""
    result: dict[int, list[str]] = {meetup_id: [] for meetup_id in meetup_ids}
    if not meetup_ids:
        return result
    rows = await session.execute(
        select(Topic.meetup_id, Topic.title)
        .where(Topic.meetup_id.in_(meetup_ids), Topic.status == "chosen")
        .order_by(Topic.agenda_place)
    )
    for meetup_id, title in rows:
        if meetup_id is not None:
            result[meetup_id].append(title)
    return result


async def drop_member_votes(session: AsyncSession, guild_id: int, user_id: int) -> list[int]:
    """A member left: their ballots in open polls go; returns those polls' ids."""
    polls = list(
        await session.scalars(
            select(Ballot.poll_id)
            .join(Poll, Poll.id == Ballot.poll_id)
            .where(Ballot.guild_id == guild_id, Ballot.user_id == user_id, Poll.status == "open")
        )
    )
    if polls:
        # Ballots before votes: the order a vote locks them in, so a member leaving while
        # a vote of theirs is in flight queues instead of deadlocking.
        await session.execute(
            delete(Ballot).where(Ballot.poll_id.in_(polls), Ballot.user_id == user_id)
        )
        await session.execute(delete(Vote).where(Vote.poll_id.in_(polls), Vote.user_id == user_id))
    return polls


async def lock_poll(session: AsyncSession, poll_id: int) -> None:
    """PostgreSQL: wait for votes in flight (they share-lock the poll) and hold new ones."""
    if is_postgres(session):
        await session.execute(select(Poll.id).where(Poll.id == poll_id).with_for_update())


async def add_dots(
    session: AsyncSession, *, guild_id: int, poll_id: int, topic_id: int, user_id: int, dots: int
) -> None:
    values = {"guild_id": guild_id, "poll_id": poll_id, "topic_id": topic_id, "user_id": user_id}
    await session.execute(
        insert(session)(Vote)
        .values(**values, dots=dots)
        .on_conflict_do_update(
            index_elements=["poll_id", "user_id", "topic_id"], set_={"dots": Vote.dots + dots}
        )
    )


async def set_statuses(session: AsyncSession, topic_ids: Sequence[int], status: str) -> None:
    if topic_ids:
        await session.execute(update(Topic).where(Topic.id.in_(topic_ids)).values(status=status))


# --- a dot, straight on the driver (db.raw): votes come in bursts ----------------------------

# Everything a member's ballot needs but the topics' titles, in one statement: the poll,
# whether the topic clicked is on its ballot, the ballot's topics and the member's dots
# ("topic:dots,..."). Titles do not change while a topic is on an open poll's ballot, so
# the service keeps them in memory.
_BALLOT = """
SELECT p.id, p.guild_id, p.status, p.closes_at, p.votes_per_member,
  coalesce(m.number, 0) AS meetup_number,
  pt.topic_id AS on_ballot,
  (SELECT {concat}(CAST(b.topic_id AS TEXT), ',') FROM poll_topics AS b
    WHERE b.poll_id = p.id) AS ballot,
  (SELECT {concat}(CAST(v.topic_id AS TEXT) || ':' || CAST(v.dots AS TEXT), ',') FROM votes AS v
    WHERE v.poll_id = p.id AND v.user_id = $3 AND v.dots > 0) AS mine
FROM polls AS p
LEFT OUTER JOIN meetups AS m ON m.id = p.meetup_id
LEFT OUTER JOIN poll_topics AS pt ON pt.poll_id = p.id AND pt.topic_id = $2
WHERE p.id = $1
"""
_BALLOT_POSTGRES = _BALLOT.format(concat="string_agg")
_BALLOT_SQLITE = _BALLOT.format(concat="group_concat")


async def raw_ballot(
    tx: RawTransaction, poll_id: int, user_id: int, *, topic_id: int = 0
) -> dict[str, Any] | None:
    """The poll and the member's ballot on it (`on_ballot`: whether `topic_id` is on it).
    Votes on PostgreSQL read it inside their own statement, which share-locks the poll
    (_VOTES_AT_ONCE); on SQLite the writer lock keeps closing out while a vote is written."""
    sql = _BALLOT_POSTGRES if tx.postgres else _BALLOT_SQLITE
    return _ballot_of_row(await tx.row(sql, poll_id, topic_id, user_id))


# PostgreSQL: whole votes in one statement (one round trip, its own transaction), for one
# click or for a batch of clicks on one poll that arrived together (bot.batches), each by
# a different member. It reads each member's ballot as _BALLOT does, share-locking the poll
# once for all of them (closing waits for it), spends a member's dot only if the poll was
# open when they clicked, in this server, with the topic on its ballot and their budget not
# spent, and puts the dot on the topic only if one was spent. The ballots read are from
# before the votes (one snapshot for the whole statement); `used` is NULL where nothing
# changed.
_VOTES_AT_ONCE = """
WITH clicks AS (
    SELECT user_id, topic_id, at, ord
    FROM unnest($2::bigint[], $3::bigint[], $5::timestamptz[])
        WITH ORDINALITY AS c (user_id, topic_id, at, ord)
), p AS (
    SELECT p.id, p.guild_id, p.status, p.closes_at, p.votes_per_member,
      coalesce(m.number, 0) AS meetup_number,
      (SELECT string_agg(CAST(b.topic_id AS TEXT), ',') FROM poll_topics AS b
        WHERE b.poll_id = p.id) AS ballot
    FROM polls AS p
    LEFT OUTER JOIN meetups AS m ON m.id = p.meetup_id
    WHERE p.id = $1
    FOR SHARE OF p
), before AS (
    SELECT c.user_id, c.at, c.ord, pt.topic_id AS on_ballot,
      (SELECT string_agg(CAST(v.topic_id AS TEXT) || ':' || CAST(v.dots AS TEXT), ',')
        FROM votes AS v WHERE v.poll_id = $1 AND v.user_id = c.user_id AND v.dots > 0) AS mine
    FROM clicks AS c
    LEFT OUTER JOIN poll_topics AS pt ON pt.poll_id = $1 AND pt.topic_id = c.topic_id
), spent AS (
    INSERT INTO ballots (guild_id, poll_id, user_id, used, updated_at)
    SELECT p.guild_id, p.id, before.user_id, 1, before.at FROM p, before
    WHERE p.guild_id = $4 AND p.status = 'open' AND p.closes_at > before.at
      AND before.on_ballot IS NOT NULL
    ON CONFLICT (poll_id, user_id) DO UPDATE SET used = ballots.used + 1,
        updated_at = excluded.updated_at
    WHERE ballots.used + 1 <= (SELECT votes_per_member FROM p)
    RETURNING user_id, used
), added AS (
    INSERT INTO votes (guild_id, poll_id, topic_id, user_id, dots)
    SELECT $4, $1, before.on_ballot, spent.user_id, 1 FROM spent JOIN before USING (user_id)
    ON CONFLICT (poll_id, user_id, topic_id) DO UPDATE SET dots = votes.dots + 1
)
SELECT p.*, before.user_id, before.on_ballot, before.mine, spent.used
FROM p CROSS JOIN before LEFT OUTER JOIN spent USING (user_id)
"""


async def pg_add_dots(
    tx: RawTransaction,
    *,
    guild_id: int,
    poll_id: int,
    clicks: Sequence[tuple[int, int, datetime]],
) -> list[dict[str, Any] | None]:
    """Per click (member, topic, when), in order: a dot on the topic, and the member's
    ballot as before it (see raw_ballot) with `used`, the dots used after this one (None
    when none was spent); None if the poll is gone. The ballot says why not. One click per
    member."""
    user_ids = [user_id for user_id, _, _ in clicks]
    assert len(set(user_ids)) == len(user_ids), "one click per member in a batch"
    rows = await tx.rows(
        _VOTES_AT_ONCE,
        poll_id,
        user_ids,
        [topic_id for _, topic_id, _ in clicks],
        guild_id,
        [at for _, _, at in clicks],
    )
    by_member = {row["user_id"]: row for row in rows}
    return [_ballot_of_row(by_member.get(user_id)) for user_id in user_ids]


# PostgreSQL: taking a dot back in one statement, as _VOTES_AT_ONCE adds one. The member's
# ballot row is locked (`mine_locked`) before their vote row is changed (`taken`, which
# waits for it): the order adding a dot takes them in, so the two at once queue instead of
# deadlocking. Only an open poll of this server gives a dot back; `taken` says if one was.
_TAKE_BACK_AT_ONCE = f"""
WITH p AS (
{_BALLOT_POSTGRES} FOR SHARE OF p
), mine_locked AS (
    SELECT used FROM ballots
    WHERE poll_id = $1 AND user_id = $3
      AND EXISTS (SELECT 1 FROM p WHERE guild_id = $4 AND status = 'open' AND closes_at > $5)
    FOR UPDATE
), taken AS (
    UPDATE votes SET dots = dots - 1
    WHERE poll_id = $1 AND topic_id = $2 AND user_id = $3 AND dots > 0
      AND EXISTS (SELECT 1 FROM mine_locked)
    RETURNING 1
), given_back AS (
    UPDATE ballots SET used = used - 1, updated_at = $5
    WHERE poll_id = $1 AND user_id = $3 AND EXISTS (SELECT 1 FROM taken)
)
SELECT p.*, EXISTS (SELECT 1 FROM taken) AS taken FROM p
"""


async def pg_take_back_dot(
    tx: RawTransaction, *, guild_id: int, poll_id: int, topic_id: int, user_id: int, now: datetime
) -> dict[str, Any] | None:
    """A dot off the topic in one statement; the member's ballot as before it (see
    raw_ballot), with `taken`: whether one was. The ballot says why not."""
    return _ballot_of_row(
        await tx.row(_TAKE_BACK_AT_ONCE, poll_id, topic_id, user_id, guild_id, now)
    )


def _ballot_of_row(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    mine = {}
    for pair in (row["mine"] or "").split(","):
        if pair:
            topic, dots = pair.split(":")
            mine[int(topic)] = int(dots)
    return {
        **row,
        "closes_at": to_datetime(row["closes_at"]),
        "ballot": [int(t) for t in (row["ballot"] or "").split(",") if t],
        "mine": mine,
    }


async def raw_spend_dot(
    tx: RawTransaction, *, guild_id: int, poll_id: int, user_id: int, budget: int, now: datetime
) -> int | None:
    """Dots used after spending one more, or None when the budget is spent. One statement,
    so two clicks at once can never both take the last dot."""
    row = await tx.row(
        "INSERT INTO ballots (guild_id, poll_id, user_id, used, updated_at)"
        " VALUES ($1, $2, $3, 1, $5)"
        " ON CONFLICT (poll_id, user_id) DO UPDATE SET used = ballots.used + 1,"
        " updated_at = excluded.updated_at WHERE ballots.used + 1 <= $4"
        " RETURNING used",
        guild_id,
        poll_id,
        user_id,
        budget,
        now,
    )
    return None if row is None else int(row["used"])


async def raw_add_dot(
    tx: RawTransaction, *, guild_id: int, poll_id: int, topic_id: int, user_id: int
) -> None:
    await tx.execute(
        "INSERT INTO votes (guild_id, poll_id, topic_id, user_id, dots) VALUES ($1, $2, $3, $4, 1)"
        " ON CONFLICT (poll_id, user_id, topic_id) DO UPDATE SET dots = votes.dots + 1",
        guild_id,
        poll_id,
        topic_id,
        user_id,
    )


async def raw_take_back_dot(
    tx: RawTransaction, *, poll_id: int, topic_id: int, user_id: int, now: datetime
) -> bool:
    """One dot off a topic and back into the member's budget; False if there was none.
    SQLite (PostgreSQL takes it back in one statement: _TAKE_BACK_AT_ONCE)."""
    taken = await tx.execute(
        "UPDATE votes SET dots = dots - 1"
        " WHERE poll_id = $1 AND topic_id = $2 AND user_id = $3 AND dots > 0",
        poll_id,
        topic_id,
        user_id,
    )
    if taken != 1:
        return False
    await tx.execute(
        "UPDATE ballots SET used = used - 1, updated_at = $3 WHERE poll_id = $1 AND user_id = $2",
        poll_id,
        user_id,
        now,
    )
    return True


# A poll as its message shows it, straight on the driver: the poll message is redrawn
# after bursts of votes, and the session path read it in seven queries (a few ms of the
# event loop's time on SQLite, in the middle of the next burst).
_POLL_VIEW = """
SELECT p.id, p.guild_id, p.meetup_id, p.votes_per_member, p.agenda_size, p.results,
  p.closes_at, p.status, p.channel_id, p.message_id, p.results_message_id,
  coalesce(m.number, 0) AS meetup_number,
  (SELECT count(*) FROM ballots AS b WHERE b.poll_id = p.id AND b.used > 0) AS voters
FROM polls AS p
LEFT OUTER JOIN meetups AS m ON m.id = p.meetup_id
WHERE p.id = $1
"""
TOPIC_COLUMNS = (
    "id",
    "guild_id",
    "number",
    "title",
    "details",
    "suggested_by",
    "meetup_id",
    "status",
    "carried_over",
    "lead_by",
)
_POLL_TOPICS = f"""
SELECT {", ".join(f"t.{name}" for name in TOPIC_COLUMNS)},
  (SELECT count(*) FROM topic_support AS s WHERE s.topic_id = t.id) AS support
FROM poll_topics AS pt
JOIN topics AS t ON t.id = pt.topic_id
WHERE pt.poll_id = $1
ORDER BY t.number
"""
_TALLY = "SELECT topic_id, sum(dots) AS dots FROM votes WHERE poll_id = $1 GROUP BY topic_id"


async def raw_poll_view(tx: RawTransaction, poll_id: int) -> dict[str, Any] | None:
    """The poll's row with `meetup_number` and `voters` (members with a dot spent), its
    `topics` (TOPIC_COLUMNS and `support`, by number) and its `tally` (dots per topic that
    has votes); None if it is gone."""
    poll = await tx.row(_POLL_VIEW, poll_id)
    if poll is None:
        return None
    tally = await tx.rows(_TALLY, poll_id)
    return {
        **poll,
        "closes_at": to_datetime(poll["closes_at"]),
        "topics": await tx.rows(_POLL_TOPICS, poll_id),
        "tally": {int(row["topic_id"]): int(row["dots"]) for row in tally},
    }
