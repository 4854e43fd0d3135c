"""Per-member quotas on SQLite and PostgreSQL: exactly the allowance under concurrent use,
a fresh window after it passes, per member and per server, and privacy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.domain.members import Actor
from bot.domain.quotas import NO_SERVER, QUOTAS
from bot.errors import Conflict
from bot.services.guild_settings import GuildSettingsService
from bot.services.privacy import PrivacyService, personal_data_sources
from bot.services.quotas import QuotaService
from db.engine import Sessions
from tests.clock import FakeClock

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ADA = Actor(600_000_000_000_000_009, 10)
ACTION = "topic suggest"
LIMIT = QUOTAS[ACTION].limit


async def test_concurrent_uses_get_exactly_the_allowance(sessions: Sessions) -> None:
    quotas = QuotaService(sessions, clock=FakeClock(NOW))
    results = await asyncio.gather(
        *(quotas.take(ADA, ACTION) for _ in range(LIMIT + 5)), return_exceptions=True
    )
    assert sum(r is None for r in results) == LIMIT
    refusals = [r for r in results if r is not None]
    assert all(isinstance(r, Conflict) for r in refusals)
    assert "10 times in 10 minutes" in str(refusals[0])
    assert "try again in 10 minutes" in str(refusals[0])


async def test_the_window_passes_and_counts_are_per_member_and_server(
    sessions: Sessions,
) -> None:
    clock = FakeClock(NOW)
    quotas = QuotaService(sessions, clock=clock)
    for _ in range(LIMIT):
        await quotas.take(ADA, ACTION)
    clock.advance(minutes=9, seconds=30)
    with pytest.raises(Conflict, match="try again in 30 seconds"):
        await quotas.take(ADA, ACTION)
    await quotas.take(Actor(ADA.guild_id, 11), ACTION)  # someone else
    await quotas.take(Actor(ADA.guild_id + 1, ADA.user_id), ACTION)  # another server
    await quotas.take(ADA, "talk propose")  # another action
    clock.advance(seconds=31)
    await quotas.take(ADA, ACTION)  # a new window


async def test_privacy_covers_the_counters(sessions: Sessions) -> None:
    await QuotaService(sessions, clock=FakeClock(NOW)).take(ADA, ACTION)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London")
    privacy = PrivacyService(sessions, personal_data_sources(settings))
    exported = (await privacy.export(ADA.user_id))["data"]["quotas"]
    assert exported == [
        {"server_id": str(ADA.guild_id), "action": ACTION, "used": 1, "since": NOW.isoformat()}
    ]
    report = await privacy.erase(ADA.user_id)
    assert "quotas" in report.sources
    assert (await privacy.export(ADA.user_id))["data"]["quotas"] == []


async def test_buttons_are_named_in_words_and_privacy_counts_everywhere(
    sessions: Sessions,
) -> None:
    """A family of buttons is refused in words of its own; /privacy counts once for the
    member across servers and direct messages."""
    quotas = QuotaService(sessions, clock=FakeClock(NOW))
    for _ in range(QUOTAS["pairing met"].limit):
        await quotas.take(ADA, "pairing met")
    with pytest.raises(Conflict) as refused:
        await quotas.take(ADA, "pairing met")
    assert refused.value.message.startswith("That's a lot of “did you meet?” answers at once")
    servers = [ADA.guild_id + n for n in range(QUOTAS["privacy export"].limit - 1)]
    for guild_id in [*servers, NO_SERVER]:
        await quotas.take(Actor(guild_id, ADA.user_id), "privacy export")
    with pytest.raises(Conflict, match="`/privacy export`"):
        await quotas.take(ADA, "privacy export")
