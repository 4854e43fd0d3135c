"""Topic rules: titles, near-duplicates, poll settings, closing times, ranking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.topics import (
    Ranked,
    check_agenda_size,
    check_details,
    check_title,
    check_votes,
    near_duplicate,
    normalise,
    poll_closes,
    rank,
    similarity,
)
from bot.errors import BadInput

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Eduroam certificate renewals", "eduroam certificate renewals", True),
        ("Eduroam certificate renewals", "Renewals: Eduroam certificate!", True),
        ("Eduroam   certificate  renewals ", "Eduroam certificate renewal", True),
        ("Intune for student laptops", "Student laptops for Intune", True),
        ("Moodle upgrades", "Moodle backups", False),
        ("Wi-Fi 7 rollout", "VLAN design", False),
        ("Café network", "Cafe network", True),
        ("Patching in practice", "Phishing in practice", False),
        ("Printing in practice", "Printers in practice", False),
        ("VLANs for beginners", "VLANs for experts", False),
        ("Зарплаты в ИТ", "зарплаты в ИТ", True),
        ("C++ tips", "C# tips", False),
        ("Rust async", "Rust sync", False),
        ("React hooks", "React books", False),
        ("Laptop refresh", "Laptops refresh", True),
    ],
)
def test_near_duplicates(a: str, b: str, same: bool) -> None:
    """Case, punctuation, spacing, accents and word order don't make a new topic."""
    assert (near_duplicate(a, [(1, b)]) == 1) is same


def test_most_alike_wins() -> None:
    """Among several alike topics, the closest one is offered."""
    existing = [(1, "Moodle upgrade planning notes"), (2, "Planning the Moodle upgrade")]
    assert near_duplicate("the moodle upgrade: planning", existing) == 2


def test_normalise_and_similarity() -> None:
    """Normalising sorts words and drops punctuation; empty titles match nothing."""
    assert normalise("Zebra, apple & Mango!") == "apple mango zebra"
    assert similarity("!!!", "???") == 0.0


@pytest.mark.parametrize(
    ("title", "ok"),
    [("Hi", False), ("VPN", True), ("x" * 100, True), ("x" * 101, False), ("  a  b  ", True)],
)
def test_titles(title: str, ok: bool) -> None:
    """Titles are 3 to 100 characters after tidying spaces."""
    if ok:
        assert check_title(title) == " ".join(title.split())
    else:
        with pytest.raises(BadInput, match="3 to 100"):
            check_title(title)


def test_details_and_poll_settings() -> None:
    """Details up to 1000 characters; dots 1..10; agenda 1..10."""
    assert check_details("  ") is None
    with pytest.raises(BadInput, match="1000"):
        check_details("x" * 1001)
    assert check_votes(10) == 10
    for bad in (0, 11):
        with pytest.raises(BadInput, match="1 to 10 dots"):
            check_votes(bad)
    with pytest.raises(BadInput, match="1 to 10 topics"):
        check_agenda_size(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, START - timedelta(hours=24)),
        ("2d", NOW + timedelta(days=2)),
        ("36h", NOW + timedelta(hours=36)),
        ("2026-12-02 12:00", datetime(2026, 12, 2, 12, 0, tzinfo=UTC)),
        ("tomorrow 9am", datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
    ],
)
def test_poll_closes(text: str | None, expected: datetime) -> None:
    """A time or a duration; by default a day before the meetup."""
    assert poll_closes(text, starts_at=START, now=NOW, tz=LONDON) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-12-04 12:00", "before its meetup starts"),
        ("8w", "before its meetup starts"),
        ("2026-11-01 12:00", "past"),
        ("whenever", "not a date and time"),
    ],
)
def test_poll_closes_refuses(text: str, message: str) -> None:
    """Never after the meetup starts, never in the past, never unreadable."""
    with pytest.raises(BadInput, match=message):
        poll_closes(text, starts_at=START, now=NOW, tz=LONDON)


def test_default_close_for_a_meetup_starting_soon() -> None:
    """A meetup in 3 hours: the default (a day before) has passed, so `closes` is needed."""
    soon = NOW + timedelta(hours=3)
    with pytest.raises(BadInput, match="give `closes`"):
        poll_closes(None, starts_at=soon, now=NOW, tz=LONDON)
    assert poll_closes("1h", starts_at=soon, now=NOW, tz=LONDON) == NOW + timedelta(hours=1)


def test_rank_breaks_ties_by_earliest_suggestion() -> None:
    """Most dots first; equal dots go to the topic suggested first, and say so."""
    ranked = rank([(10, 4, 7), (11, 9, 9), (12, 4, 3), (13, 0, 1)])
    assert ranked == [
        Ranked(11, 9, 1, False),
        Ranked(12, 4, 2, True),
        Ranked(10, 4, 3, True),
        Ranked(13, 0, 4, False),
    ]
