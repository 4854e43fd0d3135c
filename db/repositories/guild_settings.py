"""Queries shared by the services. Repositories read and write; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GuildChannel, GuildSettings


def _insert(session: AsyncSession) -> Any:
    """INSERT with ON CONFLICT support for the session's database."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def ensure_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings:
    """The guild's settings row, created with defaults if missing, safe under concurrency."""
    await session.execute(
        _insert(session)(GuildSettings).values(guild_id=guild_id).on_conflict_do_nothing()
    )
    settings = await session.get(GuildSettings, guild_id, populate_existing=True)
    assert settings is not None
    return settings


async def guild_channels(session: AsyncSession, guild_id: int) -> Sequence[GuildChannel]:
    result = await session.scalars(select(GuildChannel).where(GuildChannel.guild_id == guild_id))
    return result.all()


async def set_guild_channel(
    session: AsyncSession,
    guild_id: int,
    purpose: str,
    channel_id: int,
    *,
    now: datetime,
    by: int,
) -> None:
    """Use `channel_id` for `purpose`; an upsert, so concurrent changes never collide."""
    await ensure_guild_settings(session, guild_id)
    changes = {"channel_id": channel_id, "updated_at": now, "updated_by": by}
    await session.execute(
        _insert(session)(GuildChannel)
        .values(guild_id=guild_id, purpose=purpose, **changes)
        .on_conflict_do_update(index_elements=["guild_id", "purpose"], set_=changes)
    )
