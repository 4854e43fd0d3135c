"""DiscordStandIn: a local Discord (REST under /api/v10, gateway) for the real discord.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from aiohttp import web

from . import permissions as perms
from .errors import StandInError
from .gateway import Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    USER_COMMAND,
    InteractionReply,
    Resolver,
    build_options,
    command_paths,
    find_command,
    find_component,
    modal_submission,
    nest_options,
    select_values,
)
from .messages import MessageContext
from .rest import Fault, RateLimit, RestApi, default_fault_body
from .snowflakes import make_token, new_snowflake, user_id_from_token
from .world import (
    DM,
    JSON,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeUser,
)

T = TypeVar("T")
Until = Literal["answered", "ack"]
ChannelRef = int | FakeChannel
UserRef = int | FakeUser | FakeMember


class DiscordStandIn:
    """A protocol-level stand-in for Discord that a real discord.py client logs into.

    Build the world (guilds, channels, roles, members), start the server, point discord.py at
    ``api_base`` / ``gateway_url``, then drive interactions and assert on what the bot sent.
    """

    def __init__(
        self,
        token: str | None = None,
        application_id: int | None = None,
        *,
        bot_name: str = "TechMeet",
    ) -> None:
        bot_id = user_id_from_token(token) if token else None
        if bot_id is None:  # a token that does not encode an id (e.g. "test-token"): any id will do
            bot_id = new_snowflake()
        self.token = token or make_token(bot_id)
        self.bot_user_id = bot_id
        self.application_id = application_id or bot_id
        self.bot_user = FakeUser(bot_id, bot_name, bot=True)
        self.app_owner = FakeUser(new_snowflake(), f"{bot_name} developer")
        # Privileged intents switched on "in the developer portal".
        self.enabled_intents = perms.PRIVILEGED_INTENTS
        self.interaction_deadline = 3.0
        # Bodies the bot sends are checked against Discord's OpenAPI description (JSON
        # Schema: up to ~85 ms for a form); benchmarks turn it off to time the bot, not this.
        self.validate_bodies = True
        self.nonce_window = 300.0
        self.attachment_size_limit = 10 * 1024 * 1024
        self.heartbeat_interval_ms = 41_250
        # "Now" for Discord's time rules (scheduled events must start in the future); a test with a
        # fake clock (a callable returning a datetime) can set it here.
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.rate_limited = 0  # 429s answered by rate_limit() and rate_limit_global()
        self.global_rate_limited = 0  # of which from the global limit
        self.guilds: list[FakeGuild] = []
        self.commands: dict[int | None, list[JSON]] = {}
        self.problems: list[str] = []
        self.unknown_routes: list[str] = []
        self.requests: list[tuple[str, str, Any]] = []
        self._users: dict[int, FakeUser] = {
            bot_id: self.bot_user,
            self.app_owner.id: self.app_owner,
        }
        self._dm_channels: dict[int, FakeChannel] = {}
        self._messages: dict[int, FakeMessage] = {}
        self._channel_messages: defaultdict[int, list[FakeMessage]] = defaultdict(list)
        self._nonces: dict[tuple[int, str], tuple[float, FakeMessage]] = {}
        self._attachments: dict[int, bytes] = {}
        self._interactions: dict[int, InteractionReply] = {}
        self._interactions_by_token: dict[str, InteractionReply] = {}
        self._unsettled: list[InteractionReply] = []
        self._changed = asyncio.Event()
        self.gateway = Gateway(self)
        self.rest = RestApi(self)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @staticmethod
    def make_token(user_id: int) -> str:
        """A token of the shape Discord uses: ``base64(user id).<timestamp>.<hmac>``."""
        return make_token(user_id)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        app.router.add_route("*", "/{tail:.*}", self._outside_api)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise StandInError("the stand-in is not started (await standin.start())")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/resume-gateway"

    @property
    def gateway_connections(self) -> int:
        return self.gateway.connections

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        data = self._attachments.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _outside_api(self, request: web.Request) -> web.StreamResponse:
        entry = f"{request.method} {request.path}"
        self.unknown_routes.append(entry)
        self.record_problem(f"request outside /api/v10: {entry}")
        return web.Response(
            status=404,
            body=b'{"message": "404: Not Found", "code": 0}',
            headers={"Content-Type": "application/json"},
        )

    # -- the world -----------------------------------------------------------------------------

    def new_user(self, name: str, *, bot: bool = False) -> FakeUser:
        user = FakeUser(new_snowflake(), name, bot=bot)
        self._users[user.id] = user
        return user

    def add_user(self, name: str, *, bot: bool = False) -> FakeUser:
        """A user in no guild (e.g. to receive DMs)."""
        return self.new_user(name, bot=bot)

    def add_guild(
        self,
        name: str,
        *,
        bot_permissions: int = perms.BOT_DEFAULT,
        bot_role_name: str | None = None,
    ) -> FakeGuild:
        """A guild the bot is in; dispatched as GUILD_CREATE when the bot is already connected."""
        guild = FakeGuild(
            self,
            name,
            bot_permissions=bot_permissions,
            bot_role_name=bot_role_name or self.bot_user.username,
        )
        self.guilds.append(guild)
        if self.gateway.session_id is not None:
            guild.connected = True
            self.emit(
                "GUILD_CREATE",
                guild.payload(intents=self.gateway.intents_for(guild.id), initial=False),
                perms.INTENT_GUILDS,
            )
        return guild

    def remove_guild(self, guild: FakeGuild) -> None:
        """The bot is kicked from the guild: GUILD_DELETE."""
        self.guilds.remove(guild)
        if guild.connected:
            self.emit("GUILD_DELETE", {"id": str(guild.id)}, perms.INTENT_GUILDS)
            guild.connected = False

    def permissions_for(self, member: FakeMember, channel: FakeChannel) -> int:
        """Discord's permission algorithm (base, administrator, owner, then overwrites)."""
        if channel.guild is not member.guild:
            raise StandInError(f"{channel.name!r} is not in {member.guild.name!r}")
        return perms.permissions_for(member, channel)

    def close_dms(self, user: FakeUser | FakeMember) -> None:
        """The user does not accept DMs: sending them one answers 403 code 50007."""
        (user.user if isinstance(user, FakeMember) else user).dms_closed = True

    def find_user(self, user_id: int) -> FakeUser | None:
        return self._users.get(user_id)

    def find_guild(self, guild_id: int) -> FakeGuild | None:
        return next((guild for guild in self.guilds if guild.id == guild_id), None)

    def find_channel(self, channel_id: int) -> FakeChannel | None:
        for guild in self.guilds:
            channel = guild.get_channel(channel_id)
            if channel is not None:
                return channel
        return next((c for c in self._dm_channels.values() if c.id == channel_id), None)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        channel = self._dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(new_snowflake(), "", DM, recipient=user)
            self._dm_channels[user.id] = channel
        return channel

    def bot_permissions(self, channel: FakeChannel) -> int:
        if channel.guild is None:
            return perms.DM_PERMISSIONS
        return perms.permissions_for(channel.guild.bot_member, channel)

    # -- messages ------------------------------------------------------------------------------

    def messages(self, channel: ChannelRef) -> list[FakeMessage]:
        """Messages visible in a channel (or thread, or DM), oldest first, without deleted ones."""
        channel_id = channel.id if isinstance(channel, FakeChannel) else channel
        return [m for m in self._channel_messages.get(channel_id, []) if not m.deleted]

    def dm_messages(self, user: UserRef) -> list[FakeMessage]:
        user_id = user if isinstance(user, int) else user.id
        channel = self._dm_channels.get(user_id)
        return self.messages(channel.id) if channel else []

    async def wait_for_message(
        self,
        channel: ChannelRef,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """The first message in the channel (already there or still to come) matching predicate."""

        def check() -> FakeMessage | None:
            return next(
                (m for m in self.messages(channel) if predicate is None or predicate(m)), None
            )

        def describe() -> str:
            seen = [m.content[:60] for m in self.messages(channel)]
            return f"no matching message in channel {channel!r}; messages: {seen}"

        return await self.wait_until(check, timeout, describe)

    async def wait_for_dm(
        self,
        user: UserRef,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        def check() -> FakeMessage | None:
            return next(
                (m for m in self.dm_messages(user) if predicate is None or predicate(m)), None
            )

        def describe() -> str:
            return f"no matching DM; DMs: {[m.content[:60] for m in self.dm_messages(user)]}"

        return await self.wait_until(check, timeout, describe)

    def find_message(self, message_id: int) -> FakeMessage | None:
        return self._messages.get(message_id)

    def store_message(self, message: FakeMessage, *, visible: bool = True) -> None:
        self._messages[message.id] = message
        for obj, (_, data) in zip(message.attachment_objects, message.attachments, strict=True):
            self._attachments[int(obj["id"])] = data
        if visible:
            self._channel_messages[message.channel_id].append(message)
            channel = self.find_channel(message.channel_id)
            if channel is not None:
                channel.last_message_id = message.id
                channel.message_count += 1
            self._emit_message("MESSAGE_CREATE", message)
        self.notify()

    def message_updated(self, message: FakeMessage) -> None:
        for obj, (_, data) in zip(message.attachment_objects, message.attachments, strict=True):
            self._attachments[int(obj["id"])] = data
        if not message.ephemeral:
            self._emit_message("MESSAGE_UPDATE", message)
        self.notify()

    def delete_message(self, message: FakeMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id:
                data["guild_id"] = str(message.guild_id)
            self.emit("MESSAGE_DELETE", data, self._message_intent(message))
        self.notify()

    def _message_intent(self, message: FakeMessage) -> int:
        return perms.INTENT_GUILD_MESSAGES if message.guild_id else perms.INTENT_DIRECT_MESSAGES

    def _emit_message(self, event: str, message: FakeMessage) -> None:
        data = message.payload()
        if message.guild_id:
            guild = self.find_guild(message.guild_id)
            data["guild_id"] = str(message.guild_id)
            member = guild.get_member(message.author.id) if guild else None
            if member is not None:
                data["member"] = member.payload(with_user=False)
        if event == "MESSAGE_CREATE" and not self._has_content_access(message):
            data |= {"content": "", "embeds": [], "attachments": [], "components": []}
        self.emit(event, data, self._message_intent(message))

    def _has_content_access(self, message: FakeMessage) -> bool:
        """MESSAGE_CONTENT rules: own messages, DMs and mentions always carry content."""
        return (
            message.author is self.bot_user
            or message.guild_id is None
            or bool(self.gateway.intents_for(message.guild_id) & perms.INTENT_MESSAGE_CONTENT)
            or self.bot_user in message.mentions
        )

    def thread_created(self, thread: FakeChannel) -> None:
        self.emit("THREAD_CREATE", thread.payload() | {"newly_created": True}, perms.INTENT_GUILDS)
        self.notify()

    def recent_nonce(self, channel_id: int, nonce: str | int) -> FakeMessage | None:
        found = self._nonces.get((channel_id, str(nonce)))
        if found is None or time.monotonic() - found[0] > self.nonce_window:
            return None
        return found[1]

    def remember_nonce(self, channel_id: int, nonce: str | int, message: FakeMessage) -> None:
        self._nonces[(channel_id, str(nonce))] = (time.monotonic(), message)

    def message_context(
        self, channel: FakeChannel | None, *, webhook: bool = False
    ) -> MessageContext:
        granted = self.bot_permissions(channel) if channel is not None else perms.DM_PERMISSIONS
        return MessageContext(
            guild=channel.guild if channel is not None else None,
            find_user=self.find_user,
            attachment_url=lambda c, a, name: f"{self.base_url}/attachments/{c}/{a}/{name}",
            embed_links=webhook or bool(granted & perms.EMBED_LINKS),
            mention_everyone=bool(granted & perms.MENTION_EVERYONE),
        )

    async def user_message(
        self, channel: FakeChannel, author: FakeMember | FakeUser, content: str
    ) -> FakeMessage:
        """A user posts a message (dispatched as MESSAGE_CREATE, content subject to intents)."""
        user = author.user if isinstance(author, FakeMember) else author
        message = FakeMessage(
            new_snowflake(),
            channel.id,
            user,
            guild_id=channel.guild.id if channel.guild else None,
            content=content,
        )
        message.mentions = [u for u in self._users.values() if f"<@{u.id}>" in content]
        self.store_message(message)
        return message

    # -- gateway -------------------------------------------------------------------------------

    def emit(self, event: str, data: JSON, intent: int) -> None:
        """Dispatch a gateway event to its shard's session if that session subscribed to
        ``intent`` (0: always)."""
        self.gateway.emit(event, data, intent)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a raw gateway event (no intent filtering)."""
        if not self.gateway.emit(event, data):
            raise StandInError("nobody has identified on the gateway yet")

    async def wait_until_identified(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until every shard has IDENTIFYed (or RESUMEd) and READY and its GUILD_CREATEs are
        written."""
        await self.wait_until(
            lambda: True if self.gateway.ready else None,
            timeout,
            lambda: f"the bot has not identified ({self.gateway.connections} connections)",
        )

    async def wait_for_gateway_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once the bot has processed every gateway event dispatched so far.

        Asks every shard for a heartbeat (op 1); each client sends its shard's last sequence
        number, and it processes events in order, so its caches (channels, roles, members)
        reflect every earlier change.
        """
        await self.wait_until_identified(timeout)
        targets = {session: session.seq for session in self.gateway.sessions}
        self.gateway.request_heartbeat()

        def behind() -> list[str]:
            return [
                f"shard {session.shard_id} processed events up to {session.client_seq}, not {seq}"
                for session, seq in targets.items()
                if session.client_seq < seq
            ]

        await self.wait_until(
            lambda: None if behind() else True, timeout, lambda: "; ".join(behind())
        )

    async def drop_gateway(
        self,
        code: int = 4000,
        *,
        wait: bool = True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Close the websocket with ``code``; by default wait for the client to come back."""
        await self.gateway.drop(code)
        if wait:
            await self.wait_until_identified(timeout)

    async def request_reconnect(self, *, wait: bool = True, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Send op 7 RECONNECT; by default wait until the client has resumed."""
        self.gateway.request_reconnect()
        if wait:
            await self.wait_until_identified(timeout)

    def ready_payload(self) -> JSON:
        return {
            "v": 10,
            "user": self.bot_user.payload()
            | {"verified": True, "mfa_enabled": True, "email": None},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in self.guilds],
            "application": {"id": str(self.application_id), "flags": self._application_flags()},
            "session_type": "normal",
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": ["rotterdam"],
            "_trace": ["standin-gateway"],
        }

    def guild_create_payloads(self, intents: int) -> list[JSON]:
        for guild in self.guilds:
            guild.connected = True
        return [guild.payload(intents=intents, initial=True) for guild in self.guilds]

    def member_chunk(self, request: JSON) -> JSON | None:
        guild = self.find_guild(int(request.get("guild_id") or 0))
        if guild is None:
            return None
        members = list(guild.members.values())
        if request.get("user_ids"):
            wanted = {int(x) for x in request["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif request.get("query"):
            members = [
                m for m in members if m.name.lower().startswith(str(request["query"]).lower())
            ]
        if request.get("limit"):
            members = members[: int(request["limit"])]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if request.get("nonce") is not None:
            chunk["nonce"] = request["nonce"]
        return chunk

    def _application_flags(self) -> int:
        # GATEWAY_*_LIMITED flags: how the portal marks privileged intents of small bots.
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        for intent, flag in (
            (perms.INTENT_GUILD_PRESENCES, 1 << 13),
            (perms.INTENT_GUILD_MEMBERS, 1 << 15),
            (perms.INTENT_MESSAGE_CONTENT, 1 << 19),
        ):
            if self.enabled_intents & intent:
                flags |= flag
        return flags

    def application_payload(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "flags": self._application_flags(),
            "owner": self.app_owner.payload(),
            "team": None,
            "bot": self.bot_user.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    # -- problems and faults -------------------------------------------------------------------

    def record_problem(self, problem: str) -> None:
        self.problems.append(problem)
        self.notify()

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        *,
        after_handling: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (a 429 gets Discord's shape).

        ``method`` is an HTTP method or "*"; ``path_regex`` is searched in the path relative to
        /api/v10 (e.g. r"/channels/\\d+/messages$"). With ``after_handling=True`` the request is
        processed first and the failure replaces the real answer (the message *was* created).
        """
        default_body, default_headers = default_fault_body(status)
        self.rest.faults.append(
            Fault(
                method.upper(),
                re.compile(path_regex),
                status,
                default_body if body is None else body,
                {**default_headers, **(headers or {})},
                times,
                after_handling,
            )
        )

    def rate_limit(self, path_regex: str, limit: int, per_seconds: float) -> None:
        """Allow at most ``limit`` requests per ``per_seconds`` to the paths matching ``path_regex``
        (any method, one shared budget); beyond that answer 429 as Discord does (``Via`` header,
        ``retry_after``, ``global: false``, X-RateLimit-* with ``X-RateLimit-Scope: user``).

        Answers within the limit carry the limiter's real X-RateLimit-* headers, so discord.py
        waits by itself once it has seen a bucket run out. 429s are counted in ``rate_limited``.
        """
        if limit < 1 or per_seconds <= 0:
            raise StandInError("rate_limit() needs limit >= 1 and per_seconds > 0")
        self.rest.rate_limits.append(RateLimit(re.compile(path_regex), limit, per_seconds))

    def rate_limit_global(self, limit: int, per_seconds: float = 1.0) -> None:
        """Discord's global limit: at most ``limit`` requests per ``per_seconds`` with the bot
        token on any route, interaction responses and webhooks excepted (Discord: about 50 a
        second). Beyond it: 429 with ``global: true`` and ``X-RateLimit-Global``, counted in
        ``rate_limited`` and ``global_rate_limited``."""
        if limit < 1 or per_seconds <= 0:
            raise StandInError("rate_limit_global() needs limit >= 1 and per_seconds > 0")
        self.rest.global_limit = RateLimit(re.compile(""), limit, per_seconds)

    # -- waiting -------------------------------------------------------------------------------

    def notify(self) -> None:
        self._unsettled = [reply for reply in self._unsettled if not reply.settle()]
        self._changed.set()
        self._changed = asyncio.Event()

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def wait_until(
        self,
        check: Callable[[], T | None],
        timeout: float,  # noqa: ASYNC109
        describe: Callable[[], str],
        changed: Callable[[], asyncio.Event] | None = None,
    ) -> T:
        """Re-check ``check`` on every change (and every 50 ms) until it returns non-None;
        or only when ``changed()`` is set, for a check that only that event can change."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = end - loop.time()
            if remaining <= 0:
                raise StandInError(f"timed out after {timeout}s: {describe()}")
            event = self._changed if changed is None else changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.05))

    # -- interactions --------------------------------------------------------------------------

    def find_interaction(self, interaction_id: int) -> InteractionReply | None:
        return self._interactions.get(interaction_id)

    def find_interaction_by_token(self, token: str) -> InteractionReply | None:
        return self._interactions_by_token.get(token)

    def registered_commands(self, guild: FakeGuild | None = None) -> list[JSON]:
        """Commands visible in ``guild``: its guild commands, then global ones not shadowed."""
        local = self.commands.get(guild.id, []) if guild else []
        names = {(c["name"], c.get("type", 1)) for c in local}
        return [
            *local,
            *(c for c in self.commands.get(None, []) if (c["name"], c.get("type", 1)) not in names),
        ]

    async def slash(
        self,
        guild: FakeGuild,
        member: FakeMember,
        command: str,
        /,
        channel: FakeChannel | None = None,
        *,
        in_channel: FakeChannel | None = None,
        options: Mapping[str, Any] | None = None,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
        **values: Any,
    ) -> InteractionReply:
        """Invoke ``/command [group] [sub]`` with option values given as keywords (or ``options=``).

        ``channel`` is where the command is used (default ``guild.general``), unless the command
        has an option named "channel": then it is that option's value. ``in_channel`` always names
        where the command is used. For the bot's DM with a user, see :meth:`slash_in_dm`.
        """
        all_values = {**(options or {}), **values}
        command_obj, chain, leaf = find_command(self.registered_commands(guild), command)
        channel = _invocation_channel(guild, leaf, channel, in_channel, all_values)
        self._check_can_invoke(guild, member, channel, command_obj)
        resolver = self._resolver(member, channel)
        leaf_options = build_options(leaf, all_values, resolver)
        data = self._command_data(command_obj, nest_options(chain, leaf_options), resolver)
        return await self._command(member, channel, data, locale, until, timeout)

    async def user_command(
        self,
        guild: FakeGuild,
        member: FakeMember,
        name: str,
        target: FakeMember,
        /,
        channel: FakeChannel | None = None,
        *,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
    ) -> InteractionReply:
        """Invoke the user command ``name`` on ``target`` (a member's profile › Apps), as
        Discord sends it: an application command of type 2 (USER) with ``target_id``, and the
        target resolved as a user and a member."""
        command_obj = next(
            (
                c
                for c in self.registered_commands(guild)
                if c.get("type") == USER_COMMAND and c["name"] == name
            ),
            None,
        )
        if command_obj is None:
            raise StandInError(f"no user command {name!r} is registered")
        channel = channel or guild.general
        self._check_can_invoke(guild, member, channel, command_obj)
        resolver = self._resolver(member, channel)
        target_id = resolver.user(target)
        data = self._command_data(command_obj, [], resolver) | {"target_id": target_id}
        return await self._command(member, channel, data, locale, until, timeout)

    async def slash_in_dm(
        self,
        user: FakeUser | FakeMember,
        command: str,
        /,
        *,
        options: Mapping[str, Any] | None = None,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
        **values: Any,
    ) -> InteractionReply:
        """Invoke a global ``/command [group] [sub]`` in the bot's DM with ``user`` (context 1).

        Discord sends it without guild_id or member, with ``user`` and the DM channel (type 1); the
        bot's replies land in ``dm_messages(user)``. Only global commands whose ``contexts``
        include 1 (BOT_DM) qualify; with ``contexts`` null, the legacy ``dm_permission`` decides.
        """
        who = _user_of(user)
        if who.bot:
            raise StandInError(f"{who.username!r} is a bot: bots cannot use slash commands")
        command_obj, chain, leaf = find_command(self.registered_commands(None), command)
        contexts = command_obj.get("contexts")
        dm_permission = command_obj.get("dm_permission")
        if not (1 in contexts if contexts is not None else dm_permission is not False):
            raise StandInError(
                f"/{command_obj['name']} is not available in DMs "
                f"(contexts={contexts}, dm_permission={dm_permission})"
            )
        channel = self.dm_channel(who)
        resolver = self._resolver(None, channel)
        leaf_options = build_options(leaf, {**(options or {}), **values}, resolver)
        data = self._command_data(command_obj, nest_options(chain, leaf_options), resolver)
        return await self._command(who, channel, data, locale, until, timeout)

    async def _command(
        self,
        who: FakeMember | FakeUser,
        channel: FakeChannel,
        data: JSON,
        locale: str,
        until: Until,
        timeout: float,  # noqa: ASYNC109
    ) -> InteractionReply:
        """Send an application command's INTERACTION_CREATE and wait for its answer."""
        payload = self._interaction_payload(
            kind=APPLICATION_COMMAND, data=data, who=who, channel=channel, locale=locale
        )
        return await self._run(
            payload=payload,
            user=_user_of(who),
            channel=channel,
            source=None,
            until=until,
            timeout=timeout,
        )

    async def autocomplete(
        self,
        guild: FakeGuild,
        member: FakeMember,
        command: str,
        /,
        focused: str,
        channel: FakeChannel | None = None,
        *,
        in_channel: FakeChannel | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
        **values: Any,
    ) -> InteractionReply:
        """Autocomplete (type 4) while ``focused`` is being typed; see ``reply.choices``.

        ``channel`` / ``in_channel`` work as in :meth:`slash`.
        """
        all_values = {**(options or {}), **values}
        command_obj, chain, leaf = find_command(self.registered_commands(guild), command)
        channel = _invocation_channel(guild, leaf, channel, in_channel, all_values)
        self._check_can_invoke(guild, member, channel, command_obj)
        resolver = self._resolver(member, channel)
        leaf_options = build_options(leaf, all_values, resolver, focused=focused)
        data = self._command_data(command_obj, nest_options(chain, leaf_options), resolver)
        payload = self._interaction_payload(
            kind=AUTOCOMPLETE, data=data, who=member, channel=channel, locale=locale
        )
        return await self._run(
            payload=payload,
            user=member.user,
            channel=channel,
            source=None,
            until="answered",
            timeout=timeout,
        )

    async def click(
        self,
        message: FakeMessage | InteractionReply | JSON,
        custom_id: str,
        member: FakeMember | FakeUser,
        values: Sequence[Any] | None = None,
        *,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
    ) -> InteractionReply:
        """Click a button / choose in a select on a message (or on an earlier reply's message)."""
        target = self._click_target(message)
        component = find_component(target.components, custom_id)
        if component["type"] == 2 and component.get("style") in (5, 6):
            raise StandInError(f"{custom_id!r} is a link/premium button: it sends no interaction")
        if component.get("disabled"):
            raise StandInError(f"{custom_id!r} is disabled")
        channel = self.find_channel(target.channel_id)
        if channel is None:
            raise StandInError(f"the message's channel {target.channel_id} does not exist")
        who = self._participant(channel, member)
        if target.ephemeral and target.interaction_metadata is not None:
            owner = int(target.interaction_metadata["user"]["id"])
            if owner != _user_of(who).id:
                raise StandInError("only the user who received an ephemeral message can click it")
        resolver = self._resolver(who if isinstance(who, FakeMember) else None, channel)
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = select_values(component, values, resolver)
            if resolver.resolved:
                data["resolved"] = resolver.resolved
        elif values is not None:
            raise StandInError(f"{custom_id!r} is a button: it takes no values")
        payload = self._interaction_payload(
            kind=MESSAGE_COMPONENT,
            data=data,
            who=who,
            channel=channel,
            locale=locale,
            message=target,
        )
        return await self._run(
            payload=payload,
            user=_user_of(who),
            channel=channel,
            source=target,
            until=until,
            timeout=timeout,
        )

    async def submit_modal(
        self,
        modal_reply: InteractionReply,
        member: FakeMember | FakeUser,
        values: Mapping[str, Any],
        *,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
        locale: str = "en-US",
    ) -> InteractionReply:
        """Fill in and submit the modal the bot opened (``modal_reply.type == 9``)."""
        modal = modal_reply.modal
        if modal is None:
            raise StandInError(f"the bot did not open a modal; {modal_reply.describe()}")
        if modal_reply.modal_submitted:
            raise StandInError("this modal was already submitted")
        if _user_of(member).id != modal_reply.user.id:
            raise StandInError("only the user the modal was shown to can submit it")
        channel = modal_reply.channel
        if channel is None:
            raise StandInError("the modal's interaction has no channel")
        who = self._participant(channel, member)
        resolver = self._resolver(who if isinstance(who, FakeMember) else None, channel)
        data: JSON = {
            "custom_id": modal["custom_id"],
            "components": modal_submission(modal, values, resolver),
        }
        if resolver.resolved:
            data["resolved"] = resolver.resolved
        source = modal_reply.source_message
        payload = self._interaction_payload(
            kind=MODAL_SUBMIT, data=data, who=who, channel=channel, locale=locale, message=source
        )
        modal_reply.modal_submitted = True
        return await self._run(
            payload=payload,
            user=_user_of(who),
            channel=channel,
            source=source,
            until=until,
            timeout=timeout,
        )

    async def send_interaction(
        self,
        payload: JSON,
        *,
        until: Until = "answered",
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionReply:
        """Send a raw INTERACTION_CREATE; id, token, application_id, version and a few required
        fields are filled in when missing."""
        payload = dict(payload)
        payload.setdefault("id", str(new_snowflake()))
        payload.setdefault("token", _interaction_token())
        payload.setdefault("application_id", str(self.application_id))
        payload.setdefault("version", 1)
        payload.setdefault("attachment_size_limit", self.attachment_size_limit)
        payload.setdefault("entitlements", [])
        raw_user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
        user = self.find_user(int(raw_user.get("id", 0))) or FakeUser(
            int(raw_user.get("id", 0)), raw_user.get("username", "unknown")
        )
        channel = self.find_channel(int(payload.get("channel_id") or 0))
        message_id = (payload.get("message") or {}).get("id")
        source = self.find_message(int(message_id)) if message_id else None
        return await self._run(
            payload=payload, user=user, channel=channel, source=source, until=until, timeout=timeout
        )

    # -- interaction helpers -------------------------------------------------------------------

    def _check_can_invoke(
        self, guild: FakeGuild, member: FakeMember, channel: FakeChannel, command: JSON
    ) -> None:
        if guild.get_member(member.id) is not member:
            raise StandInError(f"{member.name!r} is not a member of {guild.name!r}")
        if channel.guild is not guild:
            raise StandInError(f"#{channel.name} is not in {guild.name!r}")
        granted = perms.permissions_for(member, channel)
        if not granted & perms.VIEW_CHANNEL or not granted & perms.USE_APPLICATION_COMMANDS:
            raise StandInError(
                f"{member.name!r} cannot use application commands in #{channel.name}"
            )
        # default_member_permissions is not enforced: server admins can override it per role or
        # member (Integrations settings), so the bot must check permissions itself anyway.
        contexts = command.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise StandInError(
                f"/{command['name']} is not available in guilds (contexts={contexts})"
            )

    def _participant(
        self, channel: FakeChannel, who: FakeMember | FakeUser
    ) -> FakeMember | FakeUser:
        if channel.guild is None:
            return _user_of(who)
        member = who if isinstance(who, FakeMember) else channel.guild.get_member(who.id)
        if member is None or channel.guild.get_member(member.id) is not member:
            raise StandInError(
                f"{_user_of(who).username!r} is not a member of {channel.guild.name!r}"
            )
        return member

    def _click_target(self, message: FakeMessage | InteractionReply | JSON) -> FakeMessage:
        if isinstance(message, FakeMessage):
            target = message
        elif isinstance(message, InteractionReply):
            if message.original is None:
                raise StandInError(f"the reply has no message to click; {message.describe()}")
            target = message.original
        else:
            found = self.find_message(int(message["id"]))
            target = found if found is not None else self.adopt(message)
        if target.deleted:
            raise StandInError(f"message {target.id} was deleted")
        return target

    def adopt(self, data: JSON) -> FakeMessage:
        """Store a raw message dict the stand-in never stored (e.g. from before a restart);
        clicking such a dict adopts it first."""
        channel = self.find_channel(int(data["channel_id"]))
        author = self.find_user(int((data.get("author") or {}).get("id", 0))) or self.bot_user
        message = FakeMessage(
            int(data["id"]),
            int(data["channel_id"]),
            author,
            guild_id=channel.guild.id if channel and channel.guild else None,
            content=data.get("content") or "",
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            flags=int(data.get("flags") or 0),
        )
        self.store_message(message)
        return message

    def _resolver(self, invoker: FakeMember | None, channel: FakeChannel | None) -> Resolver:
        def add_attachment(filename: str, data: bytes) -> JSON:
            attachment_id = new_snowflake()
            self._attachments[attachment_id] = data
            channel_id = channel.id if channel else 0
            url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
            return {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(data),
                "url": url,
                "proxy_url": url,
                "content_type": "application/octet-stream",
                "ephemeral": True,
            }

        return Resolver(invoker, channel, perms.permissions_for, add_attachment)

    def _command_data(self, command: JSON, options: list[JSON], resolver: Resolver) -> JSON:
        data: JSON = {"id": command["id"], "name": command["name"], "type": command.get("type", 1)}
        if options:
            data["options"] = options
        if resolver.resolved:
            data["resolved"] = resolver.resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return data

    def _interaction_payload(
        self,
        *,
        kind: int,
        data: JSON,
        who: FakeMember | FakeUser,
        channel: FakeChannel,
        locale: str,
        message: FakeMessage | None = None,
    ) -> JSON:
        channel_data = channel.payload()
        payload: JSON = {
            "id": str(new_snowflake()),
            "application_id": str(self.application_id),
            "type": kind,
            "token": _interaction_token(),
            "version": 1,
            "data": data,
            "channel_id": str(channel.id),
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
        }
        if isinstance(who, FakeMember) and channel.guild is not None:
            guild = channel.guild
            granted = perms.permissions_for(who, channel)
            channel_data["permissions"] = str(granted)
            payload |= {
                "guild_id": str(guild.id),
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": who.payload() | {"permissions": str(granted)},
                "app_permissions": str(self.bot_permissions(channel)),
                "authorizing_integration_owners": {"0": str(guild.id)},
                "context": 0,
            }
        else:
            channel_data["permissions"] = str(perms.DM_PERMISSIONS)
            payload |= {
                "user": _user_of(who).payload(),
                "app_permissions": str(perms.DM_PERMISSIONS),
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,
            }
        payload["channel"] = channel_data
        if message is not None:
            payload["message"] = message.payload()
        return payload

    async def _run(
        self,
        *,
        payload: JSON,
        user: FakeUser,
        channel: FakeChannel | None,
        source: FakeMessage | None,
        until: Until,
        timeout: float,  # noqa: ASYNC109
    ) -> InteractionReply:
        if self.gateway.session_id is None:
            raise StandInError("the bot is not connected (await standin.wait_until_identified())")
        now = self.loop_time()
        reply = InteractionReply(
            interaction_id=int(payload["id"]),
            token=str(payload["token"]),
            interaction_type=int(payload["type"]),
            user=user,
            channel=channel,
            payload=payload,
            host=self,
            created_at=now,
            deadline=now + self.interaction_deadline,
            source_message=source,
        )
        self._interactions[reply.interaction_id] = reply
        self._interactions_by_token[reply.token] = reply
        self._unsettled.append(reply)
        self.gateway.emit("INTERACTION_CREATE", payload)

        def check() -> InteractionReply | None:
            if reply.answered or (until == "ack" and reply.acknowledged):
                return reply
            if not reply.acknowledged and self.loop_time() > reply.deadline:
                raise StandInError(
                    f"the bot did not acknowledge within {self.interaction_deadline}s; "
                    + reply.describe()
                )
            return None

        # A burst of clicks has a waiter each: woken on every change anywhere, they would
        # re-check each other's answers (the stand-in's time, counted against the bot's).
        return await self.wait_until(check, timeout, reply.describe, reply.stage_changed)

    def describe_commands(self, guild: FakeGuild | None = None) -> list[str]:
        """Registered slash command paths (for error messages and debugging)."""
        return command_paths(self.registered_commands(guild))


def _user_of(who: FakeMember | FakeUser) -> FakeUser:
    return who.user if isinstance(who, FakeMember) else who


def _invocation_channel(
    guild: FakeGuild,
    leaf: JSON,
    channel: FakeChannel | None,
    in_channel: FakeChannel | None,
    values: dict[str, Any],
) -> FakeChannel:
    """Where a command is used; ``channel=`` fills an option named "channel" if there is one."""
    has_option = any(o["name"] == "channel" for o in leaf.get("options") or [])
    if channel is not None and has_option and "channel" not in values:
        values["channel"] = channel
        channel = None
    return in_channel or channel or guild.general


def _interaction_token() -> str:
    return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(96)
