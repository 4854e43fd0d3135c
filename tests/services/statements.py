"""Counting the SQL a service call sends (for the round-trip tests of the hot paths)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from db import raw


def record_statements(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that receives every statement sent from now on: SQLAlchemy's (its events) and
    db.raw's, which go straight to the driver past those events. BEGIN and COMMIT on the
    driver are not statements here."""
    sent: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    for driver in (raw._Postgres, raw._Sqlite, raw._SqliteOnLoop):
        for name in ("row", "rows", "execute"):
            original = getattr(driver, name)

            async def counted(self: object, sql: str, *args: object, _run: Any = original) -> Any:
                sent.append(sql)
                return await _run(self, sql, *args)

            monkeypatch.setattr(driver, name, counted)
    return sent
