"""Reading meetup times and end dates as organisers type them, in the guild's timezone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.when import describe_when, parse_date, parse_when, preview_when
from bot.errors import BadInput

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday; London is on GMT
BEFORE_AUTUMN = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


DEC_3 = utc(2026, 12, 3, 18)
TOMORROW_6PM = utc(2026, 11, 28, 18)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO and numeric dates, day first
        ("2026-12-03 18:00", DEC_3),
        ("2026-12-03T18:00", DEC_3),
        ("2026-12-03t18:00", DEC_3),
        ("2026-12-03 18:00:00", DEC_3),
        ("2026-12-03 6pm", DEC_3),
        ("2026/12/03 18:00", DEC_3),
        ("03/12/2026 18:00", DEC_3),
        ("3/12/2026 18:00", DEC_3),
        ("3/12/26 18:00", DEC_3),
        ("3/12 18:00", DEC_3),
        ("3-12-2026 18:00", DEC_3),
        # month names, day or month first
        ("3 Dec 18:00", DEC_3),
        ("3 December 2026 6pm", DEC_3),
        ("3rd Dec 18:00", DEC_3),
        ("3rd of December 6pm", DEC_3),
        ("3 sept 18:00", utc(2027, 9, 3, 17)),
        ("Dec 3 18:00", DEC_3),
        ("December 3rd, 2026 18:00", DEC_3),
        # a day name that agrees with the date
        ("Thu 3 Dec 18:00", DEC_3),
        ("Thursday 3 December 2026 18:00", DEC_3),
        ("thurs 3/12 18:00", DEC_3),
        ("Thu. 3 Dec. 18:00", DEC_3),
        ("Thursday, 3rd December 2026 at 6pm", DEC_3),
        # case, spacing, commas, `on`/`at`, time first
        ("3 DEC 2026, 18:00", DEC_3),
        ("  3   dec ,  18:00  ", DEC_3),
        ("3 Dec at 6pm", DEC_3),
        ("on 3 Dec at 6pm", DEC_3),
        ("3 Dec @ 6pm", DEC_3),
        ("6pm 3 Dec", DEC_3),
        ("18:00 on 3/12", DEC_3),
        # relative days
        ("today 18:30", utc(2026, 11, 27, 18, 30)),
        ("tomorrow 18:00", TOMORROW_6PM),
        ("tomorrow at 6pm", TOMORROW_6PM),
        ("Tomorrow, 6pm", TOMORROW_6PM),
        ("6pm tomorrow", TOMORROW_6PM),
        # times
        ("tomorrow 18.00", TOMORROW_6PM),
        ("tomorrow 6 PM", TOMORROW_6PM),
        ("tomorrow 6 p.m.", TOMORROW_6PM),
        ("tomorrow 6:30pm", utc(2026, 11, 28, 18, 30)),
        ("tomorrow 6.30 pm", utc(2026, 11, 28, 18, 30)),
        ("tomorrow 18:00:30", utc(2026, 11, 28, 18, 0, 30)),
        ("tomorrow 9am", utc(2026, 11, 28, 9)),
        ("tomorrow 1am", utc(2026, 11, 28, 1)),
        ("tomorrow 12am", utc(2026, 11, 28, 0)),
        ("tomorrow 12:30am", utc(2026, 11, 28, 0, 30)),
        ("tomorrow 12pm", utc(2026, 11, 28, 12)),
        ("tomorrow 12:30pm", utc(2026, 11, 28, 12, 30)),
        ("tomorrow noon", utc(2026, 11, 28, 12)),
        ("tomorrow at midday", utc(2026, 11, 28, 12)),
        ("tomorrow 12 noon", utc(2026, 11, 28, 12)),
        ("noon tomorrow", utc(2026, 11, 28, 12)),
        ("tomorrow 0:15", utc(2026, 11, 28, 0, 15)),
        ("tomorrow 00:00", utc(2026, 11, 28, 0)),
        ("tomorrow 23:59", utc(2026, 11, 28, 23, 59)),
        # an explicit offset wins over the guild's timezone
        ("2026-12-03T18:00:00+01:00", utc(2026, 12, 3, 17)),
        ("2026-12-03T18:00Z", DEC_3),
        ("2026-12-03 18:00 +01:00", utc(2026, 12, 3, 17)),
        ("2026-12-03 18:00 -05:00", utc(2026, 12, 3, 23)),
        ("2026-12-03 18:00-0530", utc(2026, 12, 3, 23, 30)),
        ("2026-12-03T23:30-05:00", utc(2026, 12, 4, 4, 30)),
        ("3 Dec 18:00 UTC", DEC_3),
        ("tomorrow 6pm +1", utc(2026, 11, 28, 17)),
        # summer time: BST is UTC+1
        ("2027-06-15 18:00", utc(2027, 6, 15, 17)),
        ("15 Jun 2027 6pm", utc(2027, 6, 15, 17)),
        # exactly two years ahead is still fine
        ("27 Nov 2028 18:00", utc(2028, 11, 27, 18)),
    ],
)
def test_parse_when_accepts(text: str, expected: datetime) -> None:
    """Every accepted form is read in London time (UK day first) and returned as UTC."""
    result = parse_when(text, now=NOW, tz=LONDON)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("now", "text", "expected"),
    [
        # Friday 27 Nov 2026, 10:00: a bare weekday is today only while the time is ahead
        (NOW, "friday 18:00", utc(2026, 11, 27, 18)),
        (NOW, "friday 9am", utc(2026, 12, 4, 9)),
        (NOW, "saturday 10am", utc(2026, 11, 28, 10)),
        (NOW, "tuesday 18:00", utc(2026, 12, 1, 18)),
        (NOW, "tue 6pm", utc(2026, 12, 1, 18)),
        (NOW, "tues 6pm", utc(2026, 12, 1, 18)),
        (NOW, "thursday 18:00", DEC_3),
        # `next` is the first such day strictly after today
        (NOW, "next tuesday 6pm", utc(2026, 12, 1, 18)),
        (NOW, "next thursday 18:00", DEC_3),
        (NOW, "next friday 18:00", utc(2026, 12, 4, 18)),
        (utc(2026, 11, 30, 10), "tuesday 18:00", utc(2026, 12, 1, 18)),
        (utc(2026, 11, 30, 10), "next tuesday 18:00", utc(2026, 12, 1, 18)),
        (utc(2026, 12, 1, 10), "tuesday 18:00", utc(2026, 12, 1, 18)),
        (utc(2026, 12, 1, 10), "next tuesday 18:00", utc(2026, 12, 8, 18)),
        # a date without a year is its next occurrence, today included
        (NOW, "1 Jan 18:00", utc(2027, 1, 1, 18)),
        (NOW, "27 Nov 18:00", utc(2026, 11, 27, 18)),
        (NOW, "26 Nov 18:00", utc(2027, 11, 26, 18)),
        (NOW, "29 Feb 18:00", utc(2028, 2, 29, 18)),
        (utc(2026, 12, 5, 10), "3 Dec 18:00", utc(2027, 12, 3, 18)),
        (utc(2026, 12, 5, 10), "3/12 18:00", utc(2027, 12, 3, 18)),
        (utc(2026, 12, 5, 10), "Fri 3 Dec 18:00", utc(2027, 12, 3, 18)),
        (utc(2026, 12, 31, 23, 30), "tomorrow 18:00", utc(2027, 1, 1, 18)),
        (utc(2026, 12, 31, 23, 30), "1/1 9am", utc(2027, 1, 1, 9)),
    ],
)
def test_parse_when_relative_to_now(now: datetime, text: str, expected: datetime) -> None:
    """Day names and dates without a year resolve from `now` by the documented rules."""
    assert parse_when(text, now=now, tz=LONDON) == expected


@pytest.mark.parametrize(
    ("now", "tz", "text", "expected"),
    [
        (NOW, NEW_YORK, "3 Dec 18:00", utc(2026, 12, 3, 23)),
        (NOW, NEW_YORK, "2027-06-15 18:00", utc(2027, 6, 15, 22)),
        (NOW, NEW_YORK, "tomorrow 9am", utc(2026, 11, 28, 14)),
        # 02:00 UTC on the 28th is still the evening of the 27th in New York
        (utc(2026, 11, 28, 2), NEW_YORK, "today 22:00", utc(2026, 11, 28, 3)),
        (utc(2026, 11, 28, 2), NEW_YORK, "friday 22:00", utc(2026, 11, 28, 3)),
        (NOW, NEW_YORK, "2026-12-03 18:00 +00:00", DEC_3),
        (NOW, KOLKATA, "3 Dec 18:00", utc(2026, 12, 3, 12, 30)),
        (NOW, ZoneInfo("UTC"), "3 Dec 18:00", DEC_3),
    ],
)
def test_parse_when_in_other_zones(
    now: datetime, tz: ZoneInfo, text: str, expected: datetime
) -> None:
    """The guild's own zone decides both the offset and what `today` is."""
    assert parse_when(text, now=now, tz=tz) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type when it starts"),
        ("   ", "Type when it starts"),
        ("soon", "not a date and time I can read. Try `3 Dec 18:00`"),
        ("yesterday 18:00", "not a date and time I can read"),
        ("3 Dec 18:00 BST", "not a date and time I can read"),
        ("3.12.2026 18:00", "not a date and time I can read"),
        ("3-12 18:00", "not a date and time I can read"),
        ("12-03-26 18:00", "not a date and time I can read"),
        ("3 Dec 18", "not a date and time I can read"),
        ("3 Dec", "Add a time"),
        ("2026-12-03", "Add a time"),
        ("tomorrow", "Add a time"),
        ("next tuesday", "Add a time"),
        ("1800", "Add a time"),
        ("3 Dec 1800", "Add a time"),
        ("18:00", "needs a day too, e.g. `tomorrow 18:00`"),
        ("6pm", "needs a day too, e.g. `tomorrow 18:00`"),
        ("31/02/2026 18:00", "`31/02/2026` is not a date: February 2026 has 28 days"),
        ("2026-13-01 18:00", "there is no month 13\\.$"),
        ("12/31/2026 18:00", "there is no month 31. Dates are day first"),
        ("31 Apr 18:00", "April has 30 days"),
        ("30 Feb 18:00", "February has 29 days"),
        ("0/12 18:00", "December has 31 days"),
        ("tomorrow 25:00", "`25:00` is not a time: hours go from 00 to 23"),
        ("tomorrow 24:00", "hours go from 00 to 23"),
        ("tomorrow 18:60", "minutes go from 00 to 59"),
        ("tomorrow 13pm", "`13pm` is not a time: with am or pm, hours go from 1 to 12"),
        ("tomorrow 0am", "hours go from 1 to 12"),
        ("tomorrow 18:00pm", "hours go from 1 to 12"),
        ("tomorrow midnight", "either end of a day"),
        ("Mon 3 Dec 18:00", "3 Dec 2026 is a Thursday, not a Monday"),
        ("today 9am", "That's in the past"),
        ("27/11/2026 09:59", "That's in the past"),
        ("2025-12-03 18:00", "That's in the past"),
        ("28 Nov 2028 18:00", "more than 2 years ahead"),
        ("3 Dec 2099 18:00", "more than 2 years ahead"),
        ("tomorrow 6pm +15:00", "not a UTC offset"),
        ("tomorrow 6pm -13", "not a UTC offset"),
        ("tomorrow 6pm +01:75", "not a UTC offset"),
        ("0001-01-01 00:00", "year from 2000"),
    ],
)
def test_parse_when_refuses(text: str, message: str) -> None:
    """Unreadable, impossible, past and far-off times are refused with what to type instead."""
    with pytest.raises(BadInput, match=message):
        parse_when(text, now=NOW, tz=LONDON)


@pytest.mark.parametrize(
    ("now", "tz", "text", "message"),
    [
        (
            NOW,
            LONDON,
            "Tue 3 Dec 2026 18:00",
            "3 Dec 2026 is a Thursday, not a Tuesday. Check the date, or leave out the day's name.",
        ),
        (
            NOW,
            LONDON,
            "today 9am",
            "That's in the past: Fri 27 Nov 2026, 09:00 GMT. "
            "Pick a time after Fri 27 Nov 2026, 10:00 GMT.",
        ),
        (
            NOW,
            LONDON,
            "3 Dec",
            "Add a time, e.g. `3 Dec 18:00` or `3 Dec 6pm` (with a colon or am/pm).",
        ),
        # the clocks go forward: 01:00-01:59 never happens
        (
            NOW,
            LONDON,
            "2027-03-28 01:30",
            "There is no 01:30 on Sun 28 Mar 2027 in Europe/London: the clocks go forward. "
            "Try 02:30 instead.",
        ),
        (
            NOW,
            NEW_YORK,
            "14 Mar 2027 2:30am",
            "There is no 02:30 on Sun 14 Mar 2027 in America/New_York: the clocks go forward. "
            "Try 03:30 instead.",
        ),
        # the clocks go back: 01:00-01:59 happens twice
        (
            BEFORE_AUTUMN,
            LONDON,
            "2026-10-25 01:30",
            "01:30 on Sun 25 Oct 2026 happens twice (the clocks go back): add +01:00 (BST) or "
            "+00:00 (GMT) after the time, e.g. `2026-10-25 01:30 +01:00`.",
        ),
        (
            NOW,
            NEW_YORK,
            "7 Nov 2027 1:30am",
            "01:30 on Sun 7 Nov 2027 happens twice (the clocks go back): add -04:00 (EDT) or "
            "-05:00 (EST) after the time, e.g. `2027-11-07 01:30 -04:00`.",
        ),
    ],
)
def test_refusal_messages(now: datetime, tz: ZoneInfo, text: str, message: str) -> None:
    """The organiser is told exactly what is wrong and what to type instead."""
    with pytest.raises(BadInput) as refused:
        parse_when(text, now=now, tz=tz)
    assert refused.value.message == message


@pytest.mark.parametrize(
    "text",
    ["2027-03-28 01:00", "28/03/2027 1:59am", "28 Mar 2027 01:30", "sun 28 mar 2027 1.30am"],
)
def test_spring_forward_gap_is_refused(text: str) -> None:
    """Every spelling of a time the clocks skip is refused, not moved an hour."""
    with pytest.raises(BadInput, match="the clocks go forward"):
        parse_when(text, now=NOW, tz=LONDON)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-28 00:59", utc(2027, 3, 28, 0, 59)),
        ("2027-03-28 02:00", utc(2027, 3, 28, 1)),
        ("2026-10-25 00:59", utc(2026, 10, 24, 23, 59)),
        ("2026-10-25 01:30 +01:00", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25T01:30+0100", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25 01:30 +00:00", utc(2026, 10, 25, 1, 30)),
        ("2026-10-25 01:30Z", utc(2026, 10, 25, 1, 30)),
        ("2026-10-25 02:00", utc(2026, 10, 25, 2)),
    ],
)
def test_around_the_clock_changes(text: str, expected: datetime) -> None:
    """Times either side of a change are fine, and an offset settles the repeated hour."""
    assert parse_when(text, now=BEFORE_AUTUMN, tz=LONDON) == expected


def test_a_date_earlier_today_is_past_not_next_year() -> None:
    """`3 Dec 18:00` typed on 3 Dec at 20:00 is refused, not moved to next year."""
    with pytest.raises(BadInput, match="That's in the past: Thu 3 Dec 2026, 18:00 GMT"):
        parse_when("3 Dec 18:00", now=utc(2026, 12, 3, 20), tz=LONDON)


def test_repeated_hour_is_refused_even_for_past_dates() -> None:
    """allow_past does not make an ambiguous local time acceptable."""
    with pytest.raises(BadInput, match="happens twice"):
        parse_when("2026-10-25 01:30", now=NOW, tz=LONDON, allow_past=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today 9am", utc(2026, 11, 27, 9)),
        ("1 Jan 2020 18:00", utc(2020, 1, 1, 18)),
        ("2026-10-25 01:30 +01:00", utc(2026, 10, 25, 0, 30)),
        ("tomorrow 18:00", TOMORROW_6PM),
    ],
)
def test_allow_past(text: str, expected: datetime) -> None:
    """Commands about meetups that already happened can name past times."""
    assert parse_when(text, now=NOW, tz=LONDON, allow_past=True) == expected


def test_allow_past_still_refuses_far_future() -> None:
    """A typo in the year is still caught when past times are allowed."""
    with pytest.raises(BadInput, match="more than 2 years ahead"):
        parse_when("3 Dec 2099 18:00", now=NOW, tz=LONDON, allow_past=True)


def test_user_text_is_quoted_safely() -> None:
    """Backticks in the input cannot break the code span, and long input is shortened."""
    with pytest.raises(BadInput) as refused:
        parse_when("`3 Dec` soonish", now=NOW, tz=LONDON)
    assert refused.value.message.startswith("`'3 Dec' soonish` is not a date and time")
    with pytest.raises(BadInput) as refused:
        parse_when("x" * 300, now=NOW, tz=LONDON)
    assert refused.value.message.startswith("`" + "x" * 39 + "…`")


def test_now_must_be_aware() -> None:
    """A naive `now` is a programming error, not something to guess about."""
    with pytest.raises(ValueError, match="aware"):
        parse_when("tomorrow 6pm", now=datetime(2026, 11, 27, 10), tz=LONDON)


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        (DEC_3, LONDON, "Thu 3 Dec 2026, 18:00 GMT"),
        (utc(2027, 6, 15, 17), LONDON, "Tue 15 Jun 2027, 18:00 BST"),
        (utc(2026, 12, 3, 23), NEW_YORK, "Thu 3 Dec 2026, 18:00 EST"),
        (utc(2026, 12, 4, 0, 30), NEW_YORK, "Thu 3 Dec 2026, 19:30 EST"),
        (utc(2027, 6, 15, 22), NEW_YORK, "Tue 15 Jun 2027, 18:00 EDT"),
        (utc(2026, 10, 25, 0, 30), LONDON, "Sun 25 Oct 2026, 01:30 BST"),
        (utc(2026, 10, 25, 1, 30), LONDON, "Sun 25 Oct 2026, 01:30 GMT"),
        (
            datetime(2026, 12, 3, 18, tzinfo=timezone(timedelta(hours=1))),
            LONDON,
            ("Thu 3 Dec 2026, 17:00 GMT"),
        ),
    ],
)
def test_describe_when(moment: datetime, tz: ZoneInfo, expected: str) -> None:
    """The moment is shown in the guild's local time with that moment's zone abbreviation."""
    assert describe_when(moment, tz) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 Dec 18:00", "Thu 3 Dec 2026, 18:00 GMT (in 6 days)"),
        ("today 18:30", "Fri 27 Nov 2026, 18:30 GMT (today)"),
        ("tomorrow 6pm", "Sat 28 Nov 2026, 18:00 GMT (tomorrow)"),
        ("next tuesday 6pm", "Tue 1 Dec 2026, 18:00 GMT (in 4 days)"),
        ("25 Dec 6pm", "Fri 25 Dec 2026, 18:00 GMT (in 4 weeks)"),
        ("15 Jun 2027 18:00", "Tue 15 Jun 2027, 18:00 BST (in 7 months)"),
        ("3 Dec", "Add a time, e.g. “3 Dec 18:00” or “3 Dec 6pm” (with a colon or am/pm)."),
        (
            "today 9am",
            "That's in the past: Fri 27 Nov 2026, 09:00 GMT. "
            "Pick a time after Fri 27 Nov 2026, 10:00 GMT.",
        ),
        (
            "2027-03-28 01:30",
            "There is no 01:30 on Sun 28 Mar 2027 in Europe/London: the clocks go forward. "
            "Try 02:30 instead.",
        ),
    ],
)
def test_preview_when(text: str, expected: str) -> None:
    """Autocomplete shows how the text was read, or why it cannot be, as plain text."""
    assert preview_when(text, now=NOW, tz=LONDON) == expected


def test_preview_when_fits_a_choice() -> None:
    """Long refusals are cut to Discord's 100-character choice names."""
    preview = preview_when("x" * 300, now=NOW, tz=LONDON)
    assert len(preview) == 100
    assert preview.endswith("…")


_PIECES = st.sampled_from(
    [
        "3",
        "29",
        "31",
        "0",
        "12",
        "2026",
        "2027",
        "99",
        "dec",
        "feb",
        "december",
        "thu",
        "tue",
        "next",
        "today",
        "tomorrow",
        "at",
        "on",
        ",",
        "/",
        "-",
        ".",
        ":",
        "18:00",
        "6pm",
        "12am",
        "noon",
        "midnight",
        "25:00",
        "1800",
        "+01:00",
        "-05",
        "Z",
        "utc",
        "T",
        "`",
        "3rd",
        " ",
    ]
)


@settings(database=None, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=8).map(" ".join)))
def test_preview_when_never_raises(text: str) -> None:
    """Whatever is typed, autocomplete gets a non-empty choice name of at most 100 characters."""
    preview = preview_when(text, now=NOW, tz=LONDON)
    assert 0 < len(preview) <= 100


@settings(database=None, deadline=None)
@given(st.lists(_PIECES, max_size=8).map(" ".join))
def test_parse_when_is_in_range_or_refused(text: str) -> None:
    """Anything accepted is aware UTC, not in the past, and at most about two years ahead."""
    try:
        result = parse_when(text, now=NOW, tz=LONDON)
    except BadInput:
        return
    assert result.tzinfo is UTC
    assert NOW <= result < utc(2028, 11, 28, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-06-30", date(2027, 6, 30)),
        ("30/06/2027", date(2027, 6, 30)),
        ("30/6/27", date(2027, 6, 30)),
        ("30-06-2027", date(2027, 6, 30)),
        ("30 Jun 2027", date(2027, 6, 30)),
        ("30 June 2027", date(2027, 6, 30)),
        ("June 30th, 2027", date(2027, 6, 30)),
        ("Wed 30 Jun 2027", date(2027, 6, 30)),
        ("30 June", date(2027, 6, 30)),
        ("30 November", date(2026, 11, 30)),
        ("27 Nov", date(2026, 11, 27)),
        ("26 Nov", date(2027, 11, 26)),
        ("today", date(2026, 11, 27)),
        ("tomorrow", date(2026, 11, 28)),
        ("friday", date(2026, 11, 27)),
        ("next friday", date(2026, 12, 4)),
        ("27/11/2028", date(2028, 11, 27)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    """End dates take the same date forms, with today counting as not past."""
    assert parse_date(text, now=NOW, tz=LONDON) == expected


def test_parse_date_uses_the_guild_calendar() -> None:
    """`today` is the guild's date, not UTC's."""
    late_evening_in_new_york = utc(2026, 11, 28, 2)
    assert parse_date("today", now=late_evening_in_new_york, tz=NEW_YORK) == date(2026, 11, 27)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type a date"),
        ("soon", "not a date I can read. Try `30/06/2027`"),
        ("30 Jun 2027 18:00", "has a time in it: give just the date"),
        ("31/06/2027", "June 2027 has 30 days"),
        ("Mon 30 Jun 2027", "30 Jun 2027 is a Wednesday, not a Monday"),
        (
            "2026-11-26",
            re.escape("That's in the past: Thu 26 Nov 2026. Pick today or a later date."),
        ),
        ("28/11/2028", "more than 2 years ahead"),
    ],
)
def test_parse_date_refuses(text: str, message: str) -> None:
    """Past, far-off, impossible and time-carrying end dates are refused."""
    with pytest.raises(BadInput, match=message):
        parse_date(text, now=NOW, tz=LONDON)
