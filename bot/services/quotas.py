"""Per-member quotas on writing commands, counted in the database (one atomic upsert), so a
member gets the same allowance whichever bot process answers them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.domain.members import Actor
from bot.domain.quotas import NO_SERVER, QUOTAS, retry_in
from bot.errors import Conflict
from db.engine import Sessions
from db.models import MemberQuota
from db.repositories._dialect import insert


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{(seconds + 59) // 60} minutes"


class QuotaService:
    def __init__(self, sessions: Sessions, *, clock: Clock = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    async def take(self, actor: Actor, action: str) -> None:
        """Count one use of `action`; Conflict (nothing else done) once over the quota.

        `actor.guild_id` may be NO_SERVER: an action used outside any server."""
        quota = QUOTAS[action]
        guild_id = NO_SERVER if quota.across_servers else actor.guild_id
        now = self._clock()
        expired = MemberQuota.window_start <= now - quota.per
        async with self._sessions.begin() as session:
            statement = (
                insert(session)(MemberQuota)
                .values(
                    guild_id=guild_id,
                    user_id=actor.user_id,
                    action=action,
                    window_start=now,
                    used=1,
                )
                .on_conflict_do_update(
                    index_elements=["guild_id", "user_id", "action"],
                    set_={
                        "used": case((expired, 1), else_=MemberQuota.used + 1),
                        "window_start": case((expired, now), else_=MemberQuota.window_start),
                    },
                )
                .returning(MemberQuota.used, MemberQuota.window_start)
            )
            used, window_start = (await session.execute(statement)).one()
        if used > quota.limit:
            wait = retry_in(now - window_start, quota)
            what = quota.label or f"`/{action}`"
            raise Conflict(
                f"That's a lot of {what} at once ({quota.describe()} is the most). "
                f"Please try again in {_wait(wait)}."
            )


class QuotaPersonalData:
    """Privacy: the member's usage counters."""

    name = "quotas"

    async def export(self, session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
        rows = await session.scalars(select(MemberQuota).where(MemberQuota.user_id == user_id))
        return [
            {
                "server_id": str(row.guild_id),
                "action": row.action,
                "used": row.used,
                "since": row.window_start.isoformat(),
            }
            for row in rows
        ]

    async def erase(self, session: AsyncSession, user_id: int) -> int:
        result = await session.execute(delete(MemberQuota).where(MemberQuota.user_id == user_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
