"""The fake Discord world: users, guilds, roles, members, channels and messages.

Every object renders itself as the JSON payload Discord would send (``payload()``). Changes made
by a test after the bot connected are reported to the hub, which dispatches the matching gateway
event (CHANNEL_UPDATE, GUILD_ROLE_CREATE, GUILD_MEMBER_ADD, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

import orjson

from . import permissions as perms
from .errors import StandInError
from .snowflakes import iso_now, new_snowflake

JSON = dict[str, Any]

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_NEWS = 5
NEWS_THREAD = 10
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_STAGE_VOICE = 13
THREAD_TYPES = (NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
MESSAGEABLE_TYPES = (GUILD_TEXT, DM, GUILD_VOICE, GUILD_NEWS, GUILD_STAGE_VOICE, *THREAD_TYPES)

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15

# Guild scheduled event statuses.
EVENT_SCHEDULED, EVENT_ACTIVE, EVENT_COMPLETED, EVENT_CANCELED = 1, 2, 3, 4


class Hub(Protocol):
    """What world objects need from the stand-in."""

    @property
    def bot_user(self) -> FakeUser: ...

    def new_user(self, name: str, *, bot: bool = False) -> FakeUser: ...

    def emit(self, event: str, data: JSON, intent: int) -> None: ...


@dataclass(eq=False)
class FakeUser:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    dms_closed: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class PermissionOverwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass(eq=False)
class FakeRole:
    guild: FakeGuild
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    hoist: bool = False
    managed: bool = False
    color: int = 0
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "description": None,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data

    def edit(
        self,
        *,
        name: str | None = None,
        permissions: int | None = None,
        mentionable: bool | None = None,
        hoist: bool | None = None,
        color: int | None = None,
    ) -> None:
        """Change the role as an admin would; dispatches GUILD_ROLE_UPDATE."""
        if name is not None:
            self.name = name
        if permissions is not None:
            self.permissions = permissions
        if mentionable is not None:
            self.mentionable = mentionable
        if hoist is not None:
            self.hoist = hoist
        if color is not None:
            self.color = color
        self.guild.emit_role("GUILD_ROLE_UPDATE", self)


@dataclass(eq=False)
class FakeMember:
    guild: FakeGuild
    user: FakeUser
    roles: list[FakeRole] = field(default_factory=list)  # without @everyone
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "roles": [str(role.id) for role in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data

    def add_roles(self, *roles: FakeRole) -> None:
        """Give the member roles; dispatches GUILD_MEMBER_UPDATE."""
        for role in roles:
            if role.guild is not self.guild or role is self.guild.everyone:
                raise StandInError(
                    f"{role.name!r} cannot be given to a member of {self.guild.name!r}"
                )
            if role not in self.roles:
                self.roles.append(role)
        self.guild.emit_member("GUILD_MEMBER_UPDATE", self)

    def remove_roles(self, *roles: FakeRole) -> None:
        """Take roles away; dispatches GUILD_MEMBER_UPDATE."""
        self.roles = [role for role in self.roles if role not in roles]
        self.guild.emit_member("GUILD_MEMBER_UPDATE", self)

    def edit(self, *, nick: str | None = None) -> None:
        self.nick = nick
        self.guild.emit_member("GUILD_MEMBER_UPDATE", self)


OverwriteSpec = Mapping["FakeRole | FakeMember", tuple[int, int]]


@dataclass(eq=False)
class FakeChannel:
    id: int
    name: str
    type: int
    guild: FakeGuild | None = None
    parent: FakeChannel | None = None  # category, or the parent channel of a thread
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    overwrites: dict[int, PermissionOverwrite] = field(default_factory=dict)
    recipient: FakeUser | None = None  # DM channels
    owner_id: int | None = None  # threads
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 4320
    created_at: str = field(default_factory=iso_now)
    last_message_id: int | None = None
    message_count: int = 0
    thread_members: set[int] = field(default_factory=set)  # added with PUT thread-members

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self) -> JSON:
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": _opt_id(self.last_message_id),
                "flags": 0,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        assert self.guild is not None
        if self.is_thread:
            return self._thread_payload(self.guild)
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [ow.payload() for ow in self.overwrites.values()],
            "parent_id": _opt_id(self.parent.id if self.parent else None),
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type in (GUILD_TEXT, GUILD_NEWS):
            data |= {
                "topic": self.topic,
                "last_message_id": _opt_id(self.last_message_id),
                "rate_limit_per_user": 0,
                "default_auto_archive_duration": 4320,
                "default_thread_rate_limit_per_user": 0,
            }
        elif self.type in (GUILD_VOICE, GUILD_STAGE_VOICE):
            data |= {
                "bitrate": 64000,
                "user_limit": 0,
                "rtc_region": None,
                "last_message_id": _opt_id(self.last_message_id),
                "rate_limit_per_user": 0,
                "topic": self.topic,
            }
        return data

    def _thread_payload(self, guild: FakeGuild) -> JSON:
        assert self.parent is not None
        metadata: JSON = {
            "archived": self.archived,
            "auto_archive_duration": self.auto_archive_duration,
            "archive_timestamp": self.created_at,
            "locked": self.locked,
            "create_timestamp": self.created_at,
        }
        if self.type == PRIVATE_THREAD:
            metadata["invitable"] = True
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild.id),
            "parent_id": str(self.parent.id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": _opt_id(self.last_message_id),
            "rate_limit_per_user": 0,
            "message_count": self.message_count,
            "member_count": 1,
            "total_message_sent": self.message_count,
            "flags": 0,
            "thread_metadata": metadata,
        }

    def set_overwrite(self, target: FakeRole | FakeMember, allow: int = 0, deny: int = 0) -> None:
        """Set a permission overwrite for a role or member; dispatches CHANNEL_UPDATE."""
        guild = self._guild_channel_guild()
        self.overwrites[target.id] = PermissionOverwrite(
            target.id, 0 if isinstance(target, FakeRole) else 1, allow, deny
        )
        guild.emit_channel("CHANNEL_UPDATE", self)

    def remove_overwrite(self, target: FakeRole | FakeMember) -> None:
        guild = self._guild_channel_guild()
        self.overwrites.pop(target.id, None)
        guild.emit_channel("CHANNEL_UPDATE", self)

    def edit(
        self, *, name: str | None = None, topic: str | None = None, archived: bool | None = None
    ) -> None:
        """Rename the channel, change its topic or (a thread) archive it; dispatches
        CHANNEL_UPDATE (THREAD_UPDATE)."""
        guild = self.guild
        if guild is None:
            raise StandInError("DM channels cannot be edited")
        if name is not None:
            self.name = name
        if topic is not None:
            self.topic = topic
        if archived is not None:
            if not self.is_thread:
                raise StandInError("only threads are archived")
            self.archived = archived
        guild.emit_channel("THREAD_UPDATE" if self.is_thread else "CHANNEL_UPDATE", self)

    def _guild_channel_guild(self) -> FakeGuild:
        if self.guild is None or self.is_thread:
            raise StandInError("permission overwrites exist only on guild channels")
        return self.guild


def _opt_id(value: int | None) -> str | None:
    return None if value is None else str(value)


class FakeGuild:
    """A server with @everyone, the bot (with its managed role), an owner and #general."""

    def __init__(self, hub: Hub, name: str, *, bot_permissions: int, bot_role_name: str) -> None:
        self.hub = hub
        self.id = new_snowflake()
        self.name = name
        self.roles: list[FakeRole] = []
        self.channels: list[FakeChannel] = []
        self.threads: list[FakeChannel] = []
        self.members: dict[int, FakeMember] = {}
        # Scheduled events by id: full objects as Discord returns them (``user_count`` included).
        self.scheduled_events: dict[int, JSON] = {}
        self.connected = False  # set once the bot has received this guild's GUILD_CREATE
        self.everyone = FakeRole(self, self.id, "@everyone", perms.EVERYONE_DEFAULT, position=0)
        self.roles.append(self.everyone)
        bot_role = FakeRole(
            self,
            new_snowflake(),
            bot_role_name,
            bot_permissions,
            position=1,
            managed=True,
            bot_id=hub.bot_user.id,
        )
        self.roles.append(bot_role)
        self.bot_role = bot_role
        self.bot_member = self._attach(FakeMember(self, hub.bot_user, [bot_role]))
        self.owner = self._attach(FakeMember(self, hub.new_user(f"{name} Owner")))
        self.owner_id = self.owner.id
        self.general = self.add_text_channel("general")

    def __repr__(self) -> str:
        return f"<FakeGuild id={self.id} name={self.name!r}>"

    # -- lookups -------------------------------------------------------------------------------

    def get_member(self, user_id: int) -> FakeMember | None:
        return self.members.get(user_id)

    def get_role(self, role_id: int) -> FakeRole | None:
        return next((role for role in self.roles if role.id == role_id), None)

    def get_channel(self, channel_id: int) -> FakeChannel | None:
        return next((c for c in [*self.channels, *self.threads] if c.id == channel_id), None)

    def upcoming_events(self) -> list[JSON]:
        """Scheduled and active events: what Discord lists (finished ones drop out)."""
        return [
            event
            for event in self.scheduled_events.values()
            if event["status"] in (EVENT_SCHEDULED, EVENT_ACTIVE)
        ]

    # -- building the world --------------------------------------------------------------------

    def add_role(
        self,
        name: str,
        permissions: int = 0,
        mentionable: bool = False,
        *,
        hoist: bool = False,
        color: int = 0,
        position: int | None = None,
    ) -> FakeRole:
        """A new role; like Discord it lands just above @everyone unless ``position`` is given."""
        position = 1 if position is None else max(1, position)
        shifted = [
            role for role in self.roles if role is not self.everyone and role.position >= position
        ]
        for role in shifted:
            role.position += 1
        role = FakeRole(
            self, new_snowflake(), name, permissions, position, mentionable, hoist, color=color
        )
        self.roles.append(role)
        self.emit_role("GUILD_ROLE_CREATE", role)
        for other in shifted:
            self.emit_role("GUILD_ROLE_UPDATE", other)
        return role

    def add_member(
        self,
        name: str,
        roles: Iterable[FakeRole] | None = None,
        permissions: int | None = None,
        *,
        bot: bool = False,
        nick: str | None = None,
    ) -> FakeMember:
        """A new user joins the guild. ``permissions=`` gives them a fresh role with those bits."""
        member_roles = list(roles or [])
        if permissions is not None:
            member_roles.append(self.add_role(f"{name} permissions", permissions))
        member = FakeMember(self, self.hub.new_user(name, bot=bot), member_roles, nick)
        self._attach(member)
        self.emit_member("GUILD_MEMBER_ADD", member)
        return member

    def remove_member(self, member: FakeMember) -> None:
        """The member leaves (or is kicked); dispatches GUILD_MEMBER_REMOVE."""
        if member is self.bot_member:
            raise StandInError("use standin.remove_guild() to remove the bot from a guild")
        if self.members.pop(member.id, None) is None:
            raise StandInError(f"{member.name!r} is not a member of {self.name!r}")
        self.hub.emit(
            "GUILD_MEMBER_REMOVE",
            {"guild_id": str(self.id), "user": member.user.payload()},
            perms.INTENT_GUILD_MEMBERS,
        )

    def add_text_channel(
        self,
        name: str,
        overwrites: OverwriteSpec | None = None,
        *,
        category: FakeChannel | None = None,
        topic: str | None = None,
    ) -> FakeChannel:
        return self._add_channel(name, GUILD_TEXT, overwrites, category, topic)

    def add_news_channel(
        self,
        name: str,
        overwrites: OverwriteSpec | None = None,
        *,
        category: FakeChannel | None = None,
        topic: str | None = None,
    ) -> FakeChannel:
        return self._add_channel(name, GUILD_NEWS, overwrites, category, topic)

    def add_voice_channel(
        self,
        name: str,
        overwrites: OverwriteSpec | None = None,
        *,
        category: FakeChannel | None = None,
    ) -> FakeChannel:
        return self._add_channel(name, GUILD_VOICE, overwrites, category, None)

    def add_stage_channel(
        self,
        name: str,
        overwrites: OverwriteSpec | None = None,
        *,
        category: FakeChannel | None = None,
    ) -> FakeChannel:
        return self._add_channel(name, GUILD_STAGE_VOICE, overwrites, category, None)

    def add_category(self, name: str, overwrites: OverwriteSpec | None = None) -> FakeChannel:
        return self._add_channel(name, GUILD_CATEGORY, overwrites, None, None)

    def _add_channel(
        self,
        name: str,
        type_: int,
        overwrites: OverwriteSpec | None,
        category: FakeChannel | None,
        topic: str | None,
    ) -> FakeChannel:
        if category is not None and category.type != GUILD_CATEGORY:
            raise StandInError(f"{category.name!r} is not a category")
        position = sum(1 for channel in self.channels if channel.type == type_)
        channel = FakeChannel(
            new_snowflake(), name, type_, self, parent=category, position=position, topic=topic
        )
        for target, (allow, deny) in (overwrites or {}).items():
            kind = 0 if isinstance(target, FakeRole) else 1
            channel.overwrites[target.id] = PermissionOverwrite(target.id, kind, allow, deny)
        self.channels.append(channel)
        self.emit_channel("CHANNEL_CREATE", channel)
        return channel

    def _attach(self, member: FakeMember) -> FakeMember:
        self.members[member.id] = member
        return member

    # -- payloads and events -------------------------------------------------------------------

    def payload(self, *, intents: int, initial: bool) -> JSON:
        """The GUILD_CREATE payload for a bot that identified with ``intents``."""
        if intents & perms.INTENT_GUILD_MEMBERS:
            members = list(self.members.values())
        else:  # without the members intent Discord sends only the bot itself
            members = [self.bot_member]
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": str(self.general.id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "features": [],
            "roles": [role.payload() for role in self.roles],
            "emojis": [],
            "stickers": [],
            "joined_at": self.bot_member.joined_at,
            "large": False,
            "lazy": True,
            "member_count": len(self.members),
            "members": [member.payload() for member in members],
            "channels": [channel.payload() for channel in self.channels],
            "threads": [thread.payload() for thread in self.threads if not thread.archived],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [event_payload(e) for e in self.upcoming_events()],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "incidents_data": None,
        }
        if initial:
            data["unavailable"] = False
        return data

    def emit_role(self, event: str, role: FakeRole) -> None:
        if self.connected:
            self.hub.emit(
                event, {"guild_id": str(self.id), "role": role.payload()}, perms.INTENT_GUILDS
            )

    def emit_member(self, event: str, member: FakeMember) -> None:
        if self.connected:
            data = member.payload() | {"guild_id": str(self.id)}
            self.hub.emit(event, data, perms.INTENT_GUILD_MEMBERS)

    def delete_channel(self, channel: FakeChannel) -> None:
        """Delete a channel (and its threads); dispatches CHANNEL_DELETE."""
        self.channels.remove(channel)
        self.threads = [t for t in self.threads if t.parent is not channel]
        self.emit_channel("CHANNEL_DELETE", channel)

    def emit_channel(self, event: str, channel: FakeChannel) -> None:
        if self.connected:
            self.hub.emit(event, channel.payload(), perms.INTENT_GUILDS)


J = TypeVar("J", list[Any], dict[str, Any])


def json_copy(value: J) -> J:
    """A deep copy of parsed JSON. copy.deepcopy took ~0.1 ms for a ballot's embeds and
    components, several times per click: the stand-in's time, which Discord spends on its
    own machines, so it must not weigh on the bot's timings (benchmarks)."""
    return cast(J, orjson.loads(orjson.dumps(value)))


def event_payload(event: JSON, *, with_user_count: bool = False) -> JSON:
    """A stored scheduled event as Discord sends it: ``user_count`` only when asked for."""
    data = json_copy(event)
    if not with_user_count:
        data.pop("user_count", None)
    return data


@dataclass(eq=False)
class FakeMessage:
    """A message as Discord stores it. ``edits`` holds the previous versions, oldest first."""

    id: int
    channel_id: int
    author: FakeUser
    guild_id: int | None = None
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    nonce: str | int | None = None
    flags: int = 0
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    attachment_objects: list[JSON] = field(default_factory=list)
    edits: list[FakeMessage] = field(default_factory=list)
    deleted: bool = False
    raw: JSON = field(default_factory=dict)
    thread: FakeChannel | None = None
    type: int = 0
    tts: bool = False
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    referenced: FakeMessage | None = None
    mentions: list[FakeUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reactions: list[str] = field(default_factory=list)
    pinned: bool = False

    def __repr__(self) -> str:
        return (
            f"<FakeMessage id={self.id} channel_id={self.channel_id} content={self.content[:40]!r}>"
        )

    @property
    def author_id(self) -> int:
        return self.author.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        """Every custom_id on the message's components, depth first."""
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    def snapshot(self) -> FakeMessage:
        # Versions share embeds and components: an edit replaces them, never changes them.
        version = copy.copy(self)
        version.edits = []
        version.attachments = list(self.attachments)
        version.attachment_objects = list(self.attachment_objects)
        return version

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [user.payload() for user in self.mentions],
            "mention_roles": [str(role_id) for role_id in self.mention_roles],
            "attachments": json_copy(self.attachment_objects),
            "embeds": json_copy(self.embeds),
            "components": json_copy(self.components),
            "pinned": self.pinned,
            "flags": self.flags,
        }
        if self.reactions:
            data["reactions"] = [
                {"count": 1, "me": True, "emoji": {"id": None, "name": name}, "burst_colors": []}
                for name in self.reactions
            ]
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.referenced is not None:
            data["message_reference"] = {
                "type": 0,
                "message_id": str(self.referenced.id),
                "channel_id": str(self.referenced.channel_id),
                **({"guild_id": str(self.guild_id)} if self.guild_id else {}),
            }
            data["referenced_message"] = (
                None if self.referenced.deleted else self.referenced.payload()
            )
        if self.thread is not None:
            data["thread"] = self.thread.payload()
        return data


def walk_components(components: Iterable[JSON]) -> Iterable[JSON]:
    """Every component, depth first (rows, sections, containers and labels included)."""
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                yield from walk_components([child])
