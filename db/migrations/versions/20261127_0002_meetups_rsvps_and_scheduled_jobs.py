"""meetups rsvps and scheduled jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:51:42.129778
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guild_counters",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "kind", name=op.f("pk_guild_counters")),
    )
    op.create_table(
        "meetup_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("repeat", sa.String(length=16), nullable=False),
        sa.Column("week_of_month", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("first_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetup_series")),
    )
    with op.batch_alter_table("meetup_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetup_series_guild_id"), ["guild_id"], unique=False)

    op.create_table(
        "member_preferences",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dm_reminders", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_member_preferences")),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=300), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_jobs")),
    )
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_jobs_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scheduled_jobs_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "meetups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("venue", sa.String(length=100), nullable=True),
        sa.Column("online_url", sa.String(length=512), nullable=True),
        sa.Column("voice_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("region", sa.String(length=50), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("going_count", sa.Integer(), nullable=False),
        sa.Column("waitlist_counter", sa.Integer(), nullable=False),
        sa.Column("reminder_offsets", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("announcement_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("announcement_message_id", sa.BigInteger(), nullable=True),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("scheduled_event_id", sa.BigInteger(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 1", name=op.f("ck_meetups_capacity_positive")
        ),
        sa.CheckConstraint("going_count >= 0", name=op.f("ck_meetups_going_count_not_negative")),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["meetup_series.id"],
            name=op.f("fk_meetups_series_id_meetup_series"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetups")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_meetups_guild_id_number")),
        sa.UniqueConstraint("series_id", "starts_at", name=op.f("uq_meetups_series_id_starts_at")),
    )
    with op.batch_alter_table("meetups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetups_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetups_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "meetup_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("meetup_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5", name=op.f("ck_meetup_feedback_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_meetup_feedback_meetup_id_meetups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetup_feedback")),
        sa.UniqueConstraint(
            "meetup_id", "user_id", name=op.f("uq_meetup_feedback_meetup_id_user_id")
        ),
    )
    with op.batch_alter_table("meetup_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetup_feedback_user_id"), ["user_id"], unique=False)

    op.create_table(
        "rsvps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("meetup_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("waitlist_position", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_rsvps_meetup_id_meetups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rsvps")),
        sa.UniqueConstraint("meetup_id", "user_id", name=op.f("uq_rsvps_meetup_id_user_id")),
    )
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rsvps_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rsvps_user_id"))

    op.drop_table("rsvps")
    with op.batch_alter_table("meetup_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetup_feedback_user_id"))

    op.drop_table("meetup_feedback")
    with op.batch_alter_table("meetups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetups_starts_at"))
        batch_op.drop_index(batch_op.f("ix_meetups_series_id"))

    op.drop_table("meetups")
    with op.batch_alter_table("scheduled_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduled_jobs_subject_id"))
        batch_op.drop_index("ix_scheduled_jobs_state_due_at")

    op.drop_table("scheduled_jobs")
    op.drop_table("member_preferences")
    with op.batch_alter_table("meetup_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetup_series_guild_id"))

    op.drop_table("meetup_series")
    op.drop_table("guild_counters")
