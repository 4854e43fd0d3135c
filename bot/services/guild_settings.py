"""Use cases behind /setup: read and change a guild's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.domain.guild_settings import (
    DEFAULT_REGIONS,
    DEFAULT_REMINDER_OFFSETS,
    PURPOSE_DESCRIPTIONS,
    ChannelPurpose,
    missing_permissions,
    parse_offsets,
    parse_regions,
    resolve_timezone,
)
from bot.domain.introductions import DEFAULT_RETENTION_DAYS, check_retention
from bot.domain.members import Actor
from bot.errors import BadInput, NotAllowed
from db.engine import Sessions
from db.models import GuildChannel, GuildSettings
from db.repositories import guild_settings as repositories


@dataclass(frozen=True)
class GuildSettingsView:
    """A guild's effective settings: what is set, with defaults filled in."""

    guild_id: int
    timezone: str
    timezone_is_default: bool
    organiser_role_id: int | None
    ping_role_id: int | None
    reminder_offsets: tuple[int, ...]
    reminder_offsets_are_default: bool
    regions: tuple[str, ...]
    regions_are_default: bool
    topics_max_per_member: int | None
    retention_days: int
    pairing_cadence: str | None
    channels: dict[ChannelPurpose, int]
    updated_at: datetime | None
    updated_by: int | None

    def channel(self, purpose: ChannelPurpose) -> int | None:
        return self.channels.get(purpose)


CACHE_FOR = timedelta(seconds=30)
MAX_TOPICS_PER_MEMBER = 25


def require_manager(actor: Actor) -> None:
    if not actor.is_manager:
        raise NotAllowed(
            "Only members with the Manage Server permission can change the bot's settings."
        )


class GuildSettingsService:
    def __init__(
        self,
        sessions: Sessions,
        *,
        default_timezone: str,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._default_timezone = default_timezone
        self._clock = clock
        # Changes made by this process show at once; another process's within CACHE_FOR.
        self._cache: dict[int, tuple[datetime, GuildSettingsView]] = {}

    async def get(self, guild_id: int) -> GuildSettingsView:
        """The guild's settings, from a short-lived cache: read on nearly every click."""
        cached = self._cache.get(guild_id)
        now = self._clock()
        if cached is not None and now - cached[0] < CACHE_FOR:
            return cached[1]
        async with self._sessions() as session:
            view = await self._view(session, guild_id)
        self._cache[guild_id] = (now, view)
        return view

    async def show(self, actor: Actor) -> GuildSettingsView:
        """The settings, for managers: they name roles and channels members may not see."""
        require_manager(actor)
        return await self.get(actor.guild_id)

    def forget(self) -> None:
        """Drop cached settings, e.g. after rows changed outside this service."""
        self._cache.clear()

    async def set_channel(
        self,
        actor: Actor,
        purpose: ChannelPurpose,
        channel_id: int,
        *,
        bot_permissions: frozenset[str],
    ) -> GuildSettingsView:
        """Use `channel_id` for `purpose`, provided the bot can do there what the purpose needs."""
        require_manager(actor)
        missing = missing_permissions(purpose, bot_permissions)
        if missing:
            raise BadInput(
                f"I can't use <#{channel_id}> for {PURPOSE_DESCRIPTIONS[purpose]}: I'm missing "
                f"**{', '.join(missing)}** there. Give the bot's role those permissions in the "
                "channel's settings (Edit Channel, Permissions), then run this command again."
            )
        async with self._sessions.begin() as session:
            await repositories.set_guild_channel(
                session, actor.guild_id, purpose, channel_id, now=self._clock(), by=actor.user_id
            )
            await self._touch(session, actor)
            view = await self._view(session, actor.guild_id)
        self._cache.pop(actor.guild_id, None)
        return view

    async def set_organiser_role(self, actor: Actor, role_id: int) -> GuildSettingsView:
        require_manager(actor)
        if role_id == actor.guild_id:
            raise BadInput(
                "@everyone would make every member an organiser. Pick a role only organisers have."
            )
        return await self._update(actor, organiser_role_id=role_id)

    async def set_ping_role(self, actor: Actor, role_id: int | None) -> GuildSettingsView:
        require_manager(actor)
        if role_id == actor.guild_id:
            raise BadInput(
                "The bot won't ping @everyone. Pick a role members choose to join for meetup news, "
                "or leave the role out to turn pings off."
            )
        return await self._update(actor, ping_role_id=role_id)

    async def set_timezone(self, actor: Actor, text: str) -> GuildSettingsView:
        require_manager(actor)
        return await self._update(actor, timezone=resolve_timezone(text))

    async def set_reminder_offsets(self, actor: Actor, text: str) -> GuildSettingsView:
        require_manager(actor)
        return await self._update(actor, reminder_offsets=list(parse_offsets(text)))

    async def set_regions(self, actor: Actor, text: str) -> GuildSettingsView:
        require_manager(actor)
        return await self._update(actor, regions=list(parse_regions(text)))

    async def set_topics_max_per_member(self, actor: Actor, limit: int) -> GuildSettingsView:
        require_manager(actor)
        if not 1 <= limit <= MAX_TOPICS_PER_MEMBER:
            raise BadInput(
                f"A member may have 1 to {MAX_TOPICS_PER_MEMBER} open suggestions per meetup."
            )
        return await self._update(actor, topics_max_per_member=limit)

    async def set_retention_days(self, actor: Actor, days: int) -> GuildSettingsView:
        require_manager(actor)
        return await self._update(actor, retention_days=check_retention(days))

    async def _update(self, actor: Actor, **values: Any) -> GuildSettingsView:
        async with self._sessions.begin() as session:
            await repositories.ensure_guild_settings(session, actor.guild_id)
            await session.execute(
                update(GuildSettings)
                .where(GuildSettings.guild_id == actor.guild_id)
                .values(**values, updated_at=self._clock(), updated_by=actor.user_id)
            )
            view = await self._view(session, actor.guild_id)
        self._cache.pop(actor.guild_id, None)
        return view

    async def _touch(self, session: AsyncSession, actor: Actor) -> None:
        await session.execute(
            update(GuildSettings)
            .where(GuildSettings.guild_id == actor.guild_id)
            .values(updated_at=self._clock(), updated_by=actor.user_id)
        )

    async def _view(self, session: AsyncSession, guild_id: int) -> GuildSettingsView:
        row = await session.get(GuildSettings, guild_id, populate_existing=True)
        channels = await repositories.guild_channels(session, guild_id)
        offsets = tuple(row.reminder_offsets) if row and row.reminder_offsets else None
        regions = tuple(row.regions) if row and row.regions else None
        return GuildSettingsView(
            guild_id=guild_id,
            timezone=(row.timezone if row and row.timezone else self._default_timezone),
            timezone_is_default=not (row and row.timezone),
            organiser_role_id=row.organiser_role_id if row else None,
            ping_role_id=row.ping_role_id if row else None,
            reminder_offsets=offsets or DEFAULT_REMINDER_OFFSETS,
            reminder_offsets_are_default=offsets is None,
            regions=regions or DEFAULT_REGIONS,
            regions_are_default=regions is None,
            topics_max_per_member=row.topics_max_per_member if row else None,
            retention_days=(row.retention_days if row else None) or DEFAULT_RETENTION_DAYS,
            pairing_cadence=row.pairing_cadence if row else None,
            channels={
                ChannelPurpose(channel.purpose): channel.channel_id
                for channel in channels
                if channel.purpose in ChannelPurpose.__members__.values()
            },
            updated_at=row.updated_at if row else None,
            updated_by=row.updated_by if row else None,
        )


class GuildSettingsPersonalData:
    """Privacy: /setup records who last changed a setting."""

    name = "server_settings_changes"

    def __init__(self, service: GuildSettingsService) -> None:
        self._service = service

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        settings = await session.scalars(
            select(GuildSettings).where(GuildSettings.updated_by == user_id)
        )
        channels = await session.scalars(
            select(GuildChannel).where(GuildChannel.updated_by == user_id)
        )
        return [
            {"server_id": str(row.guild_id), "changed": "settings", "at": _iso(row.updated_at)}
            for row in settings
        ] + [
            {
                "server_id": str(row.guild_id),
                "changed": f"{row.purpose} channel",
                "at": _iso(row.updated_at),
            }
            for row in channels
        ]

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        # The settings stay (they belong to the server); only the link to the member goes.
        settings = await session.execute(
            update(GuildSettings).where(GuildSettings.updated_by == user_id).values(updated_by=None)
        )
        channels = await session.execute(
            update(GuildChannel).where(GuildChannel.updated_by == user_id).values(updated_by=None)
        )
        self._service.forget()
        return int(settings.rowcount or 0) + int(channels.rowcount or 0)  # type: ignore[attr-defined]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
