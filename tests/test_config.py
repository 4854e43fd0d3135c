"""Settings are validated at start-up with one clear line per problem."""

from __future__ import annotations

import base64

import pytest

from bot.config import Settings, application_id_from_token
from bot.errors import ConfigError

APP_ID = 112233445566778899


def token_for(user_id: int) -> str:
    return base64.b64encode(str(user_id).encode()).decode().rstrip("=") + ".GxYz12.secretpart"


def test_defaults() -> None:
    """With nothing set the bot uses SQLite, London time and Discord itself."""
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///techmeet.db"
    assert settings.default_timezone == "Europe/London"
    assert settings.api_base_url == "https://discord.com/api/v10"
    assert settings.gateway_url.startswith("wss://gateway.discord.gg")
    assert settings.discord_token is None
    assert settings.log_level == "INFO"


def test_application_id_comes_from_the_token() -> None:
    """The token's first part is the bot's id; an explicit id wins."""
    assert application_id_from_token(token_for(APP_ID)) == APP_ID
    from_token = Settings.from_env({"DISCORD_TOKEN": token_for(APP_ID)})
    assert from_token.invite_application_id == APP_ID
    # Only an explicit id is handed to discord.py: otherwise Discord's own answer at login
    # wins (older applications have an id different from their bot's user id).
    assert from_token.application_id is None
    explicit = Settings.from_env(
        {"DISCORD_TOKEN": token_for(APP_ID), "DISCORD_APPLICATION_ID": "42"}
    )
    assert explicit.application_id == 42
    assert explicit.invite_application_id == 42


def test_token_never_shown() -> None:
    """The token is a password: not in repr, not in errors."""
    token = token_for(APP_ID)
    assert token not in repr(Settings.from_env({"DISCORD_TOKEN": token}))
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DISCORD_TOKEN": "not a token with spaces"})
    assert "spaces" not in str(caught.value)
    assert caught.value.variable == "DISCORD_TOKEN"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/tm", "postgresql+asyncpg://u:p@db:5432/tm"),
        ("postgres://u@db/tm", "postgresql+asyncpg://u@db/tm"),
        ("sqlite:///data/tm.db", "sqlite+aiosqlite:///data/tm.db"),
    ],
)
def test_database_url_normalised(url: str, expected: str) -> None:
    """URLs copied from hosting guides are mapped to the async drivers we ship."""
    assert Settings.from_env({"DATABASE_URL": url}).database_url == expected


def test_database_display_hides_password() -> None:
    """The password never reaches logs or output."""
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@db/tm"})
    assert "hunter2" not in settings.database_display


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "DATABASE_URL"),
        ({"DEFAULT_TIMEZONE": "Mars/Base"}, "DEFAULT_TIMEZONE"),
        ({"DISCORD_APPLICATION_ID": "abc"}, "DISCORD_APPLICATION_ID"),
        ({"DEV_GUILD_ID": "-5"}, "DEV_GUILD_ID"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DISCORD_API_BASE_URL": "ftp://x"}, "DISCORD_API_BASE_URL"),
        ({"DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL"),
        ({"DISCORD_TOKEN": "abc"}, "DISCORD_TOKEN"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    """Each bad value fails with the variable's name first."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(f"{variable}: ")


def test_blank_values_mean_default() -> None:
    """An empty line in .env (VAR=) means 'use the default', as .env.example shows."""
    settings = Settings.from_env({"DATABASE_URL": "", "LOG_LEVEL": " ", "DEV_GUILD_ID": ""})
    assert settings.database_url.startswith("sqlite+aiosqlite")
    assert settings.dev_guild_id is None


def test_endpoints_for_a_local_stand_in() -> None:
    """The API base loses a trailing slash (discord.py appends paths to it)."""
    settings = Settings.from_env(
        {
            "DISCORD_API_BASE_URL": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:8080/gateway",
        }
    )
    assert settings.api_base_url == "http://127.0.0.1:8080/api/v10"
    assert settings.gateway_url == "ws://127.0.0.1:8080/gateway"


def test_shards() -> None:
    """No sharding by default; SHARD_IDS defaults to every shard; bad values are named."""
    assert (Settings.from_env({}).shard_count, Settings.from_env({}).shard_ids) == (None, None)
    every = Settings.from_env({"SHARD_COUNT": "3"})
    assert (every.shard_count, every.shard_ids) == (3, (0, 1, 2))
    some = Settings.from_env({"SHARD_COUNT": "4", "SHARD_IDS": " 3, 1,1 "})
    assert some.shard_ids == (1, 3)
    for env, variable in (
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "two"}, "SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "a"}, "SHARD_IDS"),
    ):
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(env)
        assert raised.value.variable == variable
