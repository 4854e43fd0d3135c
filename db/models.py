"""Database models. Every row is scoped by guild_id; datetimes are aware UTC."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Snowflake, UTCDateTime, personal


class GuildSettings(Base):
    """Per-guild settings changed with /setup. A missing row or NULL column means the default."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    organiser_role_id: Mapped[int | None] = mapped_column(Snowflake)
    ping_role_id: Mapped[int | None] = mapped_column(Snowflake)
    # Minutes before a meetup, largest first.
    reminder_offsets: Mapped[list[int] | None] = mapped_column(JSON)
    regions: Mapped[list[str] | None] = mapped_column(JSON)
    topics_max_per_member: Mapped[int | None] = mapped_column(Integer)
    # Days a leaver's introduction is kept in case they come back.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # weekly, fortnightly or monthly; NULL = no pairing rounds.
    pairing_cadence: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())


class GuildChannel(Base):
    """The channel the bot uses for one purpose in a guild (announcements, introductions...)."""

    __tablename__ = "guild_channels"
    guild_id: Mapped[int] = mapped_column(
        Snowflake, ForeignKey("guild_settings.guild_id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[int] = mapped_column(Snowflake)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())


class GuildCounter(Base):
    """Per-guild numbering (TechMeet #1, #2...), taken with an atomic increment."""

    __tablename__ = "guild_counters"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class MeetupSeries(Base):
    """A repeating meetup: each occurrence is created when the previous one starts."""

    __tablename__ = "meetup_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake, index=True)
    # weekly, fortnightly or monthly (by weekday, `week_of_month` 1..4 or -1 for the last)
    repeat: Mapped[str] = mapped_column(String(16))
    week_of_month: Mapped[int | None] = mapped_column(Integer)
    # The wall-clock time in `timezone` every occurrence keeps, across daylight saving.
    timezone: Mapped[str] = mapped_column(String(64))
    first_starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[date | None] = mapped_column(Date)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())


class Meetup(Base):
    __tablename__ = "meetups"
    __table_args__ = (
        UniqueConstraint("guild_id", "number"),
        # A series' occurrence is created once even if its job runs twice.
        UniqueConstraint("series_id", "series_slot"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
        CheckConstraint("going_count >= 0", name="going_count_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    venue: Mapped[str | None] = mapped_column(String(100))
    online_url: Mapped[str | None] = mapped_column(String(512))
    voice_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    region: Mapped[str | None] = mapped_column(String(50))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Kept in step with the rsvps rows in the same transaction; capacity checks are a
    # conditional UPDATE on this column, which is atomic on SQLite and PostgreSQL alike.
    # It may exceed a lowered capacity: those already going keep their place.
    going_count: Mapped[int] = mapped_column(Integer, default=0)
    waitlist_counter: Mapped[int] = mapped_column(Integer, default=0)
    reminder_offsets: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # Bumped on every change people should see; the calendar's SEQUENCE.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    announcement_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    announcement_message_id: Mapped[int | None] = mapped_column(Snowflake)
    thread_id: Mapped[int | None] = mapped_column(Snowflake)
    scheduled_event_id: Mapped[int | None] = mapped_column(Snowflake)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetup_series.id", ondelete="SET NULL"), index=True
    )
    # The start the series' rule gave this occurrence; the next one follows from it even
    # if this one was moved to another day.
    series_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Rsvp(Base):
    """One member's answer for one meetup; the database allows only one."""

    __tablename__ = "rsvps"
    __table_args__ = (
        UniqueConstraint("meetup_id", "user_id"),
        # Every click asks whether anyone is waiting, and joining asks how many are ahead:
        # without this they read every answer the meetup has, which grows with the room.
        Index(
            "ix_rsvps_waitlist",
            "meetup_id",
            "waitlist_position",
            postgresql_where=text("status = 'waitlisted'"),
            sqlite_where=text("status = 'waitlisted'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    meetup_id: Mapped[int] = mapped_column(ForeignKey("meetups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())
    # going, maybe, not_going or waitlisted
    status: Mapped[str] = mapped_column(String(16))
    # Order on the waitlist: taken from meetups.waitlist_counter when joining it.
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberPreference(Base):
    """A member's choices in one guild (e.g. reminders by DM)."""

    __tablename__ = "member_preferences"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        Snowflake, primary_key=True, autoincrement=False, info=personal()
    )
    dm_reminders: Mapped[bool] = mapped_column(Boolean, default=False)


class ScheduledJob(Base):
    """Something that must happen at a time: the one queue every feature's timers use.

    APScheduler only wakes the bot up; this table decides what is due, and a conditional
    claim makes sure exactly one process performs each job.
    """

    __tablename__ = "scheduled_jobs"
    __table_args__ = (Index("ix_scheduled_jobs_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    kind: Mapped[str] = mapped_column(String(32))
    # The row the job acts on (a meetup, a poll...), by kind.
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    # Kind-specific detail, e.g. a reminder's offset in minutes.
    detail: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending, claimed, done, skipped, failed or cancelled
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # Bumped when the job is re-armed, so its message nonce differs from the last post's.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The bot process holding the claim (host:pid:random), not a member.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The posted message's id, or why the job failed or was skipped.
    result: Mapped[str | None] = mapped_column(String(300))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MeetupFeedback(Base):
    """After a meetup: was it worth your time (1-5) and one thing the member will do."""

    __tablename__ = "meetup_feedback"
    __table_args__ = (
        UniqueConstraint("meetup_id", "user_id"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    meetup_id: Mapped[int] = mapped_column(ForeignKey("meetups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())
    rating: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Topic(Base):
    """A discussion topic suggested for a meetup (or for the pool of the next one)."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("guild_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    number: Mapped[int] = mapped_column(Integer)
    # None: in the general pool, offered to the next meetup's poll.
    meetup_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetups.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(100))
    details: Mapped[str | None] = mapped_column(String(1000))
    suggested_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # open, in_poll, chosen, merged, removed or withdrawn
    status: Mapped[str] = mapped_column(String(16), default="open")
    carried_over: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"))
    # Place on the meetup's agenda once chosen (1 = first).
    agenda_place: Mapped[int | None] = mapped_column(Integer)
    # A member who volunteered to lead it ("I'll lead this").
    lead_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())


class TopicSupport(Base):
    """A member backing a topic (its suggester too): 'me too' for near-duplicates."""

    __tablename__ = "topic_support"
    __table_args__ = (UniqueConstraint("topic_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())


class Poll(Base):
    """A dot-vote on a meetup's topics; its winners become the agenda. One per meetup."""

    __tablename__ = "polls"
    __table_args__ = (UniqueConstraint("meetup_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    meetup_id: Mapped[int] = mapped_column(ForeignKey("meetups.id", ondelete="CASCADE"), index=True)
    votes_per_member: Mapped[int] = mapped_column(Integer)
    agenda_size: Mapped[int] = mapped_column(Integer)
    # live or hidden
    results: Mapped[str] = mapped_column(String(8))
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # open or closed
    status: Mapped[str] = mapped_column(String(8), default="open")
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    # Set once the ranked results are posted: until then closing (again) posts them.
    results_message_id: Mapped[int | None] = mapped_column(Snowflake)
    opened_by: Mapped[int | None] = mapped_column(Snowflake, info=personal())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PollTopic(Base):
    """The topics on a poll's ballot, fixed when it opens."""

    __tablename__ = "poll_topics"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )


class Ballot(Base):
    """One member's dots used in one poll; the budget is enforced on this row."""

    __tablename__ = "ballots"
    __table_args__ = (
        UniqueConstraint("poll_id", "user_id"),
        CheckConstraint("used >= 0", name="used_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())
    used: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Vote(Base):
    """Dots one member put on one topic of a poll."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("poll_id", "user_id", "topic_id"),
        CheckConstraint("dots >= 0", name="dots_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Snowflake, info=personal())
    dots: Mapped[int] = mapped_column(Integer, default=0)


class TalkSettings(Base):
    """A meetup's lightning-talk settings and running state (budget used, the timer)."""

    __tablename__ = "talk_settings"
    __table_args__ = (CheckConstraint("accepted_minutes >= 0", name="accepted_not_negative"),)

    meetup_id: Mapped[int] = mapped_column(
        ForeignKey("meetups.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    guild_id: Mapped[int] = mapped_column(Snowflake)
    lengths: Mapped[list[int]] = mapped_column(JSON)
    budget: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # auto or review
    approval: Mapped[str] = mapped_column(String(8))
    max_per_member: Mapped[int] = mapped_column(Integer)
    changeover: Mapped[int] = mapped_column(Integer)
    # proposed, random, manual or draw
    order_mode: Mapped[str] = mapped_column(String(8), default="proposed")
    # Kept in step with accepted talks in the same transaction; the budget check is a
    # conditional UPDATE on it, atomic on SQLite and PostgreSQL alike.
    accepted_minutes: Mapped[int] = mapped_column(Integer, default=0)
    reserve_counter: Mapped[int] = mapped_column(Integer, default=0)
    # On the night: the talk on stage and its timer message; who is up next (draw mode).
    on_stage_id: Mapped[int | None] = mapped_column(Integer)
    up_next_id: Mapped[int | None] = mapped_column(Integer)
    timer_channel_id: Mapped[int | None] = mapped_column(Snowflake)
    timer_message_id: Mapped[int | None] = mapped_column(Snowflake)


class Talk(Base):
    """A lightning talk proposed for a meetup."""

    __tablename__ = "talks"
    __table_args__ = (UniqueConstraint("guild_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    number: Mapped[int] = mapped_column(Integer)
    meetup_id: Mapped[int] = mapped_column(ForeignKey("meetups.id", ondelete="CASCADE"), index=True)
    speaker_id: Mapped[int | None] = mapped_column(Snowflake, index=True, info=personal())
    title: Mapped[str] = mapped_column(String(100))
    length: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(String(1000))
    slides_url: Mapped[str | None] = mapped_column(String(512))
    # accepted, pending, reserve, declined, withdrawn or removed
    status: Mapped[str] = mapped_column(String(16))
    reserve_position: Mapped[int | None] = mapped_column(Integer)
    # Place in the running order (accepted talks); in draw mode, set as each is drawn.
    order_position: Mapped[int | None] = mapped_column(Integer)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why an organiser declined or removed it (told to the speaker).
    reason: Mapped[str | None] = mapped_column(String(300))
    on_stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Introduction(Base):
    """A member's introduction: who they are, where they work, what they know.

    The `*_key` columns and `search_text` hold the same text case-folded for the directory,
    so searches are index- or LIKE-friendly and behave alike on SQLite and PostgreSQL.
    """

    __tablename__ = "introductions"
    __table_args__ = (
        UniqueConstraint("guild_id", "user_id"),
        Index("ix_introductions_guild_region", "guild_id", "region_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(50))
    # In the member's order, for display; introduction_skills holds them for searching.
    skills: Mapped[list[str]] = mapped_column(JSON)
    happy_to_help: Mapped[str | None] = mapped_column(String(500))
    looking_for: Mapped[str | None] = mapped_column(String(500))
    role_key: Mapped[str] = mapped_column(String(100), default="")
    organisation_key: Mapped[str] = mapped_column(String(100), default="")
    region_key: Mapped[str] = mapped_column(String(50), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    channel_id: Mapped[int | None] = mapped_column(Snowflake)
    message_id: Mapped[int | None] = mapped_column(Snowflake)
    # Set when the member leaves the server: hidden from the directory, deleted after the
    # guild's retention period unless they come back.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IntroductionSkill(Base):
    """One skill tag of an introduction, for search and the community's skill counts."""

    __tablename__ = "introduction_skills"
    __table_args__ = (Index("ix_introduction_skills_guild_tag", "guild_id", "tag"),)

    introduction_id: Mapped[int] = mapped_column(
        ForeignKey("introductions.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)


class DirectorySearch(Base):
    """A /members find search, kept so its page buttons work after a restart."""

    __tablename__ = "directory_searches"
    # Ids are never reused, so an old page button cannot open a newer search.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012  (SQLAlchemy reads it)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    user_id: Mapped[int] = mapped_column(Snowflake, index=True, info=personal())
    criteria: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PairingMember(Base):
    """A member who opted in to pairing rounds."""

    __tablename__ = "pairing_members"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        Snowflake, primary_key=True, autoincrement=False, info=personal()
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PairingRound(Base):
    """One round of pairings; created ahead with its due time, filled in when it runs."""

    __tablename__ = "pairing_rounds"
    __table_args__ = (UniqueConstraint("guild_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    number: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set, once, by the conditional update that makes the pairs: a second run does nothing.
    ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # scheduled, done or cancelled (cadence changed or pairing switched off)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")


class Pair(Base):
    """Two members (three for an odd count) introduced to each other in a round."""

    __tablename__ = "pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(Snowflake)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("pairing_rounds.id", ondelete="CASCADE"), index=True
    )
    starter: Mapped[str] = mapped_column(String(300))
    # Where they were introduced: a private thread, or "dm" when no thread was possible.
    thread_id: Mapped[int | None] = mapped_column(Snowflake)
    delivered: Mapped[str | None] = mapped_column(String(8))
    # "Did you meet?": NULL until someone answers; yes from anyone counts.
    met: Mapped[bool | None] = mapped_column(Boolean)


class PairMember(Base):
    __tablename__ = "pair_members"

    pair_id: Mapped[int] = mapped_column(
        ForeignKey("pairs.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        Snowflake, primary_key=True, autoincrement=False, index=True, info=personal()
    )
    guild_id: Mapped[int] = mapped_column(Snowflake)


class BotProcess(Base):
    """A running bot process and the gateway shards it holds, kept alive by heartbeats.

    Lets a second process on the same token be refused while the first is alive (two would
    both answer every interaction), and SQLite be refused for more than one process.
    """

    __tablename__ = "bot_processes"

    # host:pid:random, the same as the dispatcher's claim owner.
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    shard_count: Mapped[int] = mapped_column(Integer)
    shard_ids: Mapped[list[int]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberQuota(Base):
    """How often a member did one writing action in the current window (see
    bot.domain.quotas); in the database so the count holds across processes."""

    __tablename__ = "member_quotas"

    guild_id: Mapped[int] = mapped_column(Snowflake, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(
        Snowflake, primary_key=True, autoincrement=False, info=personal()
    )
    action: Mapped[str] = mapped_column(String(32), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    used: Mapped[int] = mapped_column(Integer)
