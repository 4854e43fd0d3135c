"""The `techmeet` command: run the bot, migrate the database, check the setup, invite the bot."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import discord
from dotenv import find_dotenv, load_dotenv
from sqlalchemy.engine import make_url

from bot.config import Settings, log_level_number, shards
from bot.errors import AlreadyRunning, ConfigError
from db.engine import create_engine
from db.migrate import current_revision, head_revision, upgrade

if TYPE_CHECKING:
    from bot.client import TechMeetBot

log = logging.getLogger("techmeet")

NO_TOKEN_HELP = """\
techmeet: DISCORD_TOKEN is not set, so the bot cannot log in to Discord.
  1. Open https://discord.com/developers/applications and click New Application.
  2. On the Bot page, click Reset Token and copy the token. While there, turn on
     SERVER MEMBERS INTENT under Privileged Gateway Intents.
  3. Put the token in a file named .env where you run techmeet (see .env.example):
         DISCORD_TOKEN=your-token-here
  4. Run `techmeet invite-url` and open the link to add the bot to your server."""


class StartupError(Exception):
    """A start-up failure the person deploying the bot can fix; printed as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True))
    try:
        settings = Settings.from_env(os.environ)
        if getattr(args, "shard_count", None) or getattr(args, "shard_ids", None):
            count, ids = shards(args.shard_count or os.environ.get("SHARD_COUNT"), args.shard_ids)
            settings = dataclasses.replace(settings, shard_count=count, shard_ids=ids)
    except ConfigError as error:
        print(f"techmeet: configuration error: {error}", file=sys.stderr)
        return 2
    discord.utils.setup_logging(level=log_level_number(settings), root=True)
    if settings.log_level != "DEBUG":
        # Alembic announces its dialect on every connection and APScheduler every timer;
        # only useful when debugging.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    command = args.command or "run"
    try:
        return _COMMANDS[command](settings, args)
    except StartupError as error:
        print(f"techmeet: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C before the bot was online (e.g. while waiting for the database).
        print("techmeet: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="techmeet", description="The TechMeet Discord bot. Settings come from .env."
    )
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="migrate the database and start the bot (default)")
    run.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending database migrations"
    )
    run.add_argument(
        "--shard-count", metavar="N", help="shards of the bot in all (overrides SHARD_COUNT)"
    )
    run.add_argument(
        "--shard-ids",
        metavar="A,B",
        help="the shards this process runs, e.g. 0,1 (overrides SHARD_IDS)",
    )
    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")
    db_commands.add_parser("current", help="show the database's migration revision")
    commands.add_parser("check", help="check settings and the database without going online")
    commands.add_parser("invite-url", help="print the link that adds the bot to a server")
    return parser


async def _run(settings: Settings, *, migrate: bool) -> int:
    if settings.discord_token is None:
        print(NO_TOKEN_HELP, file=sys.stderr)
        return 2
    await _prepare_database(settings, migrate=migrate)

    from bot.client import make_bot  # noqa: PLC0415  (keeps `techmeet check` light)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await _serve(make_bot(settings), settings.discord_token, stop)
        except discord.PrivilegedIntentsRequired:
            log.warning(
                "Discord refused the Server Members intent, so the bot runs without it: new "
                "members are not welcomed and members who leave stay in the directory and on "
                "RSVP lists. To fix, open your application's Bot page in the Developer Portal, "
                "turn on SERVER MEMBERS INTENT under Privileged Gateway Intents and restart."
            )
            await _serve(make_bot(settings, members_intent=False), settings.discord_token, stop)
    except AlreadyRunning as error:
        raise StartupError(f"not starting: {error}") from None
    except discord.LoginFailure:
        raise StartupError(
            "Discord rejected DISCORD_TOKEN (401 Unauthorized). Reset the token on the Bot page "
            "of your application in the Developer Portal and put the new one in .env."
        ) from None
    except aiohttp.ClientConnectorError as error:
        raise StartupError(f"cannot reach Discord at {settings.api_base_url}: {error}") from None
    except discord.HTTPException as error:
        # E.g. registering slash commands was refused.
        raise StartupError(
            f"Discord refused a start-up request ({error.status}): {error.text or error}"
        ) from None
    log.info("stopped cleanly")
    return 0


async def _serve(bot: TechMeetBot, token: str, stop: asyncio.Event) -> None:
    """Run the bot until it stops by itself or `stop` is set (SIGINT, SIGTERM)."""
    async with bot:
        running = asyncio.create_task(bot.start(token))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            # Close inside this coroutine: asyncio.run cancels stray tasks on exit, which
            # would cut the database's shutdown short.
            await bot.close()
        else:
            stopping.cancel()
        await running


async def _prepare_database(settings: Settings, *, migrate: bool) -> None:
    engine = create_engine(settings.database_url)
    try:
        if migrate:
            await upgrade(engine)
        current = await current_revision(engine)
    except Exception as error:
        raise StartupError(_database_problem(settings, error)) from None
    finally:
        await engine.dispose()
    head = head_revision()
    if current != head:
        raise StartupError(
            f"the database is at revision {current or 'none (empty)'} but this version of the "
            f"bot needs {head}; run `techmeet db upgrade` (or start without --no-migrate)."
        )


def _database_problem(settings: Settings, error: BaseException) -> str:
    """One line saying why the database cannot be used, without passwords or SQL."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    reason = lines[0] if lines else type(original).__name__
    return f"cannot use the database {settings.database_display}: {reason}"


async def _db(settings: Settings, command: str) -> int:
    engine = create_engine(settings.database_url)
    try:
        if command == "upgrade":
            await upgrade(engine)
        current = await current_revision(engine)
    except Exception as error:
        raise StartupError(_database_problem(settings, error)) from None
    finally:
        await engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else f"behind: latest is {head}"
    print(f"{settings.database_display}: revision {current or 'none (empty)'} ({state})")
    return 0


def _check(settings: Settings) -> int:
    from bot.invite import invite_url  # noqa: PLC0415

    problems = 0 if settings.discord_token else 1
    rows = [
        ("DISCORD_TOKEN", "set" if settings.discord_token else "NOT SET (needed to run)"),
        ("application id", str(settings.invite_application_id or "unknown until login")),
        ("DEFAULT_TIMEZONE", settings.default_timezone),
        ("DEV_GUILD_ID", str(settings.dev_guild_id or "not set (commands are global)")),
        ("LOG_LEVEL", settings.log_level),
        ("Discord API", settings.api_base_url),
        ("Discord gateway", settings.gateway_url),
    ]
    sqlite_file = make_url(settings.database_url).database if settings.is_sqlite else None
    if sqlite_file and not Path(sqlite_file).exists():
        # Checking must not create the file as a side effect.
        rows.append(("database", f"{sqlite_file} does not exist yet; `techmeet run` creates it"))
    else:
        rows.append(("database", asyncio.run(_database_state(settings))))
        problems += rows[-1][1].startswith("PROBLEM")
    if settings.invite_application_id:
        rows.append(("invite link", invite_url(settings.invite_application_id)))
    print("Configuration is valid." if not problems else f"Found {problems} problem(s).")
    for name, value in rows:
        print(f"  {name + ':':<18} {value}")
    return 1 if problems else 0


async def _database_state(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        current = await current_revision(engine)
    except Exception as error:
        return f"PROBLEM: {_database_problem(settings, error)}"
    finally:
        await engine.dispose()
    state = "up to date" if current == head_revision() else "needs `techmeet db upgrade`"
    return f"{settings.database_display}, reachable, {state}"


def _invite_url(settings: Settings) -> int:
    from bot.invite import invite_url  # noqa: PLC0415

    if settings.invite_application_id is None:
        raise StartupError(
            "the application id is unknown: set DISCORD_TOKEN (it contains the id) or "
            "DISCORD_APPLICATION_ID (General Information page in the Developer Portal)."
        )
    print(invite_url(settings.invite_application_id))
    return 0


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "run": lambda s, a: asyncio.run(_run(s, migrate=not getattr(a, "no_migrate", False))),
    "db": lambda s, a: asyncio.run(_db(s, a.db_command)),
    "check": lambda s, a: _check(s),
    "invite-url": lambda s, a: _invite_url(s),
}

if __name__ == "__main__":
    sys.exit(main())
