"""Rules for /setup values: reminder offsets, regions, timezones, channel permissions."""

from __future__ import annotations

import pytest

from bot.domain.guild_settings import (
    DEFAULT_REGIONS,
    MAX_REGIONS,
    ChannelPurpose,
    format_offset,
    format_offsets,
    missing_permissions,
    parse_offset,
    parse_offsets,
    parse_regions,
    region_choices,
    resolve_timezone,
    search_timezones,
)
from bot.errors import BadInput


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("5m", (5,)),
        ("1w,1d,1h", (10080, 1440, 60)),
        ("1h, 1d, 1w", (10080, 1440, 60)),
        ("1H 30M", (60, 30)),
        ("1h30m", (90,)),
        ("8w", (80640,)),
        ("2d;3h", (2880, 180)),
        ("1m,2m,3m", None),  # below the 5-minute minimum
    ],
)
def test_parse_offsets(text: str, minutes: tuple[int, ...] | None) -> None:
    """Offsets are read in any order and case and come back largest first."""
    if minutes is None:
        with pytest.raises(BadInput, match="out of range"):
            parse_offsets(text)
    else:
        assert parse_offsets(text) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("1x", "not a reminder offset"),
        ("1 hour", "not a reminder offset"),
        ("-1h", "not a reminder offset"),
        ("h", "not a reminder offset"),
        ("4m", "out of range"),
        ("9w", "out of range"),
        ("57d", "out of range"),
        ("1h,60m", "given twice"),
        ("1d,1d", "given twice"),
        ("5m,10m,15m,20m,25m,30m,35m", "At most 6"),
    ],
)
def test_parse_offsets_refuses(text: str, message: str) -> None:
    """Malformed, out-of-range, duplicate and too many offsets are refused with the reason."""
    with pytest.raises(BadInput, match=message):
        parse_offsets(text)


@pytest.mark.parametrize("minutes", [5, 59, 60, 90, 1439, 1440, 1501, 10080, 80640])
def test_format_offset_round_trips(minutes: int) -> None:
    """What the bot shows can be typed back in."""
    assert parse_offset(format_offset(minutes)) == minutes


def test_format_offsets() -> None:
    """Offsets are shown in the units people type."""
    assert format_offsets((10080, 1440, 90)) == "1w, 1d, 1h30m"


def test_parse_regions_tidies() -> None:
    """Whitespace is tidied, empties dropped, and Online/Other are not stored twice."""
    assert parse_regions(" North  West ,, Wales, online, OTHER ") == ("North West", "Wales")
    assert region_choices(("Wales",)) == ("Wales", "Online", "Other")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ("Online, Other", "at least one"),
        ("Wales, wales", "listed twice"),
        ("x" * 51, "at most 50"),
        ("<@&123>", "plain words"),
        ("[click](https://evil.example)", "plain words"),
        ("@everyone", "plain words"),
        (",".join(f"R{i}" for i in range(MAX_REGIONS + 1)), f"At most {MAX_REGIONS}"),
    ],
)
def test_parse_regions_refuses(text: str, message: str) -> None:
    """Region lists that would not fit Discord's menus or could ping are refused."""
    with pytest.raises(BadInput, match=message):
        parse_regions(text)


def test_default_regions_fit_a_select() -> None:
    """The UK default list plus Online and Other fits in one 25-option select."""
    assert len(region_choices(DEFAULT_REGIONS)) <= 25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/London", "Europe/London"),
        ("europe/paris", "Europe/Paris"),
        ("UTC", "UTC"),
        ("america/new york", "America/New_York"),
    ],
)
def test_resolve_timezone(text: str, expected: str) -> None:
    """Timezone names are matched regardless of case and with spaces for underscores."""
    assert resolve_timezone(text) == expected


def test_unknown_timezone_gets_suggestions() -> None:
    """A near miss is refused with the likely intended names."""
    with pytest.raises(BadInput, match="Europe/London"):
        resolve_timezone("Europe/Londn")
    with pytest.raises(BadInput, match="not a timezone"):
        resolve_timezone("Mars/Olympus_Mons")


def test_search_timezones() -> None:
    """Autocomplete puts prefix matches first and never exceeds Discord's 25 choices."""
    assert search_timezones("europe/lon")[0] == "Europe/London"
    assert "America/Argentina/Buenos_Aires" in search_timezones("buenos")
    assert len(search_timezones("a")) == 25
    assert search_timezones("")  # something sensible to start from


def test_missing_permissions_by_purpose() -> None:
    """Each purpose names exactly the permissions it still lacks, as Discord labels them."""
    posting = frozenset({"view_channel", "send_messages", "embed_links", "read_message_history"})
    assert missing_permissions(ChannelPurpose.INTRODUCTIONS, posting) == []
    assert missing_permissions(ChannelPurpose.ANNOUNCEMENTS, posting) == [
        "Create Public Threads",
        "Send Messages in Threads",
    ]
    assert missing_permissions(ChannelPurpose.ORGANISERS, frozenset({"view_channel"})) == [
        "Send Messages",
        "Embed Links",
        "Read Message History",
    ]
