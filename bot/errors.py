"""Expected failures: each becomes a short ephemeral reply telling the member what to do.

Anything that is not a TechMeetError is unexpected: it is logged with a traceback and the
member sees a friendly message without internals.
"""

from __future__ import annotations


class TechMeetError(Exception):
    """A failure the member can act on; the message is shown to them as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(TechMeetError):
    """The member gave a value the bot cannot use."""


class NotAllowed(TechMeetError):
    """The member lacks the rights for this action."""


class NotFound(TechMeetError):
    """The thing the member named does not exist (any more)."""


class Conflict(TechMeetError):
    """The action clashes with the current state (full, closed, already done)."""


class NotReady(TechMeetError):
    """Something the bot needs is not available yet; trying again later may work."""


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable and the problem."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class AlreadyRunning(Exception):
    """Starting this process would clash with one already running (same shards, or a
    second process on SQLite); the message says which and what to do."""
