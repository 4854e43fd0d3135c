"""Database models. Every row is scoped by guild_id; datetimes are aware UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
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
