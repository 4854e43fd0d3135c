"""Settings read from the environment and validated once, at start-up.

Nothing here reads the environment at import time: the entry point loads `.env` and
passes `os.environ` to `Settings.from_env`.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///techmeet.db"
DEFAULT_TIMEZONE = "Europe/London"
DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Users paste URLs from hosting providers and guides; map them to the async drivers we ship.
_DRIVER_ALIASES = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


@dataclass(frozen=True)
class Settings:
    """Everything the bot needs from its deployment, already validated."""

    discord_token: str | None = field(default=None, repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    default_timezone: str = DEFAULT_TIMEZONE
    application_id: int | None = None
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    api_base_url: str = DISCORD_API_BASE_URL
    gateway_url: str = DISCORD_GATEWAY_URL
    # Gateway sharding: how many shards the bot has in all, and which this process runs.
    # None: one process, no sharding.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from environment variables, raising ConfigError on the first problem."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        token = get("DISCORD_TOKEN")
        if token is not None:
            _check_token(token)
        application_id = _snowflake("DISCORD_APPLICATION_ID", get("DISCORD_APPLICATION_ID"))
        shard_count, shard_ids = shards(get("SHARD_COUNT"), get("SHARD_IDS"))
        return cls(
            discord_token=token,
            database_url=database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            default_timezone=_timezone(get("DEFAULT_TIMEZONE") or DEFAULT_TIMEZONE),
            application_id=application_id,
            dev_guild_id=_snowflake("DEV_GUILD_ID", get("DEV_GUILD_ID")),
            log_level=_log_level(get("LOG_LEVEL") or "INFO"),
            # discord.py appends "/users/@me" and the like to this base.
            api_base_url=_url(
                "DISCORD_API_BASE_URL",
                get("DISCORD_API_BASE_URL") or DISCORD_API_BASE_URL,
                ("http", "https"),
            ).rstrip("/"),
            gateway_url=_url(
                "DISCORD_GATEWAY_URL",
                get("DISCORD_GATEWAY_URL") or DISCORD_GATEWAY_URL,
                ("ws", "wss"),
            ),
            shard_count=shard_count,
            shard_ids=shard_ids,
        )

    @property
    def invite_application_id(self) -> int | None:
        """For the invite link offline: the set id, or the bot's user id from the token
        (the same as the application id for every application made since 2019)."""
        if self.application_id is not None:
            return self.application_id
        return application_id_from_token(self.discord_token) if self.discord_token else None

    @property
    def database_display(self) -> str:
        """The database URL with any password hidden, safe to print and log."""
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"


def _check_token(token: str) -> None:
    # Never echo the token itself: it is a password.
    if any(ch.isspace() for ch in token) or token.count(".") != 2:
        raise ConfigError(
            "DISCORD_TOKEN",
            "does not look like a bot token (three parts separated by dots); copy it again "
            "from the Developer Portal, Bot page, Reset Token",
        )


def application_id_from_token(token: str) -> int | None:
    """A bot token starts with the base64 of the bot's user id, which is the application id."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() else None


def _snowflake(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(name, f"must be a Discord id (digits only), got {value!r}")
    return int(value)


def database_url(value: str) -> str:
    """Validate DATABASE_URL and normalise it to one of the async drivers the bot ships with."""
    try:
        url: URL = make_url(value)
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL",
            "is not a database URL; use e.g. sqlite+aiosqlite:///techmeet.db or "
            "postgresql+asyncpg://user:password@host:5432/techmeet",
        ) from None
    driver = _DRIVER_ALIASES.get(url.drivername, url.drivername)
    if driver not in SUPPORTED_DRIVERS:
        raise ConfigError(
            "DATABASE_URL",
            f"driver {url.drivername!r} is not supported; use sqlite+aiosqlite:// or "
            "postgresql+asyncpg://",
        )
    if driver.startswith("sqlite") and not url.database:
        raise ConfigError("DATABASE_URL", "needs a file name, e.g. sqlite+aiosqlite:///techmeet.db")
    if driver.startswith("sqlite") and url.database == ":memory:":
        raise ConfigError(
            "DATABASE_URL", "an in-memory SQLite database would lose everything on restart"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


MAX_SHARDS = 1024


def shards(count: str | None, ids: str | None) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT and SHARD_IDS (e.g. `4` and `0,1`); both unset means no sharding."""
    if count is None:
        if ids is not None:
            raise ConfigError("SHARD_IDS", "needs SHARD_COUNT too (how many shards in all)")
        return None, None
    if not count.isdigit() or not 1 <= int(count) <= MAX_SHARDS:
        raise ConfigError("SHARD_COUNT", f"must be a number from 1 to {MAX_SHARDS}, got {count!r}")
    total = int(count)
    if ids is None:
        return total, tuple(range(total))
    parts = [part.strip() for part in ids.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise ConfigError("SHARD_IDS", f"must be shard numbers separated by commas, got {ids!r}")
    chosen = tuple(sorted({int(part) for part in parts}))
    if chosen[-1] >= total:
        raise ConfigError(
            "SHARD_IDS", f"shard numbers go from 0 to {total - 1} with SHARD_COUNT={total}"
        )
    return total, chosen


def _timezone(value: str) -> str:
    problem = ConfigError(
        "DEFAULT_TIMEZONE", f"{value!r} is not an IANA timezone name such as Europe/London"
    )
    # Names some systems have that are not places (the host's own zone, placeholders).
    if value.casefold() in ("localtime", "factory", "posixrules"):
        raise problem
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem from None
    return value


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(name, f"must be a {' or '.join(schemes)} URL, got {value!r}")
    return value


def log_level_number(settings: Settings) -> int:
    return logging.getLevelNamesMapping()[settings.log_level]
