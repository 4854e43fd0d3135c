"""topics and polls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:11:57.605784
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("meetup_id", sa.Integer(), nullable=False),
        sa.Column("votes_per_member", sa.Integer(), nullable=False),
        sa.Column("agenda_size", sa.Integer(), nullable=False),
        sa.Column("results", sa.String(length=8), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_by", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_polls_meetup_id_meetups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
    )
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_polls_meetup_id"), ["meetup_id"], unique=False)

    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("meetup_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("details", sa.String(length=1000), nullable=True),
        sa.Column("suggested_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("carried_over", sa.Boolean(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("agenda_place", sa.Integer(), nullable=True),
        sa.Column("lead_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_topics_meetup_id_meetups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["topics.id"], name=op.f("fk_topics_merged_into_id_topics")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_topics_guild_id_number")),
    )
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topics_meetup_id"), ["meetup_id"], unique=False)

    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_ballots_used_not_negative")),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_ballots_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ballots")),
        sa.UniqueConstraint("poll_id", "user_id", name=op.f("uq_ballots_poll_id_user_id")),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballots_user_id"), ["user_id"], unique=False)

    op.create_table(
        "poll_topics",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_topics_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_poll_topics_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("poll_id", "topic_id", name=op.f("pk_poll_topics")),
    )
    op.create_table(
        "topic_support",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_topic_support_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_support")),
        sa.UniqueConstraint("topic_id", "user_id", name=op.f("uq_topic_support_topic_id_user_id")),
    )
    with op.batch_alter_table("topic_support", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_support_user_id"), ["user_id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("dots", sa.Integer(), nullable=False),
        sa.CheckConstraint("dots >= 0", name=op.f("ck_votes_dots_not_negative")),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_votes_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_votes_topic_id_topics"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint(
            "poll_id", "user_id", "topic_id", name=op.f("uq_votes_poll_id_user_id_topic_id")
        ),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_votes_poll_id"), ["poll_id"], unique=False)

    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topics_max_per_member", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("topics_max_per_member")

    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_votes_poll_id"))

    op.drop_table("votes")
    with op.batch_alter_table("topic_support", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_support_user_id"))

    op.drop_table("topic_support")
    op.drop_table("poll_topics")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballots_user_id"))

    op.drop_table("ballots")
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topics_meetup_id"))

    op.drop_table("topics")
    with op.batch_alter_table("polls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_polls_meetup_id"))

    op.drop_table("polls")
