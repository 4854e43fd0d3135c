"""Errors raised by the stand-in to the *test* (never sent to the bot)."""

from __future__ import annotations


class StandInError(Exception):
    """A test drove the stand-in into a situation Discord would never produce.

    Examples: invoking a command the bot never registered, clicking a button that is not on the
    message, or the bot not answering an interaction in time.
    """


class ApiError(Exception):
    """An error answer from the REST API, rendered as Discord's JSON error body."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, object]:
        data: dict[str, object] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def unknown(what: str, code: int) -> ApiError:
    """Discord's 404s: ``unknown("Channel", 10003)`` -> ``{"message": "Unknown Channel", ...}``."""
    return ApiError(404, code, f"Unknown {what}")


MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


def missing_access() -> ApiError:
    return ApiError(403, MISSING_ACCESS, "Missing Access")


def missing_permissions() -> ApiError:
    return ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")
