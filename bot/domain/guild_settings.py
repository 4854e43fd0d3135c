"""Rules for a guild's settings: channel purposes, reminder offsets, regions, timezones."""

from __future__ import annotations

import difflib
import re
from enum import StrEnum
from functools import cache
from zoneinfo import available_timezones

from bot.errors import BadInput


class ChannelPurpose(StrEnum):
    ANNOUNCEMENTS = "announcements"
    INTRODUCTIONS = "introductions"
    TALKS = "talks"
    PAIRING = "pairing"
    ORGANISERS = "organisers"


PURPOSE_DESCRIPTIONS = {
    ChannelPurpose.ANNOUNCEMENTS: "meetup announcements, reminders and topic polls",
    ChannelPurpose.INTRODUCTIONS: "welcomes and members' introductions",
    ChannelPurpose.TALKS: "lightning-talk line-ups and notices",
    ChannelPurpose.PAIRING: "pairing rounds",
    ChannelPurpose.ORGANISERS: "reports to organisers when something goes wrong",
}

# Permission names as Discord's API and discord.py spell them, with the label Discord's
# own settings screens use, so a server admin can find the toggle.
PERMISSION_LABELS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
    "create_public_threads": "Create Public Threads",
    "send_messages_in_threads": "Send Messages in Threads",
    "manage_threads": "Manage Threads",
    "mention_everyone": "Mention @everyone, @here, and All Roles",
    "create_events": "Create Events",
}

_POSTING = ("view_channel", "send_messages", "embed_links", "read_message_history")
_THREADS = ("create_public_threads", "send_messages_in_threads")

REQUIRED_PERMISSIONS: dict[ChannelPurpose, tuple[str, ...]] = {
    # Each meetup gets a thread under its announcement for follow-ups and polls.
    ChannelPurpose.ANNOUNCEMENTS: (*_POSTING, *_THREADS),
    ChannelPurpose.INTRODUCTIONS: _POSTING,
    ChannelPurpose.TALKS: _POSTING,
    # Each pair gets a thread to say hello in.
    ChannelPurpose.PAIRING: (*_POSTING, *_THREADS),
    ChannelPurpose.ORGANISERS: _POSTING,
}


# Server-wide: mirroring meetups as Discord Scheduled Events. "Create Events" lets the bot
# create events and manage its own; the meetups work without it.
SERVER_PERMISSIONS = ("create_events",)


def missing_permissions(purpose: ChannelPurpose, granted: frozenset[str]) -> list[str]:
    """Labels of the permissions the bot still needs in a channel used for `purpose`."""
    return [
        PERMISSION_LABELS[name] for name in REQUIRED_PERMISSIONS[purpose] if name not in granted
    ]


# --- reminder offsets ---------------------------------------------------------------------

_UNIT_MINUTES = {"w": 7 * 24 * 60, "d": 24 * 60, "h": 60, "m": 1}
_OFFSET = re.compile(r"(?:\d+[wdhm])+")
_OFFSET_PART = re.compile(r"(\d+)([wdhm])")
DEFAULT_REMINDER_OFFSETS = (24 * 60, 60)
MIN_OFFSET_MINUTES = 5
MAX_OFFSET_MINUTES = 8 * 7 * 24 * 60
MAX_OFFSETS = 6


def parse_offset(text: str) -> int:
    """`1h30m` -> 90. Units: w(eeks), d(ays), h(ours), m(inutes)."""
    token = text.strip().lower().replace(" ", "")
    if not _OFFSET.fullmatch(token):
        raise BadInput(
            f"`{_shorten(text)}` is not a reminder offset. Use a number and a unit: "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. `1w,1d,1h` or `90m`."
        )
    return sum(int(n) * _UNIT_MINUTES[unit] for n, unit in _OFFSET_PART.findall(token))


def parse_offsets(text: str) -> tuple[int, ...]:
    """`1w,1d,1h` -> minutes before the meetup, largest first, validated."""
    parts = [part for part in re.split(r"[,\s;]+", text.strip()) if part]
    if not parts:
        raise BadInput("Give at least one reminder offset, e.g. `1d,1h`.")
    if len(parts) > MAX_OFFSETS:
        raise BadInput(f"At most {MAX_OFFSETS} reminders per meetup; you gave {len(parts)}.")
    minutes: list[int] = []
    for part in parts:
        value = parse_offset(part)
        if not MIN_OFFSET_MINUTES <= value <= MAX_OFFSET_MINUTES:
            raise BadInput(
                f"`{_shorten(part)}` is out of range: each reminder must be between 5m and 8w "
                "before the meetup."
            )
        if value in minutes:
            raise BadInput(f"`{_shorten(part)}` is given twice (as {format_offset(value)}).")
        minutes.append(value)
    return tuple(sorted(minutes, reverse=True))


def format_offset(minutes: int) -> str:
    """90 -> `1h30m`; the inverse of parse_offset."""
    parts = []
    for unit, size in _UNIT_MINUTES.items():
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0m"


def format_offsets(offsets: tuple[int, ...]) -> str:
    return ", ".join(format_offset(value) for value in offsets)


# --- regions ------------------------------------------------------------------------------

DEFAULT_REGIONS = (
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
)
# Always offered besides the guild's own list.
EXTRA_REGIONS = ("Online", "Other")
# A region is picked from one Discord select menu (25 options) that also holds the extras.
MAX_REGIONS = 25 - len(EXTRA_REGIONS)
MAX_REGION_LENGTH = 50


def parse_regions(text: str) -> tuple[str, ...]:
    """A comma-separated list of region names, tidied and checked."""
    regions: list[str] = []
    seen: set[str] = set()
    for raw in text.split(","):
        name = " ".join(raw.split())
        if not name:
            continue
        key = name.casefold()
        if key in {extra.casefold() for extra in EXTRA_REGIONS}:
            continue  # always offered anyway
        if len(name) > MAX_REGION_LENGTH:
            raise BadInput(
                f"Region names can be at most {MAX_REGION_LENGTH} characters; "
                f"`{_shorten(name)}` is {len(name)}."
            )
        if any(ch in name for ch in "`*_~|<>@#[]()"):
            raise BadInput(
                f"`{_shorten(name)}`: region names are plain words; leave out symbols such as "
                "` * _ ~ | < > @ # [ ] ( )."
            )
        if key in seen:
            raise BadInput(f"`{_shorten(name)}` is listed twice.")
        seen.add(key)
        regions.append(name)
    if not regions:
        raise BadInput("Give at least one region, separated by commas, e.g. `North West, Wales`.")
    if len(regions) > MAX_REGIONS:
        raise BadInput(
            f"At most {MAX_REGIONS} regions fit in Discord's menus (besides Online and Other); "
            f"you gave {len(regions)}."
        )
    return tuple(regions)


def region_choices(regions: tuple[str, ...]) -> tuple[str, ...]:
    """What members pick from: the guild's regions, then Online and Other."""
    return (*regions, *EXTRA_REGIONS)


# --- timezones ----------------------------------------------------------------------------


# Present in some system databases but not places: the host's own zone, and placeholders.
_NOT_PLACES = {"localtime", "factory", "posixrules"}


@cache
def _timezones() -> dict[str, str]:
    """Case-folded name -> canonical IANA name."""
    return {
        name.casefold(): name
        for name in sorted(available_timezones())
        if name.casefold() not in _NOT_PLACES and not name.startswith(("posix/", "right/"))
    }


def resolve_timezone(text: str) -> str:
    """The canonical IANA name for `text` (any case), or BadInput with close suggestions."""
    key = text.strip().replace(" ", "_").casefold()
    zones = _timezones()
    if key in zones:
        return zones[key]
    close = [zones[name] for name in difflib.get_close_matches(key, zones, n=3, cutoff=0.6)]
    hint = f" Did you mean {', '.join(f'`{name}`' for name in close)}?" if close else ""
    raise BadInput(
        f"`{_shorten(text)}` is not a timezone I know.{hint} Use an IANA name such as "
        "`Europe/London`; start typing and pick from the list."
    )


def search_timezones(text: str, limit: int = 25) -> list[str]:
    """Timezone names for autocomplete: prefix matches first, then ones containing the text."""
    needle = text.strip().replace(" ", "_").casefold()
    zones = _timezones()
    if not needle:
        return [zones[key] for key in ("europe/london", "europe/dublin", "utc") if key in zones]
    starts = [name for key, name in zones.items() if key.startswith(needle)]
    contains = [name for key, name in zones.items() if needle in key and not key.startswith(needle)]
    return (starts + contains)[:limit]


def _shorten(text: str, limit: int = 60) -> str:
    """User text quoted back in an error: one line, bounded, no backticks to break the code span."""
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
