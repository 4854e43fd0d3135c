"""Guild scheduled events: Discord's rules for creating, editing and deleting them.

The request bodies were already validated against the OpenAPI description; these are the rules
the description cannot express (entity types, channels, times, status transitions, permissions).
Events are stored on the guild (``guild.scheduled_events``) as the objects Discord returns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from . import permissions as perms
from .errors import ApiError, missing_permissions
from .snowflakes import iso, new_snowflake
from .validation import FieldError, discord_errors
from .world import (
    EVENT_ACTIVE,
    EVENT_CANCELED,
    EVENT_COMPLETED,
    EVENT_SCHEDULED,
    GUILD_STAGE_VOICE,
    GUILD_VOICE,
    JSON,
    FakeGuild,
    FakeUser,
)

STAGE_INSTANCE, VOICE, EXTERNAL = 1, 2, 3
CHANNEL_TYPES = {STAGE_INSTANCE: GUILD_STAGE_VOICE, VOICE: GUILD_VOICE}
# What the bot needs in the event's channel, besides CREATE_EVENTS / MANAGE_EVENTS.
CHANNEL_PERMISSIONS = {
    STAGE_INSTANCE: perms.MANAGE_CHANNELS | perms.MUTE_MEMBERS | perms.MOVE_MEMBERS,
    VOICE: perms.VIEW_CHANNEL | perms.CONNECT,
}
TRANSITIONS = {EVENT_SCHEDULED: {EVENT_ACTIVE, EVENT_CANCELED}, EVENT_ACTIVE: {EVENT_COMPLETED}}
MAX_UPCOMING = 100
FIELDS = (
    "name",
    "description",
    "image",
    "scheduled_start_time",
    "scheduled_end_time",
    "privacy_level",
    "entity_type",
    "channel_id",
    "entity_metadata",
    "status",
    "recurrence_rule",
)


def create(guild: FakeGuild, body: JSON, creator: FakeUser, now: dt.datetime) -> JSON:
    """A new event from a POST body, or ApiError (400 rules, 403 permissions)."""
    if len(guild.upcoming_events()) >= MAX_UPCOMING:
        raise ApiError(400, 30038, "Maximum number of uncompleted guild scheduled events reached")
    event: JSON = {
        "id": str(new_snowflake()),
        "guild_id": str(guild.id),
        "channel_id": None,
        "creator_id": str(creator.id),
        "creator": creator.payload(),
        "name": "",
        "description": None,
        "image": None,
        "scheduled_start_time": None,
        "scheduled_end_time": None,
        "privacy_level": None,
        "status": EVENT_SCHEDULED,
        "entity_type": None,
        "entity_id": None,
        "entity_metadata": None,
        "recurrence_rule": None,
        "guild_scheduled_event_exceptions": [],
        "user_count": 0,
    }
    _merge(event, body)
    _check_rules(guild, event, now, new_start=True)
    _check_permissions(guild, event, creating=True)
    return event


def edit(guild: FakeGuild, event: JSON, body: JSON, now: dt.datetime) -> JSON:
    """The event after a PATCH (a new dict; ``event`` is left alone), or ApiError."""
    _check_permissions(guild, event, creating=False)
    if event["status"] in (EVENT_COMPLETED, EVENT_CANCELED):
        raise ApiError(400, 180000, "Cannot update a finished event")
    status = body.get("status")
    if status not in (None, event["status"]) and status not in TRANSITIONS[event["status"]]:
        raise _invalid(
            [
                (
                    ("status",),
                    "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                    f"Cannot change the status from {event['status']} to {status}.",
                )
            ]
        )
    updated = dict(event)
    _merge(updated, body)
    _check_rules(guild, updated, now, new_start="scheduled_start_time" in body)
    _check_permissions(guild, updated, creating=False)  # also in the new channel
    return updated


def check_can_delete(guild: FakeGuild, event: JSON) -> None:
    _check_permissions(guild, event, creating=False)


def _merge(event: JSON, body: JSON) -> None:
    """Copy the body's fields into the stored form (null entity_type / status: unchanged)."""
    for key in FIELDS:
        if key not in body or (key in ("entity_type", "status") and body[key] is None):
            continue
        value = body[key]
        if key == "channel_id" and value is not None:
            value = str(value)
        elif key in ("scheduled_start_time", "scheduled_end_time") and value is not None:
            value = iso(_parse_time(key, value))
        elif key == "image" and value is not None:
            value = hashlib.sha256(str(value).encode()).hexdigest()[:32]  # Discord stores a hash
        event[key] = value
    if event["entity_type"] != EXTERNAL:
        event["entity_metadata"] = None


def _check_rules(guild: FakeGuild, event: JSON, now: dt.datetime, *, new_start: bool) -> None:
    errors: list[FieldError] = []
    if not 1 <= len(event["name"]) <= 100:
        errors.append((("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    kind, channel_id = event["entity_type"], event["channel_id"]
    if kind == EXTERNAL:
        if channel_id is not None:
            errors.append((("channel_id",), "CHANNEL_ID_MUST_BE_NULL", "Must be null."))
        if not (event["entity_metadata"] or {}).get("location"):
            errors.append(
                (("entity_metadata", "location"), "BASE_TYPE_REQUIRED", "This field is required")
            )
        if event["scheduled_end_time"] is None:
            errors.append((("scheduled_end_time",), "BASE_TYPE_REQUIRED", "This field is required"))
    elif channel_id is None:
        errors.append((("channel_id",), "BASE_TYPE_REQUIRED", "This field is required"))
    else:
        channel = guild.get_channel(int(channel_id))
        if channel is None or channel.type != CHANNEL_TYPES.get(kind):
            wanted = "a stage" if kind == STAGE_INSTANCE else "a voice"
            errors.append(
                (("channel_id",), "CHANNEL_TYPE_INVALID", f"Must be {wanted} channel of the guild.")
            )
    start = _parse_time("scheduled_start_time", event["scheduled_start_time"])
    now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    if new_start and event["status"] == EVENT_SCHEDULED and start <= now:
        errors.append(
            (
                ("scheduled_start_time",),
                "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                "Cannot schedule event in the past.",
            )
        )
    end = event["scheduled_end_time"]
    if end is not None and _parse_time("scheduled_end_time", end) <= start:
        errors.append(
            (
                ("scheduled_end_time",),
                "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                "Cannot schedule event to end before starting.",
            )
        )
    if errors:
        raise _invalid(errors)


def _check_permissions(guild: FakeGuild, event: JSON, *, creating: bool) -> None:
    """CREATE_EVENTS creates and manages the bot's own events; MANAGE_EVENTS manages all."""
    bot = guild.bot_member
    channel_id = event["channel_id"]
    channel = guild.get_channel(int(channel_id)) if channel_id is not None else None
    granted = (
        perms.permissions_for(bot, channel) if channel is not None else perms.base_permissions(bot)
    )
    if creating:
        allowed = bool(granted & perms.CREATE_EVENTS)
    elif event["creator_id"] == str(bot.id):
        allowed = bool(granted & (perms.CREATE_EVENTS | perms.MANAGE_EVENTS))
    else:
        allowed = bool(granted & perms.MANAGE_EVENTS)
    in_channel = CHANNEL_PERMISSIONS.get(event["entity_type"], 0)
    if not allowed or granted & in_channel != in_channel:
        raise missing_permissions()


def _parse_time(key: str, value: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise _invalid(
            [((key,), "DATE_TIME_TYPE_PARSE", f"Could not parse {value}. Should be ISO8601.")]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _invalid(errors: list[FieldError]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", discord_errors(errors))
