"""Guild settings, channels and per-guild numbering."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GuildChannel, GuildCounter, GuildSettings
from db.repositories._dialect import insert


async def ensure_guild_settings(
    session: AsyncSession, guild_id: int, *, lock: bool = False
) -> GuildSettings:
    """The guild's settings row, created with defaults if missing, safe under concurrency.
    `lock` holds it until commit (PostgreSQL), so the guild's writers of it take turns."""
    await session.execute(
        insert(session)(GuildSettings).values(guild_id=guild_id).on_conflict_do_nothing()
    )
    settings = await session.get(
        GuildSettings, guild_id, populate_existing=True, with_for_update=lock
    )
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
        insert(session)(GuildChannel)
        .values(guild_id=guild_id, purpose=purpose, **changes)
        .on_conflict_do_update(index_elements=["guild_id", "purpose"], set_=changes)
    )


async def next_number(
    session: AsyncSession, guild_id: int, kind: str, *, after: ColumnElement[int] | int = 0
) -> int:
    """The next per-guild number for `kind` (TechMeet #1, #2...), atomic and gap-free.
    `after` is where a new counter starts: the highest number already given out, for
    things numbered before they had a counter."""
    await session.execute(
        insert(session)(GuildCounter)
        .values(guild_id=guild_id, kind=kind, value=after)
        .on_conflict_do_nothing()
    )
    value = await session.scalar(
        update(GuildCounter)
        .where(GuildCounter.guild_id == guild_id, GuildCounter.kind == kind)
        .values(value=GuildCounter.value + 1)
        .returning(GuildCounter.value)
    )
    return int(value)  # type: ignore[arg-type]
