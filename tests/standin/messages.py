"""Turning message bodies the bot sends into FakeMessages, as Discord would store them."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import ApiError
from .snowflakes import iso_now, new_snowflake
from .validation import discord_errors
from .world import (
    EPHEMERAL,
    IS_COMPONENTS_V2,
    JSON,
    SUPPRESS_EMBEDS,
    SUPPRESS_NOTIFICATIONS,
    FakeGuild,
    FakeMessage,
    FakeUser,
    json_copy,
    walk_components,
)

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")

CREATE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2


@dataclass
class Upload:
    """A file part of a multipart request (``files[n]``)."""

    field: str
    filename: str
    data: bytes
    content_type: str | None

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match.group(1)) if match else None


@dataclass
class MessageContext:
    """What Discord knows when it stores a message: where, and what the author may do."""

    guild: FakeGuild | None
    find_user: Callable[[int], FakeUser | None]
    attachment_url: Callable[[int, int, str], str]
    embed_links: bool = True
    mention_everyone: bool = False


def has_payload(body: JSON, uploads: Sequence[Upload]) -> bool:
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return bool(uploads) or any(body.get(key) for key in keys)


def empty_message() -> ApiError:
    return ApiError(400, 50006, "Cannot send an empty message")


def apply_body(
    message: FakeMessage,
    body: JSON,
    uploads: Sequence[Upload],
    context: MessageContext,
    *,
    creating: bool,
) -> None:
    """Create or edit ``message`` from a JSON body (and uploaded files) the way Discord does."""
    if "flags" in body and body["flags"] is not None and creating:
        message.flags |= body["flags"] & CREATE_FLAGS
    attachments = _attachments(message, body, uploads, context)  # may reject the body: first
    if not creating:
        message.edits.append(message.snapshot())
        message.edited_timestamp = iso_now()
    if "content" in body:
        message.content = body["content"] or ""
    if "embeds" in body:
        embeds = json_copy(body["embeds"] or [])
        for embed in embeds:
            embed.setdefault("type", "rich")
        # Without EMBED_LINKS Discord stores the message but drops its embeds.
        message.embeds = embeds if context.embed_links else []
    if "components" in body:
        message.components = number_components(body["components"] or [])
    if "allowed_mentions" in body:
        message.allowed_mentions = json_copy(body["allowed_mentions"])
    if "flags" in body and body["flags"] is not None and not creating:
        flags = body["flags"]
        message.flags = (message.flags & ~SUPPRESS_EMBEDS) | (flags & SUPPRESS_EMBEDS)
        message.flags |= flags & IS_COMPONENTS_V2
    if creating:
        message.tts = bool(body.get("tts"))
        nonce = body.get("nonce")
        message.nonce = nonce
    message.attachment_objects, message.attachments = attachments
    message.raw = json_copy(body)
    _compute_mentions(message, context)


def _attachments(
    message: FakeMessage, body: JSON, uploads: Sequence[Upload], context: MessageContext
) -> tuple[list[JSON], list[tuple[str, bytes]]]:
    """The attachments after this body: kept ones (listed by id) and new uploads (by index)."""
    by_index = {upload.index: upload for upload in uploads if upload.index is not None}
    kept_objects: list[JSON] = []
    kept_data: list[tuple[str, bytes]] = []
    listed = body.get("attachments")
    used: set[int] = set()
    if listed is None:  # not mentioned: keep what is there
        kept_objects = list(message.attachment_objects)
        kept_data = list(message.attachments)
    else:
        for position, item in enumerate(listed):
            item_id = str(item.get("id"))
            existing = [
                (obj, data)
                for obj, data in zip(message.attachment_objects, message.attachments, strict=True)
                if obj["id"] == item_id
            ]
            if existing:
                kept_objects.append(existing[0][0])
                kept_data.append(existing[0][1])
            elif item_id.isdigit() and int(item_id) in by_index:
                upload = by_index[int(item_id)]
                used.add(int(item_id))
                obj, data = _attachment(message, upload, item, context)
                kept_objects.append(obj)
                kept_data.append(data)
            else:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    discord_errors(
                        [
                            (
                                ("attachments", str(position), "id"),
                                "ATTACHMENT_NOT_FOUND",
                                f"Unknown attachment or file index {item_id}",
                            )
                        ]
                    ),
                )
    for index, upload in sorted(by_index.items()):
        if index not in used:
            obj, data = _attachment(message, upload, {}, context)
            kept_objects.append(obj)
            kept_data.append(data)
    return kept_objects, kept_data


def _attachment(
    message: FakeMessage, upload: Upload, item: JSON, context: MessageContext
) -> tuple[JSON, tuple[str, bytes]]:
    attachment_id = new_snowflake()
    filename = item.get("filename") or upload.filename
    content_type = upload.content_type
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    url = context.attachment_url(message.channel_id, attachment_id, filename)
    obj: JSON = {
        "id": str(attachment_id),
        "filename": filename,
        "size": len(upload.data),
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }
    if item.get("description"):
        obj["description"] = item["description"]
    if message.flags & EPHEMERAL:
        obj["ephemeral"] = True
    return obj, (filename, upload.data)


def _compute_mentions(message: FakeMessage, context: MessageContext) -> None:
    """Who actually gets pinged, given the content and allowed_mentions (Discord's rules)."""
    allowed = message.allowed_mentions
    parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
    allowed_users = {int(x) for x in (allowed or {}).get("users") or []}
    allowed_roles = {int(x) for x in (allowed or {}).get("roles") or []}
    content = message.content
    mentions: list[FakeUser] = []
    for raw_id in dict.fromkeys(_USER_MENTION.findall(content)):
        user_id = int(raw_id)
        user = context.find_user(user_id)
        if user is not None and ("users" in parse or user_id in allowed_users):
            mentions.append(user)
    replied = (allowed or {}).get("replied_user", allowed is None)
    if message.referenced is not None and replied and message.referenced.author not in mentions:
        mentions.append(message.referenced.author)
    roles: list[int] = []
    guild = context.guild
    for raw_id in dict.fromkeys(_ROLE_MENTION.findall(content)):
        role = guild.get_role(int(raw_id)) if guild else None
        if role is None or not (role.mentionable or context.mention_everyone):
            continue
        if "roles" in parse or role.id in allowed_roles:
            roles.append(role.id)
    message.mentions = mentions
    message.mention_roles = roles
    message.mention_everyone = (
        "everyone" in parse
        and context.mention_everyone
        and ("@everyone" in content or "@here" in content)
    )


def number_components(components: Sequence[JSON]) -> list[JSON]:
    """Discord gives every component a numeric ``id`` (sequential) when the sender did not."""
    numbered = json_copy(list(components))
    used = {c["id"] for c in walk_components(numbered) if isinstance(c.get("id"), int)}
    next_id = 1
    for component in walk_components(numbered):
        if component.get("id") is None:
            while next_id in used:
                next_id += 1
            component["id"] = next_id
            used.add(next_id)
    return numbered
