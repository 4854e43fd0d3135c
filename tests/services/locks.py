"""Waiting, in a test, until PostgreSQL shows a statement queued behind a row lock."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from db.engine import Sessions


async def until_waiting_for_a_lock(sessions: Sessions) -> None:
    """PostgreSQL: until some statement waits for a row lock (at most 5 s)."""
    for _ in range(500):
        async with sessions() as session:
            waiting = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no statement waited for the lock")
