"""Alembic environment.

The bot runs migrations through db.migrate, which hands over an open connection in
`config.attributes["connection"]`. The alembic CLI (for writing new revisions) has no
connection, so one is opened from DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

import db.models  # noqa: F401  (registers every table on Base.metadata)
from db.base import Base
from db.engine import create_engine

target_metadata = Base.metadata


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url() -> None:
    # The same default as the bot; the URL must name an async driver (sqlite+aiosqlite://
    # or postgresql+asyncpg://), as .env.example shows.
    engine = create_engine(os.environ.get("DATABASE_URL") or "sqlite+aiosqlite:///techmeet.db")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with_connection)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

connection = context.config.attributes.get("connection")
if connection is None:
    asyncio.run(run_from_url())
else:
    run_with_connection(connection)
