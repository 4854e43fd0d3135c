"""Apply and inspect Alembic migrations from inside the bot (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x7EC4_3EE7  # any fixed number; names the migration lock


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database up to `revision` in one transaction per revision run."""

    def run(connection: Connection) -> None:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds SQLite tables; with foreign keys on, dropping the old copy
            # would cascade into the rows that reference it. The pragma only takes effect
            # outside a transaction, so it is set on the raw connection before BEGIN.
            _pragma(connection, "foreign_keys=OFF")
        try:
            config = alembic_config()
            config.attributes["connection"] = connection
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # Two bot processes starting together: the second waits, then finds
                    # nothing left to do, instead of failing on "already exists".
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(connection, "foreign_keys=ON")

    async with engine.connect() as connection:
        await connection.run_sync(run)


def _pragma(connection: Connection, pragma: str) -> None:
    # Straight to the driver: a SQLAlchemy execute would BEGIN first.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
