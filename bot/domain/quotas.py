"""How often one member may do each writing action: enough for anyone using the bot, far
too few for a script (or a stuck key) to flood a server or the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Counters that belong to no one server (direct messages, actions on every server) are
# kept under this server id.
NO_SERVER = 0

MINUTE, TEN_MINUTES = timedelta(minutes=1), timedelta(minutes=10)


@dataclass(frozen=True)
class Quota:
    limit: int
    per: timedelta
    # How the refusal names the action when it is not the slash command of that name (a
    # family of buttons): "That's a lot of {label} at once". Commands are named as `/name`.
    label: str | None = None
    # One count for the member wherever they use it: actions on every server at once.
    across_servers: bool = False

    def describe(self) -> str:
        minutes = int(self.per.total_seconds() // 60)
        span = "a minute" if minutes == 1 else f"{minutes} minutes"
        return f"{self.limit} times in {span}"


# Every command and button that writes (rows, channel messages, DMs, threads) counts against
# one of these, by action: the command's name (`/talk edit` is "talk edit"), which buttons of
# that command share, or a family of buttons named after their command group. Organisers'
# and managers' commands are limited too, so a compromised account cannot flood a server,
# at about twice what a busy organiser does in ten minutes.
QUOTAS: dict[str, Quota] = {
    # Members.
    "techmeet remind-me": Quota(10, TEN_MINUTES),
    "techmeet feedback": Quota(20, TEN_MINUTES, label="feedback answers"),
    "topic suggest": Quota(10, TEN_MINUTES),
    "topic edit": Quota(20, TEN_MINUTES),
    "topic withdraw": Quota(10, TEN_MINUTES),
    "topic lead": Quota(10, TEN_MINUTES, label="offers to lead a topic"),
    "talk propose": Quota(10, TEN_MINUTES),
    "talk edit": Quota(20, TEN_MINUTES),
    "talk withdraw": Quota(10, TEN_MINUTES),
    # The timer's Stop button: organisers or the speaker.
    "talk stop": Quota(20, TEN_MINUTES, label="clicks on Stop"),
    "intro": Quota(20, TEN_MINUTES),  # both steps of the form count
    "members find": Quota(30, MINUTE),
    "pairing join": Quota(10, TEN_MINUTES),
    "pairing leave": Quota(10, TEN_MINUTES),
    "pairing snooze": Quota(10, TEN_MINUTES),
    "pairing met": Quota(10, TEN_MINUTES, label="“did you meet?” answers"),
    "privacy export": Quota(5, TEN_MINUTES, across_servers=True),
    "privacy delete": Quota(5, TEN_MINUTES, across_servers=True),
    # Organisers.
    "techmeet create": Quota(10, TEN_MINUTES),
    "techmeet edit": Quota(20, TEN_MINUTES),
    "techmeet cancel": Quota(10, TEN_MINUTES),
    "topic merge": Quota(30, TEN_MINUTES),
    "topic remove": Quota(30, TEN_MINUTES),
    "topic poll": Quota(10, TEN_MINUTES),
    "topic close": Quota(10, TEN_MINUTES),
    "talk settings": Quota(20, TEN_MINUTES),
    # Review's Accept and Decline (the command itself only shows the proposals).
    "talk review": Quota(50, TEN_MINUTES, label="talk reviews"),
    "talk remove": Quota(20, TEN_MINUTES),
    "talk order": Quota(40, TEN_MINUTES),
    "talk lineup": Quota(10, TEN_MINUTES),
    "talk next": Quota(20, TEN_MINUTES),
    "talk archive": Quota(5, TEN_MINUTES),
    "members remove": Quota(40, TEN_MINUTES),  # a raid of fake introductions
    "pairing setup": Quota(10, TEN_MINUTES),
    "pairing run-now": Quota(3, TEN_MINUTES),  # each round DMs or threads every pair
    # Server managers.
    "setup channel": Quota(20, TEN_MINUTES),
    "setup organiser-role": Quota(10, TEN_MINUTES),
    "setup ping-role": Quota(10, TEN_MINUTES),
    "setup timezone": Quota(10, TEN_MINUTES),
    "setup reminders": Quota(10, TEN_MINUTES),
    "setup regions": Quota(10, TEN_MINUTES),
    "setup retention": Quota(10, TEN_MINUTES),
    "setup topics max-per-member": Quota(10, TEN_MINUTES),
}

# Commands without a quota, and why: they only read, answering the member alone. A new
# command goes in one of the two tables (tests/domain/test_quotas.py checks the bot's).
NO_QUOTA: dict[str, str] = {
    "techmeet list": "read-only",
    "techmeet info": "read-only",
    "techmeet calendar": "read-only: a private calendar file",
    "techmeet attendees": "read-only: a private list and file for organisers",
    "techmeet stats": "read-only",
    "topic list": "read-only",
    "topic poll-status": "read-only",
    "talk mine": "read-only",
    "talk list": "read-only",
    "members profile": "read-only",
    "members skills": "read-only",
    "members suggest": "read-only",
    "View introduction": "read-only (the context menu of /members profile)",
    "pairing stats": "read-only",
    "setup show": "read-only",
}


def retry_in(window_start_age: timedelta, quota: Quota) -> int:
    """Whole seconds until the member's window opens again (at least 1)."""
    return max(1, int((quota.per - window_start_age).total_seconds() + 0.999))
