"""Calendar export: valid RFC 5545, stable identity across edits, links Discord accepts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from icalendar import Calendar

from bot.domain.meetups import MeetupStatus, Repeat
from bot.services.calendar import LINK_LIMIT, google_link, ics, outlook_link, uid
from bot.services.meetups import MeetupView

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
MEETUP = MeetupView(
    id=7,
    guild_id=99,
    number=4,
    title="Network monitoring night",
    description="Bring your dashboards.",
    venue="Room B12, Leeds City College",
    online_url=None,
    voice_channel_id=None,
    region="Yorkshire and the Humber",
    starts_at=datetime(2026, 12, 3, 18, 0, tzinfo=UTC),
    duration_minutes=120,
    capacity=None,
    status=MeetupStatus.SCHEDULED,
    cancel_reason=None,
    revision=0,
    reminder_offsets=(60,),
    announcement_channel_id=1,
    announcement_message_id=2,
    thread_id=3,
    scheduled_event_id=None,
    series_id=None,
    repeat=Repeat.NONE,
    created_by=5,
)


def test_ics_events_are_valid_and_keep_their_identity() -> None:
    """UTC times, a UID that survives edits, SEQUENCE from the revision, cancellations."""
    edited = replace(MEETUP, revision=3, starts_at=datetime(2026, 12, 4, 18, 0, tzinfo=UTC))
    cancelled = replace(MEETUP, id=8, number=5, status=MeetupStatus.CANCELLED, revision=1)
    calendar = Calendar.from_ical(ics([edited, cancelled], now=NOW, name="TechMeets"))
    first, second = calendar.walk("VEVENT")
    assert str(first["UID"]) == uid(MEETUP) == "techmeet-99-7@techmeet-bot"
    assert first.decoded("DTSTART") == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert first.decoded("DTEND") == datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    assert first.decoded("SEQUENCE") == 3
    assert str(first["STATUS"]) == "CONFIRMED"
    assert str(first["LOCATION"]) == "Room B12, Leeds City College"
    assert str(second["STATUS"]) == "CANCELLED"


def test_links_fit_discord_and_keep_the_place() -> None:
    """However long the description, the links stay within 512 characters and keep the
    location and the times; only the details are shortened."""
    long = replace(MEETUP, description="Lots to say about SNMP traps & NetFlow. " * 40)
    for link in (google_link(long), outlook_link(long)):
        assert link is not None
        assert len(link) <= LINK_LIMIT
        query = parse_qs(urlsplit(link).query)
        assert query["location"] == ["Room B12, Leeds City College"]
    google = parse_qs(urlsplit(google_link(long) or "").query)
    assert google["dates"] == ["20261203T180000Z/20261203T200000Z"]


def test_no_link_rather_than_a_broken_one() -> None:
    """An online link too long to fit gives no button (the .ics still works)."""
    huge = replace(MEETUP, venue=None, online_url="https://example.ac.uk/" + "x" * 480)
    assert google_link(huge) is None
