"""The `techmeet` command as a person deploying the bot uses it (real subprocesses)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord

APP_ID = 223344556677889900
TOKEN = base64.b64encode(str(APP_ID).encode()).decode().rstrip("=") + ".GxYz12.s3cr3t-part"


def techmeet(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    """Run the installed `techmeet` console script with a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    clean.update(env or {})
    script = Path(sys.executable).with_name("techmeet")
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=timeout
    )


def test_invite_url_asks_for_exactly_the_needed_permissions(tmp_path: Path) -> None:
    """The link names the application from the token and the bot's permissions, no more."""
    result = techmeet("invite-url", cwd=tmp_path, env={"DISCORD_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    query = parse_qs(urlsplit(result.stdout.strip()).query)
    assert query["client_id"] == [str(APP_ID)]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert granted == discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        read_message_history=True,
        create_public_threads=True,
        send_messages_in_threads=True,
        create_events=True,
    )
    assert not granted.administrator


def test_invite_url_without_any_id_says_what_to_set(tmp_path: Path) -> None:
    """No token and no application id: one line naming both variables."""
    result = techmeet("invite-url", cwd=tmp_path)
    assert result.returncode == 1
    assert "DISCORD_TOKEN" in result.stderr
    assert "DISCORD_APPLICATION_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_file_is_read_from_the_working_folder(tmp_path: Path) -> None:
    """Settings in .env are used, as the README says."""
    (tmp_path / ".env").write_text("DISCORD_APPLICATION_ID=4242\n")
    result = techmeet("invite-url", cwd=tmp_path)
    assert "client_id=4242" in result.stdout


def test_run_without_token_explains_how_to_get_one(tmp_path: Path) -> None:
    """`techmeet run` with no token exits non-zero and says where to create and put it."""
    result = techmeet("run", cwd=tmp_path)
    assert result.returncode != 0
    assert "discord.com/developers/applications" in result.stderr
    assert ".env" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """A wrong value stops every command with one line naming the variable."""
    result = techmeet("check", cwd=tmp_path, env={"DEFAULT_TIMEZONE": "Mars/Olympus"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "DEFAULT_TIMEZONE" in result.stderr


def test_check_reports_without_creating_anything(tmp_path: Path) -> None:
    """`check` reports settings, never the token itself, and does not create the database."""
    result = techmeet("check", cwd=tmp_path, env={"DISCORD_TOKEN": TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "does not exist yet" in result.stdout
    assert not (tmp_path / "techmeet.db").exists()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    """`db upgrade` migrates a new SQLite file; `db current` and `check` then say up to date."""
    upgraded = techmeet("db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    current = techmeet("db", "current", cwd=tmp_path)
    assert "up to date" in current.stdout
    check = techmeet("check", cwd=tmp_path, env={"DISCORD_TOKEN": TOKEN})
    assert "reachable, up to date" in check.stdout


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    """A database that cannot be reached stops `run` with one line, password hidden."""
    env = {
        "DISCORD_TOKEN": TOKEN,
        "DATABASE_URL": "postgresql://techmeet:hunter2@127.0.0.1:1/techmeet",
    }
    result = techmeet("run", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_no_migrate_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    """`run --no-migrate` on an old database says to run `techmeet db upgrade`."""
    result = techmeet("run", "--no-migrate", cwd=tmp_path, env={"DISCORD_TOKEN": TOKEN})
    assert result.returncode == 1
    assert "techmeet db upgrade" in result.stderr
