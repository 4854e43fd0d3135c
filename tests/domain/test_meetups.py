"""Meetup rules: validation, reminder times, the late policy and repeating meetups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.meetups import (
    Lateness,
    PlannedReminder,
    Repeat,
    check_capacity,
    check_duration,
    check_region,
    check_repeat,
    check_url,
    clean_text,
    describe_repeat,
    next_occurrence,
    plan_reminders,
    reminder_lateness,
    week_of_month,
)
from bot.errors import BadInput

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "planned", "past"),
    [
        (utc(2026, 11, 1), [10080, 1440, 60], []),
        (utc(2026, 11, 30), [1440, 60], [10080]),
        (utc(2026, 12, 3, 17, 0), [], [10080, 1440, 60]),
        (utc(2026, 12, 3, 16, 59), [60], [10080, 1440]),
    ],
)
def test_plan_reminders(now: datetime, planned: list[int], past: list[int]) -> None:
    """Offsets already behind `now` are not created and are reported."""
    reminders, skipped = plan_reminders(START, (60, 10080, 1440), now=now)
    assert [r.offset_minutes for r in reminders] == planned
    assert skipped == past
    assert all(
        r == PlannedReminder(r.offset_minutes, START - timedelta(minutes=r.offset_minutes))
        for r in reminders
    )


@pytest.mark.parametrize(
    ("offset", "overdue", "expected"),
    [
        (60, timedelta(0), Lateness.ON_TIME),
        (60, timedelta(seconds=59), Lateness.ON_TIME),
        (60, timedelta(minutes=6), Lateness.LATE),  # 10% of an hour
        (60, timedelta(minutes=6, seconds=1), Lateness.TOO_LATE),
        (30, timedelta(minutes=5), Lateness.LATE),  # 10% is 3 min: the 5-minute minimum applies
        (30, timedelta(minutes=5, seconds=1), Lateness.TOO_LATE),
        (1440, timedelta(minutes=144), Lateness.LATE),  # 10% of a day
        (1440, timedelta(minutes=145), Lateness.TOO_LATE),
        (10080, timedelta(hours=16), Lateness.LATE),
        (10080, timedelta(hours=17), Lateness.TOO_LATE),
        (5, timedelta(minutes=4, seconds=59), Lateness.LATE),  # never after the start, though
        (5, timedelta(minutes=5), Lateness.TOO_LATE),
    ],
)
def test_reminder_lateness(offset: int, overdue: timedelta, expected: Lateness) -> None:
    """Within 10% of the offset (at least 5 min) a reminder goes out late; then it is skipped."""
    due = START - timedelta(minutes=offset)
    assert (
        reminder_lateness(due_at=due, starts_at=START, offset_minutes=offset, now=due + overdue)
        is expected
    )


@pytest.mark.parametrize(
    ("day", "nth", "last"),
    [
        (date(2026, 12, 3), 1, False),
        (date(2026, 12, 24), 4, False),
        (date(2026, 12, 31), 5, True),
        (date(2026, 11, 24), 4, True),
        (date(2027, 2, 22), 4, True),
    ],
)
def test_week_of_month(day: date, nth: int, last: bool) -> None:
    """Which weekday of the month a date is, and whether no later one follows."""
    assert week_of_month(day) == (nth, last)


def test_check_repeat_matches_the_date() -> None:
    """A monthly repeat must describe the first meetup's own date."""
    check_repeat(Repeat.MONTHLY_FIRST, datetime(2026, 12, 3, 18))
    check_repeat(Repeat.MONTHLY_LAST, datetime(2026, 11, 24, 18))
    check_repeat(Repeat.MONTHLY_FOURTH, datetime(2026, 11, 24, 18))
    check_repeat(Repeat.WEEKLY, datetime(2026, 11, 24, 18))
    with pytest.raises(BadInput, match="is the first Thursday of the month, not the last"):
        check_repeat(Repeat.MONTHLY_LAST, datetime(2026, 12, 3, 18))


@pytest.mark.parametrize(
    ("repeat", "first", "after", "expected"),
    [
        # Weekly at 18:00 London: GMT in winter, BST in summer -> the UTC hour moves.
        (Repeat.WEEKLY, utc(2027, 3, 18, 18), utc(2027, 3, 18, 18), utc(2027, 3, 25, 18)),
        (Repeat.WEEKLY, utc(2027, 3, 25, 18), utc(2027, 3, 25, 18), utc(2027, 4, 1, 17)),
        (Repeat.WEEKLY, utc(2026, 10, 22, 17), utc(2026, 10, 22, 17), utc(2026, 10, 29, 18)),
        (Repeat.FORTNIGHTLY, START, START, utc(2026, 12, 17, 18)),
        (Repeat.FORTNIGHTLY, START, utc(2026, 12, 10), utc(2026, 12, 17, 18)),
        (Repeat.MONTHLY_FIRST, START, START, utc(2027, 1, 7, 18)),
        (Repeat.MONTHLY_LAST, utc(2026, 12, 31, 18), utc(2026, 12, 31, 18), utc(2027, 1, 28, 18)),
        (Repeat.MONTHLY_LAST, utc(2027, 2, 25, 18), utc(2027, 2, 25, 18), utc(2027, 3, 25, 18)),
        (Repeat.MONTHLY_LAST, utc(2027, 3, 25, 18), utc(2027, 3, 25, 18), utc(2027, 4, 29, 17)),
        (Repeat.NONE, START, START, None),
    ],
)
def test_next_occurrence(
    repeat: Repeat, first: datetime, after: datetime, expected: datetime | None
) -> None:
    """The next start keeps the local wall-clock time across daylight saving changes."""
    assert (
        next_occurrence(repeat=repeat, first_starts_at=first, tz=LONDON, after=after, until=None)
        == expected
    )


def test_series_ends_on_its_until_date() -> None:
    """No occurrence after the series' last date; one on that date still happens."""

    def nxt(until: date) -> datetime | None:
        return next_occurrence(
            repeat=Repeat.WEEKLY, first_starts_at=START, tz=LONDON, after=START, until=until
        )

    assert nxt(date(2026, 12, 10)) == utc(2026, 12, 10, 18)
    assert nxt(date(2026, 12, 9)) is None


def test_gap_time_is_skipped_not_shifted() -> None:
    """A weekly 01:30 meetup has no occurrence on the spring-forward night."""
    first = datetime(2027, 3, 21, 1, 30, tzinfo=LONDON).astimezone(UTC)
    after = first
    nxt = next_occurrence(
        repeat=Repeat.WEEKLY, first_starts_at=first, tz=LONDON, after=after, until=None
    )
    assert nxt == datetime(2027, 4, 4, 1, 30, tzinfo=LONDON).astimezone(UTC)


def test_describe_repeat() -> None:
    """Repeats are described the way organisers say them."""
    first = datetime(2026, 11, 24, 18)
    assert describe_repeat(Repeat.MONTHLY_LAST, first) == "the last Tuesday of every month"
    assert describe_repeat(Repeat.FORTNIGHTLY, first) == "every other Tuesday"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://meet.example.ac.uk/techmeet", True),
        ("http://example.com", True),
        ("  https://example.com/x  ", True),
        ("javascript:alert(1)", False),
        ("ftp://example.com", False),
        ("example.com", False),
        ("https://", False),
        ("https://exa mple.com", False),
        ("https://example.com/" + "a" * 600, False),
    ],
)
def test_check_url(url: str, ok: bool) -> None:
    """Only http(s) links with a host are accepted as the online link."""
    if ok:
        assert check_url(url) == url.strip()
    else:
        with pytest.raises(BadInput):
            check_url(url)


def test_text_duration_capacity_region() -> None:
    """Limits match Discord's scheduled events; empty optional text is None."""
    assert (
        clean_text("  Network night ", field="title", limit=100, required=True) == "Network night"
    )
    assert clean_text("   ", field="venue", limit=100) is None
    with pytest.raises(BadInput, match="at most 100"):
        clean_text("x" * 101, field="title", limit=100)
    with pytest.raises(BadInput, match="can't be empty"):
        clean_text(" ", field="title", limit=100, required=True)
    assert check_duration(15) == 15
    for bad in (14, 721, 0, -5):
        with pytest.raises(BadInput, match="between 15 and 720"):
            check_duration(bad)
    assert check_capacity(None) is None
    with pytest.raises(BadInput, match="at least 1"):
        check_capacity(0)
    assert check_region("south west", ("South West", "Online")) == "South West"
    assert check_region(None, ("Wales",)) is None
    with pytest.raises(BadInput, match="/setup regions"):
        check_region("Mars", ("Wales", "Online", "Other"))
