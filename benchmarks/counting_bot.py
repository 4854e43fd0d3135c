"""`techmeet run`, counting the SQL statements and transactions each interaction causes.

    python -m benchmarks.counting_bot COUNTS_FILE   (then the usual environment for `techmeet`)

Used by `benchmarks.command_latency`: the counts are written to COUNTS_FILE as JSON
(interaction id → [statements, transactions]) when the bot stops. Every statement is counted
with SQLAlchemy's `before_cursor_execute` event, plus the RSVP and vote statements that go
straight to the driver (db.raw). A statement belongs to the interaction whose
INTERACTION_CREATE started the task running it; scheduled jobs and coalesced message edits
(shared work, not a member's click) are not counted against any interaction.
"""

from __future__ import annotations

import contextvars
import functools
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from discord.state import ConnectionState
from sqlalchemy import event
from sqlalchemy.engine import Engine

import db.engine
from bot import __main__ as techmeet
from bot.coalescer import Coalescer
from bot.scheduler import Dispatcher
from db import raw

_interaction: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "interaction", default=None
)
statements: Counter[int] = Counter()
transactions: Counter[int] = Counter()


def _count(counter: Counter[int]) -> None:
    interaction = _interaction.get()
    if interaction is not None:
        counter[interaction] += 1


def watch_driver_statements(seen: Callable[[str], None]) -> None:
    """Call `seen` with each statement sent straight to the driver (db.raw: RSVPs and
    votes), which SQLAlchemy's events do not see."""
    for driver in (raw._Postgres, raw._Sqlite, raw._SqliteOnLoop):
        for name in ("row", "rows", "execute"):
            original = getattr(driver, name)

            async def counted(
                self: object, sql: str, *args: object, _original: Any = original
            ) -> Any:
                seen(sql)
                return await _original(self, sql, *args)

            setattr(driver, name, counted)


def _install() -> None:
    parse = ConnectionState.parse_interaction_create

    @functools.wraps(parse)
    def parse_interaction_create(self: ConnectionState, data: Any) -> None:
        # discord.py creates the handler's tasks in here, and tasks copy the context.
        token = _interaction.set(int(data["id"]))
        try:
            parse(self, data)
        finally:
            _interaction.reset(token)

    ConnectionState.parse_interaction_create = parse_interaction_create  # type: ignore[method-assign]

    def detached(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def run(*args: Any, **kwargs: Any) -> Any:
            token = _interaction.set(None)
            try:
                return await method(*args, **kwargs)
            finally:
                _interaction.reset(token)

        return run

    # Timers and coalesced edits run in tasks that copied the context of whichever
    # interaction set them off; their work is shared, not that interaction's.
    for owner, name in (
        (Dispatcher, "arm"),
        (Dispatcher, "run_due"),
        (Dispatcher, "sweep"),
        (Dispatcher, "_perform"),
        (Coalescer, "_drain"),
    ):
        setattr(owner, name, detached(getattr(owner, name)))

    event.listen(Engine, "before_cursor_execute", lambda *_: _count(statements))
    event.listen(Engine, "begin", lambda *_: _count(transactions))
    watch_driver_statements(lambda _: _count(statements))
    # BEGIN ... COMMIT on the driver (PostgreSQL's autocommit statements need none).
    names = vars(db.engine)
    opened = names["transaction"]

    def counted_transaction(engine: Any) -> Any:
        _count(transactions)
        return opened(engine)

    names["transaction"] = counted_transaction


def main() -> int:
    counts_file = sys.argv.pop(1)
    _install()
    try:
        return techmeet.main(["run"])
    finally:
        with open(counts_file, "w", encoding="utf-8") as out:
            json.dump({k: [statements[k], transactions[k]] for k in statements}, out)


if __name__ == "__main__":
    sys.exit(main())
