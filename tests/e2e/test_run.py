"""`techmeet run` as a real process against the Discord stand-in: start, stop, restart."""

from __future__ import annotations

import asyncio
import base64
import signal
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import MANAGE_GUILD
from tests.standin import DiscordStandIn
from tests.standin import permissions as perms


async def test_settings_survive_a_restart(standin: DiscordStandIn, run_bot) -> None:
    """Configure a running bot, stop it with SIGTERM, start it again: settings are kept."""
    guild = standin.add_guild("FE Technicians")
    manager = guild.add_member("Mia Manager", permissions=MANAGE_GUILD)
    announcements = guild.add_text_channel("announcements")

    first = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    reply = await standin.slash(
        guild, manager, "setup channel", purpose="announcements", channel=announcements
    )
    assert reply.content.startswith("Done"), reply.content
    reply = await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    assert "Europe/Paris" in reply.content
    code, stderr = await first.stop(signal.SIGTERM)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped cleanly" in stderr
    assert standin.token not in stderr

    second = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    shown = await standin.slash(guild, manager, "setup show")
    fields = {field["name"]: field["value"] for field in shown.embeds[0]["fields"]}
    assert fields["Timezone"] == "Europe/Paris"
    assert f"<#{announcements.id}>" in fields["Channels"]
    code, stderr = await second.stop(signal.SIGINT)  # Ctrl-C is just as clean
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert standin.problems == []


async def test_the_bot_asks_for_servers_and_members_only(standin: DiscordStandIn, run_bot) -> None:
    """The bot reads no chat: members' messages in a busy server never reach it (each one
    would be parsed and cached for nothing), and it still answers and posts as before."""
    guild = standin.add_guild("FE Technicians")
    manager = guild.add_member("Mia Manager", permissions=MANAGE_GUILD)
    bot = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    assert standin.gateway.intents == perms.INTENT_GUILDS | perms.INTENT_GUILD_MEMBERS
    seq = standin.gateway.seq
    await standin.user_message(guild.general, manager, "Anyone tried the new Intune portal?")
    await standin.wait_for_gateway_idle(timeout=10)
    assert standin.gateway.seq == seq
    reply = await standin.slash(guild, manager, "setup timezone", tz="Europe/Paris")
    assert "Europe/Paris" in reply.content
    code, stderr = await bot.stop()
    assert code == 0, stderr


async def test_rejected_token_is_one_clear_line(standin: DiscordStandIn, run_bot) -> None:
    """Discord answering 401 stops the bot with one line saying to reset the token."""
    wrong = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".AAAAAA.wrongtoken"
    bot = await run_bot(DISCORD_TOKEN=wrong)
    _, stderr = await asyncio.wait_for(bot.process.communicate(), 60)
    assert bot.process.returncode == 1
    assert "Discord rejected DISCORD_TOKEN" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "wrongtoken" not in stderr.decode()


async def test_without_the_members_intent_it_says_which_toggle_and_serves_intro(
    standin: DiscordStandIn, run_bot
) -> None:
    """The Server Members intent off in the Developer Portal: the log names the toggle, and
    the bot carries on without it (/intro works; only welcomes and leavers need it)."""
    standin.enabled_intents = 0
    guild = standin.add_guild("FE Technicians")
    member = guild.add_member("Sam Member")
    bot = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    opened = await standin.slash(guild, member, "intro")
    assert opened.modal is not None, opened.describe()
    code, stderr = await bot.stop()
    assert code == 0, stderr
    assert "SERVER MEMBERS INTENT" in stderr
    assert "Traceback" not in stderr, stderr


async def test_a_second_process_is_refused_while_the_first_runs(
    standin: DiscordStandIn, run_bot
) -> None:
    """Two processes on one token would both answer every command: the second says why
    and stops; once the first has stopped, a new one starts."""
    standin.add_guild("FE Technicians")
    first = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    second = await run_bot()
    _, stderr = await asyncio.wait_for(second.process.communicate(), 60)
    assert second.process.returncode == 1
    assert "SQLite database, which serves one process only" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    code, _ = await first.stop()
    assert code == 0
    third = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    assert third.process.returncode is None
    code, stderr_text = await third.stop()
    assert code == 0, stderr_text


async def test_sharded_processes_split_shards_on_postgresql(
    standin: DiscordStandIn, run_bot, postgres_url: str
) -> None:
    """`run --shard-count 2 --shard-ids 0` twice: the second is refused (shard 0 is held);
    SHARD_IDS=1 would be its own shard (checked in the registry's tests)."""
    standin.add_guild("FE Technicians")
    first = await run_bot("--shard-count", "2", "--shard-ids", "0", DATABASE_URL=postgres_url)
    await standin.wait_for_gateway_idle(timeout=60)
    second = await run_bot("--shard-count", "2", "--shard-ids", "0", DATABASE_URL=postgres_url)
    _, stderr = await asyncio.wait_for(second.process.communicate(), 60)
    assert second.process.returncode == 1
    assert "already holds shard 0" in stderr.decode()
    code, stderr_text = await first.stop()
    assert code == 0, stderr_text
    assert "shard 0 of 2" in stderr_text


async def test_killed_just_before_a_reminder_it_is_posted_once(
    standin: DiscordStandIn, run_bot
) -> None:
    """SIGKILL a second before a reminder is due, start again: the reminder appears once."""
    guild = standin.add_guild("FE Technicians")
    manager = guild.add_member("Mia Manager", permissions=MANAGE_GUILD)
    announcements = guild.add_text_channel("announcements")
    first = await run_bot()
    await standin.wait_for_gateway_idle(timeout=60)
    await standin.slash(
        guild, manager, "setup channel", purpose="announcements", channel=announcements
    )
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5, seconds=6)
    reply = await standin.slash(
        guild,
        manager,
        "techmeet create",
        title="Backup strategies",
        when=starts.isoformat(),
        reminders="5m",
    )
    assert "Scheduled" in reply.content, reply.content
    due = starts - timedelta(minutes=5)
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 1.5))
    first.process.kill()
    await first.process.wait()
    assert not [m for m in standin.messages(announcements) if m.content.startswith("Reminder")]

    second = await run_bot()
    reminder = await standin.wait_for_message(
        announcements, lambda m: m.content.startswith("Reminder"), timeout=60
    )
    assert "TechMeet #1" in reminder.content
    await asyncio.sleep(3)  # any duplicate would have arrived by now
    assert (
        len([m for m in standin.messages(announcements) if m.content.startswith("Reminder")]) == 1
    )
    code, stderr = await second.stop()
    assert code == 0, stderr
