"""Quotas: how a limit reads, and that the real bot decides one for every command and button
(a quota, or a written reason for none), so nothing that writes is added without one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy import String

from bot.client import TechMeetBot
from bot.clock import utcnow
from bot.config import Settings
from bot.domain.quotas import NO_QUOTA, QUOTAS, Quota, retry_in
from bot.scheduler import Dispatcher
from cogs._ui import ReportsErrors
from cogs.introductions._views import BasicsModal, MoreModal
from cogs.meetups._feedback import ActionModal
from cogs.meetups._views import RsvpButton
from cogs.talks._views import DeclineModal
from cogs.topics._views import DotButton, PickTopic, VoteButton
from db.engine import create_engine, create_sessions
from db.models import MemberQuota

# Commands whose quota is taken where they write, not in their own body: /intro only opens
# the form, /talk review only shows the proposals (its Accept button declares the quota).
TAKEN_ELSEWHERE: dict[str, list[Callable[..., Any]]] = {
    "intro": [BasicsModal.on_submit, MoreModal.on_submit],
    "talk review": [DeclineModal.on_submit],
}
# Forms opened by buttons: they count against their button's family.
FORMS: dict[str, Callable[..., Any]] = {"techmeet feedback": ActionModal.on_submit}


@pytest.mark.parametrize(
    ("quota", "text"),
    [
        (Quota(10, timedelta(minutes=10)), "10 times in 10 minutes"),
        (Quota(30, timedelta(minutes=1)), "30 times in a minute"),
    ],
)
def test_a_limit_reads_plainly(quota: Quota, text: str) -> None:
    """The refusal says the limit in words."""
    assert quota.describe() == text


@pytest.mark.parametrize(
    ("age", "seconds"),
    [(timedelta(0), 600), (timedelta(minutes=9, seconds=30), 30), (timedelta(minutes=11), 1)],
)
def test_retry_in_counts_to_the_end_of_the_window(age: timedelta, seconds: int) -> None:
    """Whole seconds until the window reopens, never zero."""
    assert retry_in(age, Quota(10, timedelta(minutes=10))) == seconds


def test_action_names_fit_the_column() -> None:
    """Each action is stored by name in member_quotas."""
    column = MemberQuota.__table__.c.action.type
    assert isinstance(column, String)
    assert column.length is not None
    assert [action for action in QUOTAS if len(action) > column.length] == []


async def offline_bot() -> TechMeetBot:
    """The real bot with every cog loaded, offline: no Discord, no database connection."""
    # Building a bot points discord.py at its URLs process-wide: keep the current ones.
    settings = Settings(
        api_base_url=discord.http.Route.BASE,
        gateway_url=str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY),
    )
    bot = TechMeetBot(settings)
    bot.sessions = create_sessions(create_engine("sqlite+aiosqlite://"))
    bot.dispatcher = Dispatcher(bot.sessions, clock=utcnow)
    await bot.load_features()
    return bot


def commands_of(bot: TechMeetBot) -> dict[str, Any]:
    """Every slash command (by its full name, e.g. "talk edit") and context menu."""
    found: dict[str, Any] = {
        command.qualified_name: command
        for command in bot.tree.walk_commands()
        if isinstance(command, app_commands.Command)
    }
    for kind in (discord.AppCommandType.user, discord.AppCommandType.message):
        found.update((menu.qualified_name, menu) for menu in bot.tree.get_commands(type=kind))
    return found


def buttons_of(bot: TechMeetBot) -> list[type[Any]]:
    """The persistent buttons and selects registered on the bot (discord.py keeps them
    privately; there is no public list)."""
    return list(bot._connection._view_store._dynamic_items.values())


async def test_every_command_has_a_quota_or_a_reason_for_none() -> None:
    """A new command fails here until it gets a quota or a documented exemption."""
    commands = commands_of(await offline_bot())
    assert len(commands) > 40  # the real tree, not an empty one
    undecided = [name for name in commands if name not in QUOTAS and name not in NO_QUOTA]
    assert undecided == []
    assert set(QUOTAS) & set(NO_QUOTA) == set()
    assert [name for name in NO_QUOTA if name not in commands] == []


async def test_every_quota_names_a_command_or_a_family_of_buttons() -> None:
    """No stale or misspelt actions; a family of buttons has words for the refusal, which
    names commands as `/name`."""
    bot = await offline_bot()
    commands = commands_of(bot)
    families = {button.quota for button in buttons_of(bot)} - {None}
    assert [action for action in QUOTAS if action not in commands.keys() | families] == []
    unnamed = [a for a in QUOTAS if a not in commands and QUOTAS[a].label is None]
    assert unnamed == []


async def test_every_button_declares_its_quota() -> None:
    """Each persistent button goes through ReportsErrors, which takes its declared quota;
    voting and RSVPs have none on purpose (latency-critical, idempotent)."""
    buttons = buttons_of(await offline_bot())
    assert [b for b in buttons if not issubclass(b, ReportsErrors)] == []
    assert [b for b in buttons if b.quota is not None and b.quota not in QUOTAS] == []
    for deliberate in (RsvpButton, VoteButton, PickTopic, DotButton):
        assert deliberate in buttons
        assert deliberate.quota is None


async def test_every_command_with_a_quota_takes_it() -> None:
    """A quota in the table is enforced: the command's body (or the form that writes for
    it) calls take_quota, with the action's name when it is not the command's own."""
    commands = commands_of(await offline_bot())
    missing = []
    for action in QUOTAS.keys() & commands.keys():
        takers = TAKEN_ELSEWHERE.get(action, [commands[action].callback])
        for taker in takers:
            names = taker.__code__.co_names
            if "take_quota" not in names or (
                action in TAKEN_ELSEWHERE and action not in taker.__code__.co_consts
            ):
                missing.append(f"{action}: {taker.__qualname__}")
    for action, form in FORMS.items():
        if "take_quota" not in form.__code__.co_names or action not in form.__code__.co_consts:
            missing.append(f"{action}: {form.__qualname__}")
    assert missing == []
