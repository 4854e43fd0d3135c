"""/privacy: a member's own data, exported or erased in every server the bot serves.

Each feature that stores something about members registers a PersonalDataSource; the
privacy service only walks the registry, so new features plug in without changes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.services.guild_settings import GuildSettingsPersonalData, GuildSettingsService
from bot.services.introductions import IntroductionPersonalData
from bot.services.meetups import MeetupPersonalData
from bot.services.pairing import PairingPersonalData
from bot.services.quotas import QuotaPersonalData
from bot.services.talks import TalkPersonalData
from bot.services.topics import TopicPersonalData
from db.engine import Sessions


class PersonalDataSource(Protocol):
    """One feature's personal data. `name` is the key in the export."""

    name: str

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]: ...

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        """Delete or unlink the member's rows; return how many rows changed."""
        ...


@dataclass(frozen=True)
class ErasureReport:
    rows_changed: int
    sources: tuple[str, ...]


class PrivacyService:
    def __init__(
        self,
        sessions: Sessions,
        sources: Sequence[PersonalDataSource],
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._sessions = sessions
        self._sources = tuple(sources)
        self._clock = clock

    async def export(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the member, as JSON-ready data."""
        async with self._sessions.begin() as session:
            data = {source.name: await source.export(session, user_id) for source in self._sources}
        return {
            "user_id": str(user_id),
            "exported_at": self._clock().isoformat(),
            "about": "Everything the TechMeet bot stores about you, in every server it serves.",
            "data": data,
        }

    async def erase(self, user_id: int) -> ErasureReport:
        """Erase the member everywhere, all or nothing."""
        async with self._sessions.begin() as session:
            changed = [await source.erase(session, user_id) for source in self._sources]
        return ErasureReport(
            rows_changed=sum(changed),
            sources=tuple(s.name for s, n in zip(self._sources, changed, strict=True) if n),
        )


def personal_data_sources(
    settings: GuildSettingsService, clock: Clock = utcnow
) -> list[PersonalDataSource]:
    """The registry: every feature that stores something about members is listed here."""
    return [
        GuildSettingsPersonalData(settings),
        MeetupPersonalData(clock),
        TopicPersonalData(),
        TalkPersonalData(clock),
        IntroductionPersonalData(clock),
        PairingPersonalData(),
        QuotaPersonalData(),
    ]
