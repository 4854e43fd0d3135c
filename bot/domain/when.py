"""Reading when a meetup starts from what an organiser types, and saying back how it was read.

Text is read in the guild's timezone (an IANA name) and comes back as an aware UTC datetime.
The community is in the UK, so numeric dates are day first. Any case, extra spaces, a comma
between date and time, and `at`/`@` before the time are all fine.

Dates:
- `2026-12-03` (also `2026/12/03`), `03/12/2026`, `3/12/26`, `3/12` (day first); `3-12-2026`
  only with a four-digit year last, so dashes can never be mistaken for ISO's year-month-day;
- `3 Dec`, `3rd December 2026`, `3rd of Dec`, and month first when the month is a word:
  `Dec 3`, `December 3rd, 2026`;
- an optional day name in front (`Thu 3 Dec`), which must agree with the date;
- `today`, `tomorrow`, `tuesday`, `next tuesday`.

Times (required; they may also come first, as in `6pm tomorrow`): `18:00`, `18.00`, `18:00:00`,
`6pm`, `6:30pm`, `6.30 p.m.`, `noon`, `midday`. 12am is 00:00 and 12pm is 12:00. Refused:
`1800` (a time or a year?) and `midnight` (the start or the end of the day?).

An offset after the time wins over the guild's timezone: `Z`, `UTC`, `+01:00`, `-0500`, `+1`,
as in ISO 8601's `2026-12-03T18:00:00+01:00`.

Rules for what people read differently (previews always show the resolved date):
- a date without a year is its next occurrence counting today: `3 Dec` typed on 27 Nov 2026 is
  in 2026, typed on 5 Dec 2026 in 2027; typed on 3 Dec after the time it is refused as past
  rather than moved a year on;
- `tuesday` is today if today is a Tuesday and the time is still ahead, else the next Tuesday;
- `next tuesday` is the first Tuesday strictly after today (on a Monday that is tomorrow, on a
  Tuesday a week today): British usage varies, so take the one rule that never means "today";
- `parse_date` reads the same date forms without a time; there a bare `tuesday` on a Tuesday is
  today, since a day is not past until it is over.

Refused with the reason, never silently shifted: unreadable text, impossible dates and times,
a day name that contradicts the date, times in the past (unless `allow_past`), times the clocks
skip when they go forward, times that happen twice when they go back (unless an offset says
which), anything more than two years ahead (most likely a typo in the year), and years before
2000 even when past times are allowed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.errors import BadInput

MAX_YEARS_AHEAD = 2
MIN_YEAR = 2000  # also keeps UTC conversions clear of datetime's year-1 edge
PREVIEW_MAX = 100  # an autocomplete choice's name

_MONTH_ABBRS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_ABBRS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Spelled out here rather than taken from `calendar`, whose names follow the process locale.
_MONTHS = {
    spelling: number
    for number, (abbr, name) in enumerate(zip(_MONTH_ABBRS, _MONTH_NAMES, strict=True), start=1)
    for spelling in (abbr.lower(), name.lower())
} | {"sept": 9}
_WEEKDAYS = {
    spelling: number
    for number, (abbr, name) in enumerate(zip(_DAY_ABBRS, _DAY_NAMES, strict=True))
    for spelling in (abbr.lower(), name.lower())
} | {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}

# --- the grammar --------------------------------------------------------------------------

_CLOCK = r"""
    (?P<clock>
        (?P<hour>\d{1,2}) (?: [:.] (?P<minute>\d{2}) (?: : (?P<second>\d{2}) )? )?
        \s* (?P<meridiem>[ap]\.?m\.?)?
      | (?: 12 \s* )? (?P<noon>noon|midday)
      | (?P<midnight>midnight)
    )
    (?: \s* (?P<offset>z|utc|[+-]\d{1,2}(?::?\d{2})?) )?
"""
_TIME_LAST = re.compile(rf"(?:^|(?<=\s)) {_CLOCK} $", re.IGNORECASE | re.VERBOSE)
_TIME_FIRST = re.compile(rf"^ {_CLOCK} (?=\s|$)", re.IGNORECASE | re.VERBOSE)
# `1800`, or a year where the time should be: worth a hint about colons.
_BARE_NUMBER = re.compile(r"(?:^|\s)\d{3,4}$")
_ISO_T = re.compile(r"(\d)T(\d)", re.IGNORECASE)

_DAY_NAME = r"(?: (?P<weekday>[a-z]+) \.? \s+ )?"
_ORDINAL = r"(?: st|nd|rd|th )?"
_RELATIVE = re.compile(r"(?P<relative>today|tomorrow)", re.IGNORECASE)
_WEEKDAY = re.compile(r"(?: (?P<next>next) \s+ )? (?P<weekday>[a-z]+) \.?", re.I | re.X)
_ISO_DATE = re.compile(
    rf"{_DAY_NAME} (?P<year>\d{{4}}) [-/] (?P<month>\d{{1,2}}) [-/] (?P<day>\d{{1,2}})", re.I | re.X
)
_SLASHED = re.compile(
    rf"{_DAY_NAME} (?P<day>\d{{1,2}}) / (?P<month>\d{{1,2}}) (?: / (?P<year>\d{{4}}|\d{{2}}) )?",
    re.I | re.X,
)
_DASHED = re.compile(
    rf"{_DAY_NAME} (?P<day>\d{{1,2}}) - (?P<month>\d{{1,2}}) - (?P<year>\d{{4}})", re.I | re.X
)
_DAY_MONTH = re.compile(
    rf"""{_DAY_NAME} (?P<day>\d{{1,2}}) {_ORDINAL} \s* (?: of \s+ )? (?P<month>[a-z]+) \.?
    (?: \s+ (?P<year>\d{{4}}) )?""",
    re.I | re.X,
)
_MONTH_DAY = re.compile(
    rf"""{_DAY_NAME} (?P<month>[a-z]+) \.? \s* (?P<day>\d{{1,2}}) {_ORDINAL}
    (?: \s+ (?P<year>\d{{4}}) )?""",
    re.I | re.X,
)

_EXAMPLES = "`3 Dec 18:00`, `tomorrow 6pm` or `2026-12-03 18:00`"
_ADD_A_TIME = "Add a time, e.g. `3 Dec 18:00` or `3 Dec 6pm` (with a colon or am/pm)."


# --- public API ---------------------------------------------------------------------------


def parse_when(text: str, *, now: datetime, tz: ZoneInfo, allow_past: bool = False) -> datetime:
    """The moment `text` names, read in `tz` unless it carries an offset, as aware UTC."""
    _require_aware(now)
    spec = _tidy(text)
    if not spec:
        raise BadInput(f"Type when it starts, e.g. {_EXAMPLES}.")
    found = _split_time(spec)
    if found is None:
        today = now.astimezone(tz).date()
        if _BARE_NUMBER.search(spec) or _read_date(spec, today=today, today_counts=True):
            raise BadInput(_ADD_A_TIME)
        raise BadInput(f"`{_shorten(text)}` is not a date and time I can read. Try {_EXAMPLES}.")
    date_text, clock_match = found
    clock = _clock(clock_match)
    offset = _offset(clock_match["offset"]) if clock_match["offset"] else None
    local_now = now.astimezone(offset or tz)
    today = local_now.date()
    if not date_text:
        raise BadInput(
            f"`{_shorten(text)}` needs a day too, e.g. `tomorrow {clock:%H:%M}` or "
            f"`3 Dec {clock:%H:%M}`."
        )
    day = _read_date(date_text, today=today, today_counts=clock > local_now.time())
    if day is None:
        raise BadInput(f"`{_shorten(text)}` is not a date and time I can read. Try {_EXAMPLES}.")
    naive = datetime.combine(day, clock)
    moment = naive.replace(tzinfo=offset) if offset else _localise(naive, tz)
    if day > _years_after(today, MAX_YEARS_AHEAD):
        raise BadInput(
            f"`{_shorten(text)}` is more than {MAX_YEARS_AHEAD} years ahead "
            f"({describe_when(moment, tz)}). Check the year."
        )
    if moment < now and not allow_past:
        raise BadInput(
            f"That's in the past: {describe_when(moment, tz)}. "
            f"Pick a time after {describe_when(now, tz)}."
        )
    return moment.astimezone(UTC)


def describe_when(moment: datetime, tz: ZoneInfo) -> str:
    """`Thu 3 Dec 2026, 18:00 GMT`: the moment in the guild's local time, with its zone."""
    _require_aware(moment)
    local = moment.astimezone(tz)
    return f"{_describe_date(local.date(), weekday=True)}, {local:%H:%M} {local.tzname()}"


def preview_when(text: str, *, now: datetime, tz: ZoneInfo) -> str:
    """How `text` would be read, or why it would not, fitted to an autocomplete choice."""
    try:
        moment = parse_when(text, now=now, tz=tz)
    except BadInput as error:
        # Choice names are plain text: quote with marks instead of markdown code spans.
        return _fit(re.sub(r"`([^`]*)`", r"“\1”", error.message))
    return _fit(f"{describe_when(moment, tz)} ({_relative(moment, now=now, tz=tz)})")


def parse_date(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """A day (such as the end of a series) from today to two years ahead, read in `tz`."""
    _require_aware(now)
    spec = _tidy(text)
    examples = "`30/06/2027`, `30 Jun 2027` or `2027-06-30`"
    if not spec:
        raise BadInput(f"Type a date, e.g. {examples}.")
    today = now.astimezone(tz).date()
    day = _read_date(spec, today=today, today_counts=True)
    if day is None:
        if _split_time(spec) is not None:
            raise BadInput(
                f"`{_shorten(text)}` has a time in it: give just the date, e.g. {examples}."
            )
        raise BadInput(f"`{_shorten(text)}` is not a date I can read. Try {examples}.")
    if day < today:
        raise BadInput(
            f"That's in the past: {_describe_date(day, weekday=True)}. Pick today or a later date."
        )
    if day > _years_after(today, MAX_YEARS_AHEAD):
        raise BadInput(
            f"`{_shorten(text)}` is more than {MAX_YEARS_AHEAD} years ahead "
            f"({_describe_date(day, weekday=True)}). Check the year."
        )
    return day


# --- times --------------------------------------------------------------------------------


def _split_time(spec: str) -> tuple[str, re.Match[str]] | None:
    """The text around the time (without `on`/`at`), and the time itself, if there is one."""
    for pattern in (_TIME_LAST, _TIME_FIRST):
        match = pattern.search(spec)
        # A bare number (`18`, `3`) is not a time: it needs minutes or am/pm.
        if match and (match["hour"] is None or match["minute"] or match["meridiem"]):
            words = (spec[: match.start()] + " " + spec[match.end() :]).split()
            if words and words[-1].lower() == "at":
                words.pop()
            if words and words[0].lower() == "on":
                words.pop(0)
            return " ".join(words), match
    return None


def _clock(match: re.Match[str]) -> time:
    shown = _shorten(match["clock"])
    if match["noon"]:
        return time(12)
    if match["midnight"]:
        raise BadInput(
            "`midnight` could be either end of a day: type `00:00` with the next day's date, "
            "or `23:59`."
        )
    hour, minute, second = (int(match[name] or 0) for name in ("hour", "minute", "second"))
    if match["meridiem"]:
        if not 1 <= hour <= 12:
            raise BadInput(
                f"`{shown}` is not a time: with am or pm, hours go from 1 to 12. "
                "Try `6pm` or `18:00`."
            )
        hour = hour % 12 + (12 if match["meridiem"].lower().startswith("p") else 0)
    elif hour > 23:
        raise BadInput(f"`{shown}` is not a time: hours go from 00 to 23.")
    if minute > 59 or second > 59:
        raise BadInput(f"`{shown}` is not a time: minutes go from 00 to 59.")
    return time(hour, minute, second)


def _offset(text: str) -> timezone:
    if text.lower() in {"z", "utc"}:
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if text[0] == "-" else 1)
    if minutes > 59 or not timedelta(hours=-12) <= offset <= timedelta(hours=14):
        raise BadInput(
            f"`{_shorten(text)}` is not a UTC offset: they go from `-12:00` to `+14:00`."
        )
    return timezone(offset)


def _localise(naive: datetime, tz: ZoneInfo) -> datetime:
    """`naive` in `tz`, refusing times the clocks skip or pass twice."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    day = _describe_date(naive.date(), weekday=True)
    # In a gap, fold=0 uses the offset from before the change, so a round trip lands later.
    after_gap = first.astimezone(UTC).astimezone(tz)
    if after_gap.replace(tzinfo=None) != naive:
        raise BadInput(
            f"There is no {naive:%H:%M} on {day} in {tz.key}: the clocks go forward. "
            f"Try {after_gap:%H:%M} instead."
        )
    if first.utcoffset() != second.utcoffset():
        raise BadInput(
            f"{naive:%H:%M} on {day} happens twice (the clocks go back): add "
            f"{_format_offset(first)} ({first.tzname()}) or {_format_offset(second)} "
            f"({second.tzname()}) after the time, e.g. "
            f"`{naive:%Y-%m-%d %H:%M} {_format_offset(first)}`."
        )
    return first


def _format_offset(moment: datetime) -> str:
    """`+01:00`, as ISO 8601 writes it."""
    seconds = int((moment.utcoffset() or timedelta()).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{'-' if seconds < 0 else '+'}{hours:02}:{minutes:02}"


# --- dates --------------------------------------------------------------------------------

_DateReader = Callable[[re.Match[str], date, bool], date | None]


def _read_date(text: str, *, today: date, today_counts: bool) -> date | None:
    """The day `text` names, or None if no form fits; BadInput if it fits but is impossible.

    `today_counts` says whether a bare weekday naming today's may mean today.
    """
    for pattern, read in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match and (day := read(match, today, today_counts)) is not None:
            return day
    return None


def _relative_day(match: re.Match[str], today: date, _today_counts: bool) -> date:
    return today + timedelta(days=1 if match["relative"].lower() == "tomorrow" else 0)


def _weekday_day(match: re.Match[str], today: date, today_counts: bool) -> date | None:
    weekday = _WEEKDAYS.get(match["weekday"].lower())
    if weekday is None:
        return None
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and (match["next"] or not today_counts):
        ahead = 7
    return today + timedelta(days=ahead)


def _numbered_day(match: re.Match[str], today: date, _today_counts: bool) -> date | None:
    return _calendar_day(match, today, month=int(match["month"]))


def _named_day(match: re.Match[str], today: date, _today_counts: bool) -> date | None:
    month = _MONTHS.get(match["month"].lower())
    return None if month is None else _calendar_day(match, today, month=month)


_DATE_FORMS: tuple[tuple[re.Pattern[str], _DateReader], ...] = (
    (_RELATIVE, _relative_day),
    (_WEEKDAY, _weekday_day),
    (_ISO_DATE, _numbered_day),
    (_SLASHED, _numbered_day),
    (_DASHED, _numbered_day),
    (_DAY_MONTH, _named_day),
    (_MONTH_DAY, _named_day),
)


def _calendar_day(match: re.Match[str], today: date, *, month: int) -> date | None:
    """A day from day, month and perhaps year and day name, checked against each other."""
    weekday = None
    if match["weekday"]:
        weekday = _WEEKDAYS.get(match["weekday"].lower())
        if weekday is None:
            return None
    shown = _shorten(match[0])
    day_first = match.start("day") < match.start("month")
    number = int(match["day"])
    if match["year"] is None:
        _check_day(number, month, None, shown, day_first=day_first)
        year = today.year if (month, number) >= (today.month, today.day) else today.year + 1
        while (month, number) == (2, 29) and not calendar.isleap(year):
            year += 1
    else:
        year = int(match["year"]) + (2000 if len(match["year"]) == 2 else 0)
        if year < MIN_YEAR:
            raise BadInput(f"`{shown}` is too long ago: use a year from {MIN_YEAR} on.")
        _check_day(number, month, year, shown, day_first=day_first)
    found = date(year, month, number)
    if weekday is not None and found.weekday() != weekday:
        raise BadInput(
            f"{_describe_date(found)} is a {_DAY_NAMES[found.weekday()]}, not a "
            f"{_DAY_NAMES[weekday]}. Check the date, or leave out the day's name."
        )
    return found


def _check_day(day: int, month: int, year: int | None, shown: str, *, day_first: bool) -> None:
    if not 1 <= month <= 12:
        hint = " Dates are day first, e.g. `31/12` for 31 December." if day_first else ""
        raise BadInput(f"`{shown}` is not a date: there is no month {month}.{hint}")
    # Without a year, 29 February is fine: it is read as the next one.
    days = calendar.monthrange(year or 2000, month)[1]
    if not 1 <= day <= days:
        when = _MONTH_NAMES[month - 1] + (f" {year}" if year else "")
        raise BadInput(f"`{shown}` is not a date: {when} has {days} days.")


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- showing ------------------------------------------------------------------------------


def _describe_date(day: date, *, weekday: bool = False) -> str:
    """`3 Dec 2026`, or `Thu 3 Dec 2026`; English whatever the process locale."""
    text = f"{day.day} {_MONTH_ABBRS[day.month - 1]} {day.year}"
    return f"{_DAY_ABBRS[day.weekday()]} {text}" if weekday else text


def _relative(moment: datetime, *, now: datetime, tz: ZoneInfo) -> str:
    """`today`, `tomorrow`, `in 6 days`, `in 3 weeks`, `in 7 months`: by the local calendar."""
    then, today = moment.astimezone(tz).date(), now.astimezone(tz).date()
    days = (then - today).days
    if days < 2:
        return ("today", "tomorrow")[days]
    if days < 14:
        return f"in {days} days"
    if days < 60:
        return f"in {days // 7} weeks"
    return f"in {(then.year - today.year) * 12 + then.month - today.month} months"


def _tidy(text: str) -> str:
    """One space between words, commas dropped, `@` read as `at`, ISO's `T` as a space."""
    return _ISO_T.sub(r"\1 \2", " ".join(text.replace(",", " ").replace("@", " at ").split()))


def _require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ValueError("expected an aware datetime")


def _fit(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_MAX else flat[: PREVIEW_MAX - 1] + "…"


def _shorten(text: str, limit: int = 40) -> str:
    """User text quoted back in an error: one line, bounded, no backticks to break the code span."""
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
