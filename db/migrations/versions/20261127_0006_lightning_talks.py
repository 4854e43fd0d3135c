"""lightning talks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:47:21.485486
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talk_settings",
        sa.Column("meetup_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("lengths", sa.JSON(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval", sa.String(length=8), nullable=False),
        sa.Column("max_per_member", sa.Integer(), nullable=False),
        sa.Column("changeover", sa.Integer(), nullable=False),
        sa.Column("order_mode", sa.String(length=8), nullable=False),
        sa.Column("accepted_minutes", sa.Integer(), nullable=False),
        sa.Column("reserve_counter", sa.Integer(), nullable=False),
        sa.Column("on_stage_id", sa.Integer(), nullable=True),
        sa.Column("up_next_id", sa.Integer(), nullable=True),
        sa.Column("timer_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("timer_message_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "accepted_minutes >= 0", name=op.f("ck_talk_settings_accepted_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_talk_settings_meetup_id_meetups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meetup_id", name=op.f("pk_talk_settings")),
    )
    op.create_table(
        "talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("meetup_id", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=True),
        sa.Column("slides_url", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reserve_position", sa.Integer(), nullable=True),
        sa.Column("order_position", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("on_stage_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meetup_id"],
            ["meetups.id"],
            name=op.f("fk_talks_meetup_id_meetups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talks")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_talks_guild_id_number")),
    )
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_talks_meetup_id"), ["meetup_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_talks_speaker_id"), ["speaker_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("talks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talks_speaker_id"))
        batch_op.drop_index(batch_op.f("ix_talks_meetup_id"))

    op.drop_table("talks")
    op.drop_table("talk_settings")
