"""The REST API under /api/v10: routing, auth, validation, fault injection and the handlers.

Each request is recorded, optionally failed on purpose (``fail_next``), matched against the route
table (unknown routes answer 404 and are recorded as problems), authenticated, validated against
Discord's OpenAPI description, and handled. Errors are Discord's JSON error bodies.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import BodyPartReader, web

from . import permissions as perms
from . import scheduled_events
from .errors import ApiError, missing_access, missing_permissions, unknown
from .interactions import (
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    MODAL,
    UPDATE_MESSAGE,
    InteractionReply,
)
from .messages import Upload, apply_body, empty_message, has_payload, number_components
from .snowflakes import new_snowflake
from .validation import (
    FieldError,
    check_choices,
    check_commands,
    check_message,
    check_modal,
    discord_errors,
    format_errors,
    validate_body,
)
from .world import (
    DM,
    EPHEMERAL,
    GUILD_NEWS,
    GUILD_TEXT,
    JSON,
    LOADING,
    MESSAGEABLE_TYPES,
    NEWS_THREAD,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    event_payload,
)

if TYPE_CHECKING:
    from .server import DiscordStandIn

NO_CONTENT = object()
Handler = Callable[["ApiRequest"], Awaitable[Any]]


class _MalformedError(Exception):
    pass


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly (discord.py compares the header)."""
    return web.Response(
        status=status,
        body=orjson.dumps(data),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def invalid_form(errors: list[FieldError]) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", discord_errors(errors))


@dataclass
class ApiRequest:
    method: str
    path: str  # relative to /api/v10, without the query string
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    uploads: list[Upload]

    @property
    def json(self) -> JSON:
        return self.body if isinstance(self.body, dict) else {}

    def snowflake(self, name: str) -> int:
        return int(self.params[name])


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    auth: bool
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(
            r"\\{(\w+)\\}",
            lambda m: (
                rf"(?P<{m.group(1)}>\d+)"
                if m.group(1).endswith("_id")
                else rf"(?P<{m.group(1)}>[^/]+)"
            ),
            re.escape(self.template),
        )
        self.pattern = re.compile(f"^{regex}$")


@dataclass
class Fault:
    method: str
    path_regex: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    after_handling: bool

    def matches(self, method: str, path: str, after: bool) -> bool:
        return (
            self.times > 0
            and self.after_handling == after
            and self.method in ("*", method)
            and self.path_regex.search(path) is not None
        )

    def response(self) -> web.Response:
        self.times -= 1
        return json_response(self.status, self.body, self.headers)


@dataclass
class RateLimit:
    """At most ``limit`` requests per ``per_seconds`` (sliding window) to the matching paths."""

    path_regex: re.Pattern[str]
    limit: int
    per_seconds: float
    hits: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float) -> float:
        """Seconds until one more request is allowed (0: allowed now)."""
        while self.hits and self.hits[0] <= now - self.per_seconds:
            self.hits.popleft()
        if len(self.hits) < self.limit:
            return 0.0
        return self.hits[0] + self.per_seconds - now

    def headers(self, now: float) -> dict[str, str]:
        reset_after = self.hits[0] + self.per_seconds - now if self.hits else self.per_seconds
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - len(self.hits))),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(self.path_regex.pattern.encode()).hexdigest()[:16],
        }

    def refusal(self, now: float, retry_after: float) -> web.Response:
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": False,
        }
        headers = self.headers(now) | {
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "user",
        }
        return json_response(429, body, headers)


def _counts_globally(request: web.Request, path: str) -> bool:
    """Discord's global limit is per bot token; interaction responses are not bound by it."""
    authorised = request.headers.get("Authorization", "").startswith("Bot ")
    return authorised and not path.startswith(("/interactions/", "/webhooks/"))


def _global_refusal(retry_after: float) -> web.Response:
    body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3)}
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
    }
    return json_response(429, body | {"global": True}, headers)


def default_fault_body(status: int) -> tuple[Any, dict[str, str]]:
    if status == 429:
        retry_after = 0.05
        headers = {
            "Via": "1.1 google",
            "Retry-After": "1",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "standin-fault",
            "X-RateLimit-Scope": "user",
        }
        return {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }, headers
    bodies = {
        401: {"message": "401: Unauthorized", "code": 0},
        403: {"message": "Missing Permissions", "code": 50013},
        404: {"message": "404: Not Found", "code": 0},
    }
    return bodies.get(status, {"message": f"{status}: injected failure", "code": 0}), {}


class RestApi:
    def __init__(self, standin: DiscordStandIn) -> None:
        self.s = standin
        self.routes: list[Route] = []
        self.faults: list[Fault] = []
        self.rate_limits: list[RateLimit] = []
        self.global_limit: RateLimit | None = None
        self._register_routes()

    # -- the pipeline --------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        try:
            body, uploads = await self._read_body(request)
        except _MalformedError as exc:
            self.s.requests.append((method, path, None))
            self.s.record_problem(f"{method} {path}: malformed body: {exc}")
            return json_response(
                400, {"message": "The request body contains invalid JSON.", "code": 50109}
            )
        self.s.requests.append((method, path, body))
        fault = self._take_fault(method, path, after=False)
        if fault is not None:
            return fault.response()
        if self.global_limit is not None and _counts_globally(request, path):
            now = time.monotonic()
            retry_after = self.global_limit.retry_after(now)
            if retry_after > 0:
                self.s.rate_limited += 1
                self.s.global_rate_limited += 1
                self.s.notify()
                return _global_refusal(retry_after)
            self.global_limit.hits.append(now)
        limit = next((r for r in self.rate_limits if r.path_regex.search(path)), None)
        if limit is not None:
            now = time.monotonic()
            retry_after = limit.retry_after(now)
            if retry_after > 0:
                self.s.rate_limited += 1
                self.s.notify()
                return limit.refusal(now, retry_after)
            limit.hits.append(now)
        response = await self._route(request, method, path, body, uploads)
        if limit is not None:
            response.headers.update(limit.headers(time.monotonic()))
        fault = self._take_fault(method, path, after=True)
        return fault.response() if fault is not None else response

    async def _route(
        self, request: web.Request, method: str, path: str, body: Any, uploads: list[Upload]
    ) -> web.Response:
        route, params = self._match(method, path)
        if route is None:
            entry = f"{method} {path}"
            self.s.unknown_routes.append(entry)
            self.s.record_problem(f"unknown route {entry}")
            return json_response(404, {"message": "404: Not Found", "code": 0})
        headers = self._ratelimit_headers(route)
        if route.auth and request.headers.get("Authorization") != f"Bot {self.s.token}":
            self.s.record_problem(f"{method} {path}: missing or wrong Authorization header")
            return json_response(401, {"message": "401: Unauthorized", "code": 0}, headers)
        try:
            self._precheck(route, body, uploads)
            result = await route.handler(
                ApiRequest(method, path, params, request.query, body, uploads)
            )
        except ApiError as exc:
            if exc.status in (400, 413):  # refusals of what the bot sent (not 403/404 outcomes)
                detail = format_errors(_flatten(exc.errors)) if exc.errors else ""
                self.s.record_problem(f"{method} {path}: {exc.code} {exc.message} {detail}".strip())
            return json_response(exc.status, exc.body(), headers)
        if result is NO_CONTENT:
            return web.Response(status=204, headers=headers)
        return json_response(200, result, headers)

    def _precheck(self, route: Route, body: Any, uploads: list[Upload]) -> None:
        """Upload sizes, then the body against Discord's OpenAPI description."""
        too_big = [u.filename for u in uploads if len(u.data) > self.s.attachment_size_limit]
        if too_big:
            raise ApiError(413, 40005, f"Request entity too large: {too_big}")
        if body is not None and self.s.validate_bodies:
            errors = validate_body(route.template, route.method, body)
            if errors:
                raise invalid_form(errors)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        if request.content_type == "multipart/form-data":
            body: Any = None
            uploads: list[Upload] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    raise _MalformedError("nested multipart")
                if part.name == "payload_json":
                    body = self._parse_json(await part.read())
                else:
                    data = bytes(await part.read())
                    name = part.name or ""
                    uploads.append(
                        Upload(name, part.filename or name, data, part.headers.get("Content-Type"))
                    )
            return body, uploads
        raw = await request.read()
        if not raw:
            return None, []
        if request.content_type != "application/json":
            raise _MalformedError(f"unsupported Content-Type {request.content_type!r}")
        return self._parse_json(raw), []

    @staticmethod
    def _parse_json(raw: bytes | bytearray) -> Any:
        try:
            return orjson.loads(raw)
        except ValueError as exc:
            raise _MalformedError(str(exc)) from None

    def _take_fault(self, method: str, path: str, *, after: bool) -> Fault | None:
        return next((f for f in self.faults if f.matches(method, path, after)), None)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if route.method == method and (match := route.pattern.match(path)):
                return route, match.groupdict()
        return None, {}

    @staticmethod
    def _ratelimit_headers(route: Route) -> dict[str, str]:
        bucket = hashlib.sha1(f"{route.method} {route.template}".encode()).hexdigest()[:16]
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": bucket,
        }

    def _add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        self.routes.append(Route(method, template, handler, auth))

    def _register_routes(self) -> None:
        add = self._add
        add("GET", "/users/@me", self.get_me)
        add("GET", "/users/{user_id}", self.get_user)
        add("POST", "/users/@me/channels", self.create_dm)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/gateway", self.get_gateway)
        add("GET", "/gateway/bot", self.get_gateway_bot)
        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            add("GET", f"{prefix}/commands", self.list_commands)
            add("PUT", f"{prefix}/commands", self.put_commands)
            add("POST", f"{prefix}/commands", self.post_command)
            add("GET", f"{prefix}/commands/{{command_id}}", self.get_command)
            add("PATCH", f"{prefix}/commands/{{command_id}}", self.patch_command)
            add("DELETE", f"{prefix}/commands/{{command_id}}", self.delete_command)
        add("GET", "/channels/{channel_id}", self.get_channel)
        add("PATCH", "/channels/{channel_id}", self.edit_channel)
        add("GET", "/channels/{channel_id}/messages", self.list_messages)
        add("POST", "/channels/{channel_id}/messages", self.create_message)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        add("POST", "/channels/{channel_id}/typing", self.typing)
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"
        add("PUT", reaction, self.add_reaction)
        add("DELETE", reaction, self.remove_reaction)
        add(
            "POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message
        )
        add("POST", "/channels/{channel_id}/threads", self.thread_without_message)
        add("PUT", "/channels/{channel_id}/thread-members/{user_id}", self.add_thread_member)
        add("GET", "/guilds/{guild_id}/threads/active", self.active_threads)
        add("GET", "/guilds/{guild_id}", self.get_guild)
        add("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self.guild_roles)
        add("GET", "/guilds/{guild_id}/members", self.list_members)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        add("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_member_role)
        add(
            "DELETE",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            self.remove_member_role,
        )
        events = "/guilds/{guild_id}/scheduled-events"
        add("GET", events, self.list_scheduled_events)
        add("POST", events, self.create_scheduled_event)
        event = f"{events}/{{guild_scheduled_event_id}}"
        add("GET", event, self.get_scheduled_event)
        add("PATCH", event, self.edit_scheduled_event)
        add("DELETE", event, self.delete_scheduled_event)
        add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            auth=False,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        add("POST", hook, self.followup, auth=False)
        for template in (f"{hook}/messages/@original", f"{hook}/messages/{{message_id}}"):
            add("GET", template, self.get_webhook_message, auth=False)
            add("PATCH", template, self.edit_webhook_message, auth=False)
            add("DELETE", template, self.delete_webhook_message, auth=False)

    # -- users, application, gateway -----------------------------------------------------------

    async def get_me(self, req: ApiRequest) -> JSON:
        return self.s.bot_user.payload() | {
            "bot": True,
            "verified": True,
            "mfa_enabled": True,
            "email": None,
            "locale": "en-US",
            "premium_type": 0,
        }

    async def get_user(self, req: ApiRequest) -> JSON:
        user = self.s.find_user(req.snowflake("user_id"))
        if user is None:
            raise unknown("User", 10013)
        return user.payload()

    async def create_dm(self, req: ApiRequest) -> JSON:
        recipient = str(req.json.get("recipient_id"))
        user = self.s.find_user(int(recipient)) if recipient.isdigit() else None
        if user is None or user is self.s.bot_user:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return self.s.dm_channel(user).payload()

    async def get_application(self, req: ApiRequest) -> JSON:
        return self.s.application_payload()

    async def get_gateway(self, req: ApiRequest) -> JSON:
        return {"url": self.s.gateway_url}

    async def get_gateway_bot(self, req: ApiRequest) -> JSON:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": self.s.gateway_url, "shards": 1, "session_start_limit": limit}

    # -- application commands ------------------------------------------------------------------

    def _scope(self, req: ApiRequest) -> int | None:
        if req.snowflake("application_id") != self.s.application_id:
            raise missing_access()
        if "guild_id" not in req.params:
            return None
        guild = self.s.find_guild(req.snowflake("guild_id"))
        if guild is None:
            raise missing_access()
        return guild.id

    def _command_object(self, body: JSON, scope: int | None, command_id: int | None) -> JSON:
        permissions = body.get("default_member_permissions")
        command: JSON = {
            "id": str(command_id or new_snowflake()),
            "application_id": str(self.s.application_id),
            "version": str(new_snowflake()),
            "default_member_permissions": None if permissions is None else str(permissions),
            "type": body.get("type") or 1,
            "name": body["name"],
            "name_localizations": body.get("name_localizations"),
            "description": body.get("description") or "",
            "description_localizations": body.get("description_localizations"),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw")),
        }
        if body.get("options"):
            command["options"] = body["options"]
        if scope is not None:
            command["guild_id"] = str(scope)
        return command

    def _existing_id(self, scope: int | None, body: JSON) -> int | None:
        for command in self.s.commands.get(scope, []):
            if command["name"] == body.get("name") and command["type"] == (body.get("type") or 1):
                return int(command["id"])
        return None

    async def list_commands(self, req: ApiRequest) -> list[JSON]:
        return self.s.commands.get(self._scope(req), [])

    async def put_commands(self, req: ApiRequest) -> list[JSON]:
        scope = self._scope(req)
        body = req.body or []
        errors = check_commands(body)
        if errors:
            raise invalid_form(errors)
        commands = [self._command_object(c, scope, self._existing_id(scope, c)) for c in body]
        self.s.commands[scope] = commands
        self.s.notify()
        return commands

    async def post_command(self, req: ApiRequest) -> JSON:
        scope = self._scope(req)
        errors = check_commands([req.json])
        if errors:
            raise invalid_form(errors)
        command = self._command_object(req.json, scope, self._existing_id(scope, req.json))
        others = [c for c in self.s.commands.get(scope, []) if c["id"] != command["id"]]
        self.s.commands[scope] = [*others, command]
        self.s.notify()
        return command

    def _find_command(self, req: ApiRequest) -> tuple[int | None, JSON]:
        scope = self._scope(req)
        for command in self.s.commands.get(scope, []):
            if command["id"] == req.params["command_id"]:
                return scope, command
        raise unknown("application command", 10063)

    async def get_command(self, req: ApiRequest) -> JSON:
        return self._find_command(req)[1]

    async def patch_command(self, req: ApiRequest) -> JSON:
        scope, command = self._find_command(req)
        merged = {key: value for key, value in command.items() if key not in ("id", "version")}
        merged |= req.json
        errors = check_commands([merged])
        if errors:
            raise invalid_form(errors)
        updated = self._command_object(merged, scope, int(command["id"]))
        self.s.commands[scope] = [updated if c is command else c for c in self.s.commands[scope]]
        self.s.notify()
        return updated

    async def delete_command(self, req: ApiRequest) -> object:
        scope, command = self._find_command(req)
        self.s.commands[scope] = [c for c in self.s.commands[scope] if c is not command]
        return NO_CONTENT

    # -- channels and messages -----------------------------------------------------------------

    def _channel(self, req: ApiRequest) -> FakeChannel:
        channel = self.s.find_channel(req.snowflake("channel_id"))
        if channel is None:
            raise unknown("Channel", 10003)
        return channel

    def _require(self, channel: FakeChannel, *bits: int) -> int:
        granted = self.s.bot_permissions(channel)
        if not granted & perms.VIEW_CHANNEL:
            raise missing_access()
        if any(not granted & bit for bit in bits):
            raise missing_permissions()
        return granted

    def _message(self, req: ApiRequest) -> tuple[FakeChannel, FakeMessage]:
        channel = self._channel(req)
        message = self.s.find_message(req.snowflake("message_id"))
        if (
            message is None
            or message.channel_id != channel.id
            or message.deleted
            or message.ephemeral
        ):
            raise unknown("Message", 10008)
        return channel, message

    async def get_channel(self, req: ApiRequest) -> JSON:
        channel = self._channel(req)
        if channel.guild is not None:
            self._require(channel)
        return channel.payload()

    async def edit_channel(self, req: ApiRequest) -> JSON:
        """Renaming or archiving: threads by their creator or with Manage Threads, channels
        with Manage Channels (the only edits the bot makes)."""
        channel = self._channel(req)
        if channel.guild is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        granted = self._require(channel)
        if channel.parent is not None:
            if channel.owner_id != self.s.bot_user_id and not granted & perms.MANAGE_THREADS:
                raise missing_permissions()
        elif not granted & perms.MANAGE_CHANNELS:
            raise missing_permissions()
        name = req.json.get("name")
        if name is not None:
            if not 1 <= len(name) <= 100:
                raise invalid_form([(("name",), "BASE_TYPE_BAD_LENGTH", "1 to 100 characters")])
            channel.edit(name=name)
        archived = req.json.get("archived")
        if archived is not None:
            if channel.parent is None:
                raise invalid_form([(("archived",), "BASE_TYPE_BAD_VALUE", "threads only")])
            if not archived and channel.locked and not granted & perms.MANAGE_THREADS:
                raise missing_permissions()
            channel.edit(archived=bool(archived))
        return channel.payload()

    def _check_can_send(self, channel: FakeChannel, uploads: list[Upload]) -> None:
        if channel.type not in MESSAGEABLE_TYPES:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if channel.type == DM:
            recipient = channel.recipient
            if recipient is None or recipient.dms_closed or recipient.bot:
                raise ApiError(403, 50007, "Cannot send messages to this user")
            return
        send = perms.SEND_MESSAGES_IN_THREADS if channel.is_thread else perms.SEND_MESSAGES
        self._require(channel, send)
        if uploads:
            self._require(channel, send, perms.ATTACH_FILES)
        if channel.is_thread and channel.locked:
            raise ApiError(403, 50083, "Thread is locked")

    async def create_message(self, req: ApiRequest) -> JSON:
        channel = self._channel(req)
        self._check_can_send(channel, req.uploads)
        body = req.json
        errors = check_message(body)
        if errors:
            raise invalid_form(errors)
        if not has_payload(body, req.uploads):
            raise empty_message()
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce is not None:
            original = self.s.recent_nonce(channel.id, nonce)
            if original is not None:
                return original.payload()
        referenced = self._referenced(channel, body.get("message_reference"))
        message = FakeMessage(
            new_snowflake(),
            channel.id,
            self.s.bot_user,
            guild_id=channel.guild.id if channel.guild else None,
            referenced=referenced,
            type=19 if referenced else 0,
        )
        apply_body(message, body, req.uploads, self.s.message_context(channel), creating=True)
        if channel.archived:  # a post brings an archived thread back (locked ones refuse it)
            channel.edit(archived=False)
        self.s.store_message(message)
        if body.get("enforce_nonce") and nonce is not None:
            self.s.remember_nonce(channel.id, nonce, message)
        return message.payload()

    def _referenced(self, channel: FakeChannel, reference: Any) -> FakeMessage | None:
        if not isinstance(reference, dict) or reference.get("message_id") is None:
            return None
        target = self.s.find_message(int(reference["message_id"]))
        if target is None or target.deleted or target.ephemeral:
            if reference.get("fail_if_not_exists", True):
                raise invalid_form(
                    [
                        (
                            ("message_reference",),
                            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                            "Unknown message",
                        )
                    ]
                )
            return None
        return target

    async def list_messages(self, req: ApiRequest) -> list[JSON]:
        channel = self._channel(req)
        if channel.guild is not None:
            self._require(channel, perms.READ_MESSAGE_HISTORY)
        limit = int(req.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise invalid_form([(("limit",), "NUMBER_TYPE_MAX", "limit must be between 1 and 100")])
        newest_first = list(reversed(self.s.messages(channel.id)))
        if "before" in req.query:
            newest_first = [m for m in newest_first if m.id < int(req.query["before"])]
        if "after" in req.query:
            newest_first = [m for m in newest_first if m.id > int(req.query["after"])][-limit:]
        return [m.payload() for m in newest_first[:limit]]

    async def get_message(self, req: ApiRequest) -> JSON:
        channel, message = self._message(req)
        if channel.guild is not None:
            self._require(channel, perms.READ_MESSAGE_HISTORY)
        return message.payload()

    async def edit_message(self, req: ApiRequest) -> JSON:
        _, message = self._message(req)
        if message.author is not self.s.bot_user:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, req)
        return message.payload()

    def _edit(self, message: FakeMessage, req: ApiRequest, *, webhook: bool = False) -> None:
        body = req.json
        errors = check_message(body | {"flags": body.get("flags", message.flags)})
        if errors:
            raise invalid_form(errors)
        if _would_be_empty(message, body, req.uploads):
            raise empty_message()
        channel = self.s.find_channel(message.channel_id)
        context = self.s.message_context(channel, webhook=webhook)
        apply_body(message, body, req.uploads, context, creating=False)
        message.flags &= ~LOADING
        self.s.message_updated(message)

    async def delete_message(self, req: ApiRequest) -> object:
        channel, message = self._message(req)
        if message.author is not self.s.bot_user and channel.guild is not None:
            self._require(channel, perms.MANAGE_MESSAGES)
        self.s.delete_message(message)
        return NO_CONTENT

    async def typing(self, req: ApiRequest) -> object:
        channel = self._channel(req)
        self._check_can_send(channel, [])
        return NO_CONTENT

    async def add_reaction(self, req: ApiRequest) -> object:
        channel, message = self._message(req)
        if channel.guild is not None:
            self._require(channel, perms.READ_MESSAGE_HISTORY, perms.ADD_REACTIONS)
        emoji = req.params["emoji_name"]
        if emoji not in message.reactions:
            message.reactions.append(emoji)
        self.s.notify()
        return NO_CONTENT

    async def remove_reaction(self, req: ApiRequest) -> object:
        _, message = self._message(req)
        message.reactions = [r for r in message.reactions if r != req.params["emoji_name"]]
        self.s.notify()
        return NO_CONTENT

    async def thread_from_message(self, req: ApiRequest) -> JSON:
        channel, message = self._message(req)
        if channel.type not in (GUILD_TEXT, GUILD_NEWS) or channel.guild is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, perms.CREATE_PUBLIC_THREADS)
        if message.thread is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        kind = NEWS_THREAD if channel.type == GUILD_NEWS else PUBLIC_THREAD
        thread = self._new_thread(channel, channel.guild, req.json, kind, message.id)
        message.thread = thread
        self.s.message_updated(message)
        return thread.payload()

    async def thread_without_message(self, req: ApiRequest) -> JSON:
        channel = self._channel(req)
        if channel.type not in (GUILD_TEXT, GUILD_NEWS) or channel.guild is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = req.json.get("type") or PRIVATE_THREAD
        if channel.type == GUILD_NEWS and kind == PRIVATE_THREAD:
            # Announcement channels hold announcement threads only.
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        needed = (
            perms.CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD else perms.CREATE_PUBLIC_THREADS
        )
        self._require(channel, needed)
        return self._new_thread(channel, channel.guild, req.json, kind, new_snowflake()).payload()

    async def add_thread_member(self, req: ApiRequest) -> object:
        thread = self._channel(req)
        if not thread.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        user = self.s.find_user(req.snowflake("user_id"))
        if user is None or thread.guild is None or user.id not in thread.guild.members:
            raise unknown("Member", 10007)
        if thread.archived:
            raise ApiError(400, 50083, "Thread is archived")
        self._require(thread, perms.SEND_MESSAGES_IN_THREADS)
        thread.thread_members.add(user.id)
        return NO_CONTENT

    async def active_threads(self, req: ApiRequest) -> JSON:
        """The server's threads not archived that the bot can see: public ones in channels
        it can view, private ones it created or was added to (all with Manage Threads)."""
        guild = self._guild(req)
        bot = self.s.bot_user_id
        seen = []
        for thread in guild.threads:
            if thread.archived or thread.parent is None:
                continue
            granted = self.s.bot_permissions(thread.parent)
            if not granted & perms.VIEW_CHANNEL:
                continue
            joined = thread.owner_id == bot or bot in thread.thread_members
            if thread.type == PRIVATE_THREAD and not (joined or granted & perms.MANAGE_THREADS):
                continue
            seen.append(thread)
        return {
            "threads": [thread.payload() for thread in seen],
            "members": [
                {"id": str(t.id), "user_id": str(bot), "join_timestamp": t.created_at, "flags": 0}
                for t in seen
                if t.owner_id == bot or bot in t.thread_members
            ],
        }

    def _new_thread(
        self, parent: FakeChannel, guild: FakeGuild, body: JSON, kind: int, thread_id: int
    ) -> FakeChannel:
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise invalid_form(
                [(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")]
            )
        thread = FakeChannel(
            thread_id,
            name,
            kind,
            guild,
            parent=parent,
            owner_id=self.s.bot_user_id,
            auto_archive_duration=body.get("auto_archive_duration") or 4320,
        )
        guild.threads.append(thread)
        self.s.thread_created(thread)
        return thread

    # -- guilds --------------------------------------------------------------------------------

    def _guild(self, req: ApiRequest) -> FakeGuild:
        guild = self.s.find_guild(req.snowflake("guild_id"))
        if guild is None:
            raise unknown("Guild", 10004)
        return guild

    async def get_guild(self, req: ApiRequest) -> JSON:
        data = self._guild(req).payload(intents=0, initial=False)
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
            "embedded_activities",
            "lazy",
            "large",
            "member_count",
            "joined_at",
        ):
            data.pop(key, None)
        return data

    async def guild_channels(self, req: ApiRequest) -> list[JSON]:
        return [channel.payload() for channel in self._guild(req).channels]

    async def guild_roles(self, req: ApiRequest) -> list[JSON]:
        return [role.payload() for role in self._guild(req).roles]

    async def list_members(self, req: ApiRequest) -> list[JSON]:
        guild = self._guild(req)
        if not self.s.enabled_intents & perms.INTENT_GUILD_MEMBERS:
            raise missing_access()
        after = int(req.query.get("after", "0"))
        limit = int(req.query.get("limit", "1"))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return [member.payload() for member in members[:limit]]

    async def get_member(self, req: ApiRequest) -> JSON:
        member = self._guild(req).get_member(req.snowflake("user_id"))
        if member is None:
            raise unknown("Member", 10007)
        return member.payload()

    def _member_and_role(self, req: ApiRequest) -> tuple[Any, Any]:
        guild = self._guild(req)
        member = guild.get_member(req.snowflake("user_id"))
        if member is None:
            raise unknown("Member", 10007)
        role = guild.get_role(req.snowflake("role_id"))
        if role is None:
            raise unknown("Role", 10011)
        granted = perms.base_permissions(guild.bot_member)
        top = max((r.position for r in guild.bot_member.roles), default=0)
        if not granted & perms.MANAGE_ROLES or role.position >= top or role.managed:
            raise missing_permissions()
        return member, role

    async def add_member_role(self, req: ApiRequest) -> object:
        member, role = self._member_and_role(req)
        member.add_roles(role)
        self.s.notify()
        return NO_CONTENT

    async def remove_member_role(self, req: ApiRequest) -> object:
        member, role = self._member_and_role(req)
        member.remove_roles(role)
        self.s.notify()
        return NO_CONTENT

    # -- guild scheduled events ----------------------------------------------------------------

    def _scheduled_event(self, req: ApiRequest) -> tuple[FakeGuild, JSON]:
        guild = self._guild(req)
        event = guild.scheduled_events.get(req.snowflake("guild_scheduled_event_id"))
        if event is None:
            raise unknown("Guild Scheduled Event", 10070)
        return guild, event

    def _emit_event(self, name: str, event: JSON) -> None:
        self.s.emit(name, event_payload(event), perms.INTENT_GUILD_SCHEDULED_EVENTS)
        self.s.notify()

    async def list_scheduled_events(self, req: ApiRequest) -> list[JSON]:
        counts = req.query.get("with_user_count") in ("1", "true", "True")
        events = self._guild(req).upcoming_events()
        return [event_payload(event, with_user_count=counts) for event in events]

    async def get_scheduled_event(self, req: ApiRequest) -> JSON:
        counts = req.query.get("with_user_count") in ("1", "true", "True")
        return event_payload(self._scheduled_event(req)[1], with_user_count=counts)

    async def create_scheduled_event(self, req: ApiRequest) -> JSON:
        guild = self._guild(req)
        event = scheduled_events.create(guild, req.json, self.s.bot_user, self.s.clock())
        guild.scheduled_events[int(event["id"])] = event
        self._emit_event("GUILD_SCHEDULED_EVENT_CREATE", event)
        return event_payload(event)

    async def edit_scheduled_event(self, req: ApiRequest) -> JSON:
        guild, event = self._scheduled_event(req)
        updated = scheduled_events.edit(guild, event, req.json, self.s.clock())
        guild.scheduled_events[int(event["id"])] = updated
        self._emit_event("GUILD_SCHEDULED_EVENT_UPDATE", updated)
        return event_payload(updated)

    async def delete_scheduled_event(self, req: ApiRequest) -> object:
        guild, event = self._scheduled_event(req)
        scheduled_events.check_can_delete(guild, event)
        del guild.scheduled_events[int(event["id"])]
        self._emit_event("GUILD_SCHEDULED_EVENT_DELETE", event)
        return NO_CONTENT

    # -- interactions and their webhooks -------------------------------------------------------

    async def callback(self, req: ApiRequest) -> Any:
        reply = self.s.find_interaction(req.snowflake("interaction_id"))
        if reply is None or reply.token != req.params["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if reply.acknowledged:
            reply.history.append(f"rejected a second callback (type {req.json.get('type')})")
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self.s.loop_time() > reply.deadline:
            reply.history.append("answered after the deadline")
            self.s.record_problem(
                f"interaction {reply.interaction_id}: callback after the deadline"
            )
            raise ApiError(404, 10062, "Unknown interaction")
        try:
            resource = self._accept_callback(reply, req)
        except ApiError as exc:
            reply.history.append(f"callback rejected: {exc.status} {exc.code} {exc.message}")
            self.s.notify()
            raise
        self.s.notify()
        if req.query.get("with_response") not in ("1", "true", "True"):
            return NO_CONTENT
        interaction: JSON = {"id": str(reply.interaction_id), "type": reply.interaction_type}
        if reply.original is not None:
            interaction |= {
                "response_message_id": str(reply.original.id),
                "response_message_loading": bool(reply.original.flags & LOADING),
                "response_message_ephemeral": reply.original.ephemeral,
            }
        return {"interaction": interaction, "resource": resource}

    def _accept_callback(self, reply: InteractionReply, req: ApiRequest) -> JSON:  # noqa: PLR0912
        body = req.json
        kind = body.get("type")
        raw_data = body.get("data")
        data: JSON = raw_data if isinstance(raw_data, dict) else {}
        allowed = ALLOWED_CALLBACKS.get(reply.interaction_type, set())
        needs_message = kind in (UPDATE_MESSAGE, DEFERRED_UPDATE_MESSAGE)
        if kind not in allowed or (needs_message and reply.source_message is None):
            raise invalid_form(
                [
                    (
                        ("type",),
                        "INTERACTION_RESPONSE_TYPE_INVALID",
                        f"callback type {kind} is invalid for interaction type "
                        f"{reply.interaction_type}",
                    )
                ]
            )
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            errors = check_message(data, ("data",))
        elif kind == MODAL:
            errors = check_modal(data)
        elif kind == AUTOCOMPLETE_RESULT:
            errors = check_choices(data)
        else:
            errors = []
        if errors:
            raise invalid_form(errors)
        resource: JSON = {"type": kind}
        if kind == CHANNEL_MESSAGE:
            if not has_payload(data, req.uploads):
                raise empty_message()
            reply.original = self._interaction_message(reply, data, req.uploads, loading=False)
            resource["message"] = reply.original.payload()
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            reply.deferred = True
            reply.original = self._interaction_message(reply, data, [], loading=True)
            resource["message"] = reply.original.payload()
        elif kind == DEFERRED_UPDATE_MESSAGE:
            reply.deferred = True
            reply.original = reply.source_message
            reply.edits_at_ack = len(reply.source_message.edits) if reply.source_message else 0
        elif kind == UPDATE_MESSAGE:
            source = reply.source_message
            assert source is not None
            if _would_be_empty(source, data, req.uploads):
                raise empty_message()
            reply.original = source
            context = self.s.message_context(reply.channel, webhook=True)
            apply_body(source, data, req.uploads, context, creating=False)
            self.s.message_updated(source)
            resource["message"] = source.payload()
        elif kind == AUTOCOMPLETE_RESULT:
            reply.choices = list(data.get("choices") or [])
        elif kind == MODAL:
            reply.modal = data | {"components": number_components(data.get("components") or [])}
        reply.type = kind
        reply.callback = body
        reply.history.append(f"callback type {kind}: {_summary(data)}")
        return resource

    def _interaction_message(
        self, reply: InteractionReply, data: JSON, uploads: list[Upload], *, loading: bool
    ) -> FakeMessage:
        channel = reply.channel
        flags = (data.get("flags") or 0) & EPHEMERAL
        message = FakeMessage(
            new_snowflake(),
            channel.id if channel else 0,
            self.s.bot_user,
            guild_id=channel.guild.id if channel and channel.guild else None,
            flags=flags | (LOADING if loading else 0),
            type=20 if reply.interaction_type == APPLICATION_COMMAND and not reply.followups else 0,
            webhook_id=self.s.application_id,
            application_id=self.s.application_id,
            interaction_metadata={
                "id": str(reply.interaction_id),
                "type": reply.interaction_type,
                "user": reply.user.payload(),
                "authorizing_integration_owners": reply.payload.get(
                    "authorizing_integration_owners", {}
                ),
            },
        )
        if not loading:
            context = self.s.message_context(channel, webhook=True)
            apply_body(message, data, uploads, context, creating=True)
        self.s.store_message(message, visible=not message.ephemeral)
        return message

    def _webhook_reply(self, req: ApiRequest) -> InteractionReply:
        reply = self.s.find_interaction_by_token(req.params["webhook_token"])
        if req.snowflake("webhook_id") != self.s.application_id or reply is None:
            raise unknown("Webhook", 10015)
        if not reply.acknowledged:
            self.s.record_problem(
                f"{req.method} {req.path}: webhook used before the interaction was acknowledged"
            )
            raise unknown("Webhook", 10015)
        return reply

    def _webhook_message(self, req: ApiRequest) -> tuple[InteractionReply, FakeMessage]:
        reply = self._webhook_reply(req)
        if "message_id" not in req.params:
            message = reply.original
        else:
            wanted = req.snowflake("message_id")
            candidates = [*([reply.original] if reply.original else []), *reply.followups]
            message = next((m for m in candidates if m.id == wanted), None)
        if message is None or message.deleted:
            raise unknown("Message", 10008)
        return reply, message

    async def followup(self, req: ApiRequest) -> Any:
        reply = self._webhook_reply(req)
        data = req.json
        errors = check_message(data)
        if errors:
            raise invalid_form(errors)
        if not has_payload(data, req.uploads):
            raise empty_message()
        original = reply.original
        if (
            reply.type == DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and original.flags & LOADING
        ):
            # The first follow-up after a deferred reply replaces the "thinking..." message; its
            # ephemerality is the deferral's, not the follow-up's flags.
            body = {key: value for key, value in data.items() if key != "flags"}
            context = self.s.message_context(reply.channel, webhook=True)
            apply_body(original, body, req.uploads, context, creating=False)
            original.flags &= ~LOADING
            self.s.message_updated(original)
            message = original
            reply.history.append(f"first follow-up replaced the deferred message: {_summary(data)}")
        else:
            message = self._interaction_message(reply, data, req.uploads, loading=False)
            reply.followups.append(message)
            reply.history.append(f"follow-up: {_summary(data)}")
        self.s.notify()
        return message.payload() if req.query.get("wait") in ("1", "true", "True") else NO_CONTENT

    async def get_webhook_message(self, req: ApiRequest) -> JSON:
        return self._webhook_message(req)[1].payload()

    async def edit_webhook_message(self, req: ApiRequest) -> JSON:
        reply, message = self._webhook_message(req)
        self._edit(message, req, webhook=True)
        which = "@original" if message is reply.original else f"follow-up {message.id}"
        reply.history.append(f"edited {which}: {_summary(req.json)}")
        self.s.notify()
        return message.payload()

    async def delete_webhook_message(self, req: ApiRequest) -> object:
        reply, message = self._webhook_message(req)
        self.s.delete_message(message)
        reply.history.append(f"deleted message {message.id}")
        self.s.notify()
        return NO_CONTENT


def _would_be_empty(message: FakeMessage, body: JSON, uploads: list[Upload]) -> bool:
    def pick(key: str, current: Any) -> Any:
        return body.get(key, current)

    listed = body.get("attachments")
    return not (
        pick("content", message.content)
        or pick("embeds", message.embeds)
        or pick("components", message.components)
        or uploads
        or (message.attachments if listed is None else listed)
    )


def _summary(data: JSON) -> str:
    parts = []
    for key in ("content", "flags", "embeds", "components", "choices", "title", "custom_id"):
        if data.get(key) not in (None, [], ""):
            value = data[key]
            shown = (
                repr(value)[:80]
                if key in ("content", "title", "custom_id", "flags")
                else f"{len(value)}"
            )
            parts.append(f"{key}={shown}")
    return ", ".join(parts) or "(no data)"


def _flatten(errors: Any, path: tuple[str, ...] = ()) -> list[FieldError]:
    found: list[FieldError] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "_errors":
                found += [(path, e.get("code", ""), e.get("message", "")) for e in value]
            else:
                found += _flatten(value, (*path, key))
    return found
