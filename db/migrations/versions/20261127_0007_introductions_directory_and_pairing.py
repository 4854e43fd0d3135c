"""introductions, directory and pairing

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:56:40.696466
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_searches")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("directory_searches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_searches_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_searches_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "introductions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("organisation", sa.String(length=100), nullable=True),
        sa.Column("region", sa.String(length=50), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("happy_to_help", sa.String(length=500), nullable=True),
        sa.Column("looking_for", sa.String(length=500), nullable=True),
        sa.Column("role_key", sa.String(length=100), nullable=False),
        sa.Column("organisation_key", sa.String(length=100), nullable=False),
        sa.Column("region_key", sa.String(length=50), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introductions")),
        sa.UniqueConstraint("guild_id", "user_id", name=op.f("uq_introductions_guild_id_user_id")),
    )
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_introductions_guild_region", ["guild_id", "region_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_introductions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "pairing_members",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("guild_id", "user_id", name=op.f("pk_pairing_members")),
    )
    op.create_table(
        "pairing_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairing_rounds")),
        sa.UniqueConstraint("guild_id", "number", name=op.f("uq_pairing_rounds_guild_id_number")),
    )
    op.create_table(
        "introduction_skills",
        sa.Column("introduction_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["introduction_id"],
            ["introductions.id"],
            name=op.f("fk_introduction_skills_introduction_id_introductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("introduction_id", "tag", name=op.f("pk_introduction_skills")),
    )
    with op.batch_alter_table("introduction_skills", schema=None) as batch_op:
        batch_op.create_index("ix_introduction_skills_guild_tag", ["guild_id", "tag"], unique=False)

    op.create_table(
        "pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("starter", sa.String(length=300), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("delivered", sa.String(length=8), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["pairing_rounds.id"],
            name=op.f("fk_pairs_round_id_pairing_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairs")),
    )
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pairs_round_id"), ["round_id"], unique=False)

    op.create_table(
        "pair_members",
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_pair_members_pair_id_pairs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pair_id", "user_id", name=op.f("pk_pair_members")),
    )
    with op.batch_alter_table("pair_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pair_members_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pairing_cadence", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("pairing_cadence")
        batch_op.drop_column("retention_days")

    with op.batch_alter_table("pair_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pair_members_user_id"))

    op.drop_table("pair_members")
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairs_round_id"))

    op.drop_table("pairs")
    with op.batch_alter_table("introduction_skills", schema=None) as batch_op:
        batch_op.drop_index("ix_introduction_skills_guild_tag")

    op.drop_table("introduction_skills")
    op.drop_table("pairing_rounds")
    op.drop_table("pairing_members")
    with op.batch_alter_table("introductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_introductions_user_id"))
        batch_op.drop_index("ix_introductions_guild_region")

    op.drop_table("introductions")
    with op.batch_alter_table("directory_searches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_searches_user_id"))
        batch_op.drop_index(batch_op.f("ix_directory_searches_created_at"))

    op.drop_table("directory_searches")
