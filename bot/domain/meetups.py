"""Rules for TechMeets: what a valid meetup is, when reminders fall due, how late is too late,
and when a repeating meetup happens next."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday

from bot.errors import BadInput

TITLE_MAX = 100  # Discord's scheduled-event limits, so the mirror always fits
VENUE_MAX = 100
DESCRIPTION_MAX = 1000
URL_MAX = 512
CANCEL_REASON_MAX = 200
DEFAULT_DURATION = 120
MIN_DURATION, MAX_DURATION = 15, 720
MAX_CAPACITY = 10_000


class RsvpStatus(StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"
    WAITLISTED = "waitlisted"


class MeetupStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Repeat(StrEnum):
    NONE = "none"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY_FIRST = "monthly-first"
    MONTHLY_SECOND = "monthly-second"
    MONTHLY_THIRD = "monthly-third"
    MONTHLY_FOURTH = "monthly-fourth"
    MONTHLY_LAST = "monthly-last"

    @property
    def week_of_month(self) -> int | None:
        """1..4 for the nth weekday of the month, -1 for the last one."""
        return _WEEK_OF_MONTH.get(self)


_WEEK_OF_MONTH = {
    Repeat.MONTHLY_FIRST: 1,
    Repeat.MONTHLY_SECOND: 2,
    Repeat.MONTHLY_THIRD: 3,
    Repeat.MONTHLY_FOURTH: 4,
    Repeat.MONTHLY_LAST: -1,
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


# --- validating what organisers type --------------------------------------------------------


def clean_text(text: str | None, *, field: str, limit: int, required: bool = False) -> str | None:
    """Trimmed text within `limit` characters; None when empty and optional."""
    value = (text or "").strip()
    if not value:
        if required:
            raise BadInput(f"The {field} can't be empty.")
        return None
    if len(value) > limit:
        raise BadInput(
            f"The {field} can be at most {limit} characters (Discord's limit); yours is "
            f"{len(value)}. Shorten it and try again."
        )
    return value


def check_url(text: str | None) -> str | None:
    """An http(s) link with a host, or None."""
    value = (text or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value:
        raise BadInput(
            "The online link must be a web address starting with https:// (or http://), "
            "e.g. `https://teams.microsoft.com/l/meetup-join/...`."
        )
    if len(value) > URL_MAX:
        raise BadInput(f"The online link can be at most {URL_MAX} characters.")
    return value


def check_duration(minutes: int) -> int:
    if not MIN_DURATION <= minutes <= MAX_DURATION:
        raise BadInput(
            f"The duration is in minutes, between {MIN_DURATION} and {MAX_DURATION} "
            f"(12 hours); you gave {minutes}."
        )
    return minutes


def check_capacity(capacity: int | None) -> int | None:
    if capacity is None:
        return None
    if not 1 <= capacity <= MAX_CAPACITY:
        raise BadInput(
            "The capacity is how many people can come: at least 1. Leave it out for no limit."
        )
    return capacity


def check_region(region: str | None, choices: tuple[str, ...]) -> str | None:
    """One of the guild's regions (any case), or None."""
    if region is None or not region.strip():
        return None
    wanted = " ".join(region.split()).casefold()
    for choice in choices:
        if choice.casefold() == wanted:
            return choice
    raise BadInput(
        f"Pick the region from the list ({', '.join(choices)}); a server manager can change "
        "the list with `/setup regions`."
    )


# --- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    offset_minutes: int
    due_at: datetime


def plan_reminders(
    starts_at: datetime, offsets: tuple[int, ...], *, now: datetime
) -> tuple[list[PlannedReminder], list[int]]:
    """Reminders still ahead of `now`, and the offsets that are already past (not created)."""
    planned, past = [], []
    for offset in sorted(offsets, reverse=True):
        due = starts_at - timedelta(minutes=offset)
        if due > now:
            planned.append(PlannedReminder(offset, due))
        else:
            past.append(offset)
    return planned, past


class Lateness(Enum):
    ON_TIME = "on time"
    LATE = "late"  # post it, saying it is late
    TOO_LATE = "too late"  # skip it, say why in the job's result


# A reminder this far behind its time is still simply "on time" (timers, slow machines).
ON_TIME_SLACK = timedelta(minutes=1)
MIN_GRACE = timedelta(minutes=5)


def reminder_lateness(
    *, due_at: datetime, starts_at: datetime, offset_minutes: int, now: datetime
) -> Lateness:
    """Late policy for messages to people: within a grace of 10% of the offset (at least
    5 minutes) a reminder is posted marked late; after that, or once the meetup has
    started, it is skipped rather than posted hours late."""
    if now >= starts_at:
        return Lateness.TOO_LATE
    overdue = now - due_at
    if overdue <= ON_TIME_SLACK:
        return Lateness.ON_TIME
    grace = max(timedelta(minutes=offset_minutes) / 10, MIN_GRACE)
    return Lateness.LATE if overdue <= grace else Lateness.TOO_LATE


# Asking "was it worth your time?" makes sense the evening after, not days later.
FOLLOW_UP_GRACE = timedelta(hours=12)


def follow_up_too_late(*, ends_at: datetime, now: datetime) -> bool:
    """The follow-up is a message to people, so it has a grace after the meetup ends."""
    return now - ends_at > FOLLOW_UP_GRACE


# --- repeating meetups ----------------------------------------------------------------------


def week_of_month(day: date) -> tuple[int, bool]:
    """Which weekday of its month `day` is (1..5), and whether it is the last one."""
    nth = (day.day - 1) // 7 + 1
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    return nth, day.day + 7 > days_in_month


def check_repeat(repeat: Repeat, first_local: datetime) -> None:
    """A monthly repeat must match the first meetup's date (e.g. it is the last Tuesday)."""
    wanted = repeat.week_of_month
    if wanted is None:
        return
    nth, is_last = week_of_month(first_local.date())
    if (wanted == -1 and is_last) or wanted == nth:
        return
    weekday_name = calendar.day_name[first_local.weekday()]
    actual = f"the last {weekday_name}" if is_last else f"the {_ORDINALS[nth]} {weekday_name}"
    raise BadInput(
        f"{first_local:%-d %b %Y} is {actual} of the month, not the {_ORDINALS[wanted]}: "
        f"pick the matching repeat or change the date."
    )


def next_occurrence(
    *,
    repeat: Repeat,
    first_starts_at: datetime,
    tz: ZoneInfo,
    after: datetime,
    until: date | None,
) -> datetime | None:
    """The next start of a series strictly after `after`, in UTC, or None when it has ended.

    Occurrences keep the first one's wall-clock time in `tz`: 18:00 stays 18:00 across
    daylight saving changes.
    """
    if repeat is Repeat.NONE:
        return None
    first_local = first_starts_at.astimezone(tz).replace(tzinfo=None)
    if repeat.week_of_month is not None:
        rule = rrule(
            MONTHLY,
            dtstart=first_local,
            byweekday=weekday(first_local.weekday(), repeat.week_of_month),
        )
    else:
        rule = rrule(WEEKLY, dtstart=first_local, interval=2 if repeat is Repeat.FORTNIGHTLY else 1)
    # Compare in local wall-clock time; rrule works on naive datetimes.
    after_local = after.astimezone(tz).replace(tzinfo=None)
    candidate = rule.after(after_local)
    while candidate is not None and not _exists(candidate, tz):
        # A wall-clock time inside the spring-forward gap does not happen that day.
        candidate = rule.after(candidate)
    if candidate is None or (until is not None and candidate.date() > until):
        return None
    return candidate.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=tz)
    return aware.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None) == local


def describe_repeat(repeat: Repeat, first_local: datetime) -> str:
    weekday_name = calendar.day_name[first_local.weekday()]
    if repeat is Repeat.WEEKLY:
        return f"every {weekday_name}"
    if repeat is Repeat.FORTNIGHTLY:
        return f"every other {weekday_name}"
    if repeat.week_of_month is not None:
        return f"the {_ORDINALS[repeat.week_of_month]} {weekday_name} of every month"
    return "once"
