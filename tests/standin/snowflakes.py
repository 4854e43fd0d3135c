"""Snowflakes, timestamps and bot tokens, made the way Discord makes them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import secrets
import time

DISCORD_EPOCH_MS = 1_420_070_400_000

_increment = itertools.count()
_last_id = 0


def new_snowflake() -> int:
    """A fresh, strictly increasing snowflake whose timestamp is now."""
    global _last_id  # noqa: PLW0603  (one id sequence per process, like one Discord worker)
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    candidate = (ms << 22) | (1 << 17) | (1 << 12) | (next(_increment) & 0xFFF)
    _last_id = max(candidate, _last_id + 1)
    return _last_id


def iso(moment: dt.datetime) -> str:
    """Discord's timestamp format: ISO 8601 with microseconds and an explicit UTC offset."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def iso_now() -> str:
    return iso(dt.datetime.now(dt.UTC))


def make_token(user_id: int) -> str:
    """A bot token shaped like Discord's: ``base64(user id) . timestamp part . hmac part``."""
    head = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(20)}"


def user_id_from_token(token: str) -> int | None:
    """The bot user id encoded in the first part of a token, or None if it is not one."""
    head = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() else None
