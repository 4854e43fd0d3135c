"""Calendar export: .ics files (RFC 5545) and one-click links for Google and Outlook."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode

from icalendar import Calendar, Event

from bot.services.meetups import MeetupView


def uid(meetup: MeetupView) -> str:
    """Stable across edits, so calendar apps update the event instead of adding another."""
    return f"techmeet-{meetup.guild_id}-{meetup.id}@techmeet-bot"


def _location(meetup: MeetupView) -> str | None:
    return meetup.venue or meetup.online_url


def _details(meetup: MeetupView) -> str:
    parts = [meetup.description or ""]
    if meetup.online_url:
        parts.append(f"Join online: {meetup.online_url}")
    parts.append("RSVP with the buttons on the announcement in Discord.")
    return "\n\n".join(part for part in parts if part)


def ics(meetups: Sequence[MeetupView], *, now: datetime, name: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//TechMeet bot//techmeet//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for meetup in meetups:
        event = Event()
        event.add("uid", uid(meetup))
        event.add("dtstamp", now)
        event.add("dtstart", meetup.starts_at)
        event.add("dtend", meetup.ends_at)
        event.add("summary", f"TechMeet #{meetup.number}: {meetup.title}")
        event.add("description", _details(meetup))
        if location := _location(meetup):
            event.add("location", location)
        if meetup.online_url:
            event.add("url", meetup.online_url)
        # Calendar apps apply a change only when SEQUENCE goes up.
        event.add("sequence", meetup.revision)
        event.add("status", "CANCELLED" if meetup.cancelled else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


# Discord refuses link buttons whose URL is longer than this.
LINK_LIMIT = 512


def _link(base: str, query: dict[str, str], *, shrink: str) -> str | None:
    """base?query within LINK_LIMIT, shortening only the `shrink` text (never the place or
    the time); None when even that is not enough (e.g. a very long online link)."""
    text = query[shrink]
    while True:
        url = base + urlencode({**query, shrink: text})
        if len(url) <= LINK_LIMIT:
            return url
        if not text:
            return None
        # An encoded character takes up to 9 characters: cut at least a third of the excess.
        text = text[: len(text) - max((len(url) - LINK_LIMIT) // 3, 1)].rstrip()


def google_link(meetup: MeetupView) -> str | None:
    return _link(
        "https://calendar.google.com/calendar/render?",
        {
            "action": "TEMPLATE",
            "text": f"TechMeet #{meetup.number}: {meetup.title}",
            "dates": f"{_stamp(meetup.starts_at)}/{_stamp(meetup.ends_at)}",
            "location": _location(meetup) or "",
            "details": _details(meetup),
        },
        shrink="details",
    )


def outlook_link(meetup: MeetupView) -> str | None:
    return _link(
        "https://outlook.office.com/calendar/0/deeplink/compose?",
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": f"TechMeet #{meetup.number}: {meetup.title}",
            "startdt": meetup.starts_at.isoformat(),
            "enddt": meetup.ends_at.isoformat(),
            "location": _location(meetup) or "",
            "body": _details(meetup),
        },
        shrink="body",
    )
