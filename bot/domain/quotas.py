"""How often one member may do each writing action: enough for anyone using the bot, far
too few for a script (or a stuck key) to flood a server or the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Quota:
    limit: int
    per: timedelta

    def describe(self) -> str:
        minutes = int(self.per.total_seconds() // 60)
        span = "minute" if minutes == 1 else f"{minutes} minutes"
        return f"{self.limit} times in {span}"


# By action, as the commands name them. Organisers' own commands are rate-limited too: a
# compromised organiser account should not be able to flood a server either.
QUOTAS: dict[str, Quota] = {
    "techmeet create": Quota(10, timedelta(minutes=10)),
    "topic suggest": Quota(10, timedelta(minutes=10)),
    "talk propose": Quota(10, timedelta(minutes=10)),
    "intro": Quota(20, timedelta(minutes=10)),
    "members find": Quota(30, timedelta(minutes=1)),
}


def retry_in(window_start_age: timedelta, quota: Quota) -> int:
    """Whole seconds until the member's window opens again (at least 1)."""
    return max(1, int((quota.per - window_start_age).total_seconds() + 0.999))
