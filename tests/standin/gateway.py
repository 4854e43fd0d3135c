"""The gateway: a JSON-text websocket speaking Discord's gateway protocol (v10).

One session per shard, as Discord keeps them: IDENTIFY's ``shard: [id, count]`` (none means
``[0, 1]``) names the shard, and a new IDENTIFY for a shard replaces that shard's session. A guild's
events go to shard ``(guild_id >> 22) % count``; events without a guild (DMs, DM interactions) go
to shard 0. READY lists, and the GUILD_CREATEs after it carry, only that shard's guilds.

Every dispatch gets the session's next sequence number and is kept in the session's log, so that
a client that RESUMEs (after a dropped connection or an op 7 RECONNECT) receives what that shard
missed, followed by RESUMED, exactly like Discord.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import WSMsgType, web

from . import permissions as perms
from .errors import StandInError
from .world import JSON

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME = 0, 1, 2, 3, 4, 6
RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11

# Events about a guild itself name it by "id"; every other guild event has "guild_id".
GUILD_EVENTS = frozenset({"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"})

Outgoing = str | Callable[[], None] | None


class GatewayHost(Protocol):
    """What the gateway needs from the stand-in."""

    token: str
    enabled_intents: int
    heartbeat_interval_ms: int

    @property
    def resume_gateway_url(self) -> str: ...

    def ready_payload(self) -> JSON: ...

    def guild_create_payloads(self, intents: int) -> list[JSON]: ...

    def member_chunk(self, request: JSON) -> JSON | None: ...

    def record_problem(self, problem: str) -> None: ...

    def notify(self) -> None: ...


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    path: str
    queue: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    session: Session | None = None  # set by IDENTIFY or RESUME

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(orjson.dumps(payload).decode())


@dataclass(eq=False)
class Session:
    """One shard's session: what a RESUME of ``session_id`` picks up again."""

    shard_id: int
    shard_count: int
    session_id: str
    intents: int
    live: _Connection | None = None
    ready: bool = False  # READY (or RESUMED) and what precedes it has been written to ``live``
    seq: int = 0
    client_seq: int = 0  # the sequence number in the client's last heartbeat
    log: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=10_000))

    def receives(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def dispatch(self, event: str, data: JSON) -> None:
        self.seq += 1
        frame = orjson.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data}).decode()
        self.log.append((self.seq, frame))
        if self.live is not None:
            self.live.queue.put_nowait(frame)

    def disconnect(self) -> None:
        self.live = None
        self.ready = False


class Gateway:
    def __init__(self, host: GatewayHost) -> None:
        self.host = host
        self.connections = 0
        self.identifies = 0
        self.resumes = 0
        self._sessions: dict[int, Session] = {}  # by shard id
        self._latest: Session | None = None  # the one that identified last
        self._dispatched = 0
        self._open: set[_Connection] = set()

    # -- public --------------------------------------------------------------------------------

    @property
    def sessions(self) -> list[Session]:
        return [self._sessions[shard_id] for shard_id in sorted(self._sessions)]

    @property
    def session_id(self) -> str | None:
        return self._latest.session_id if self._latest is not None else None

    @property
    def intents(self) -> int:
        return self._latest.intents if self._latest is not None else 0

    def intents_for(self, guild_id: int | None) -> int:
        """The intents of the session that receives ``guild_id``'s events (0: none does)."""
        return next((s.intents for s in self._sessions.values() if s.receives(guild_id)), 0)

    @property
    def ready(self) -> bool:
        """Every shard's session is connected, and its READY or RESUMED has been written."""
        return bool(self._sessions) and all(s.ready for s in self._sessions.values())

    @property
    def seq(self) -> int:
        """How many events have been dispatched, over all sessions."""
        return self._dispatched

    def emit(self, event: str, data: JSON, intent: int = 0) -> bool:
        """Dispatch an event to the shard it belongs to, if that session subscribed to ``intent``
        (0: always); logged for RESUME. False if nobody identified yet."""
        if not self._sessions:
            return False
        raw_id = data.get("id") if event in GUILD_EVENTS else data.get("guild_id")
        guild_id = int(raw_id) if raw_id is not None else None
        for session in self._sessions.values():
            if session.receives(guild_id) and (intent == 0 or session.intents & intent):
                self._dispatch(session, event, data)
        return True

    def request_heartbeat(self) -> None:
        """Op 1 from the server: each client answers at once with its last sequence number."""
        for connection in self._require_live():
            connection.send({"op": HEARTBEAT, "d": None})

    async def drop(self, code: int) -> None:
        for connection in self._require_live():
            if connection.session is not None:
                connection.session.disconnect()
            await connection.ws.close(code=code, message=b"closed by the stand-in")

    def request_reconnect(self) -> None:
        for connection in self._require_live():
            connection.send({"op": RECONNECT, "d": None})
            if connection.session is not None:
                connection.session.disconnect()

    async def close_all(self) -> None:
        for connection in list(self._open):
            await connection.ws.close(code=1001, message=b"stand-in shutting down")

    # -- websocket handler ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        connection = _Connection(ws, request.path)
        self._open.add(connection)
        pump = asyncio.create_task(self._pump(connection))
        try:
            query = request.query
            if query.get("v") != "10":
                await self._close(connection, 4012, f"Invalid API version {query.get('v')!r}")
            elif query.get("encoding", "json") != "json":
                await self._close(connection, 4002, "only encoding=json is supported")
            else:
                connection.send(
                    {
                        "op": HELLO,
                        "d": {
                            "heartbeat_interval": self.host.heartbeat_interval_ms,
                            "_trace": ["standin-gateway"],
                        },
                    }
                )
                await self._read(connection)
        finally:
            self._open.discard(connection)
            if connection.session is not None and connection.session.live is connection:
                connection.session.disconnect()
            connection.queue.put_nowait(None)
            await pump
            self.host.notify()
        return ws

    async def _read(self, connection: _Connection) -> None:
        async for message in connection.ws:
            if message.type is not WSMsgType.TEXT:
                await self._close(connection, 4002, f"unexpected {message.type.name} frame")
                return
            try:
                payload = json.loads(message.data)
                op = payload["op"]
            except (ValueError, KeyError, TypeError):
                await self._close(connection, 4002, f"Decode error: {message.data[:200]!r}")
                return
            await self._on_op(connection, op, payload.get("d"))

    async def _on_op(self, connection: _Connection, op: Any, data: Any) -> None:
        session = connection.session
        if op == HEARTBEAT:
            if isinstance(data, int) and session is not None and session.live is connection:
                session.client_seq = data
                self.host.notify()
            connection.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif session is None:
            await self._close(connection, 4003, f"op {op} sent before IDENTIFY")
        elif op in (PRESENCE, VOICE_STATE):
            pass
        elif op == REQUEST_MEMBERS and isinstance(data, dict):
            chunk = self.host.member_chunk(data)
            if chunk is not None:
                self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
        else:
            await self._close(connection, 4001, f"Unknown opcode {op!r}")

    async def _identify(self, connection: _Connection, data: Any) -> None:
        if connection.session is not None:
            await self._close(connection, 4005, "Already authenticated")
            return
        if not isinstance(data, dict) or data.get("token") != self.host.token:
            await self._close(connection, 4004, "Authentication failed")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~perms.ALL_INTENTS:
            await self._close(connection, 4013, f"Invalid intent(s): {intents!r}")
            return
        if intents & perms.PRIVILEGED_INTENTS & ~self.host.enabled_intents:
            await self._close(connection, 4014, "Disallowed intent(s)", problem=False)
            return
        shard = data.get("shard")
        if shard is None:
            shard_id, shard_count = 0, 1
        elif (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(n, int) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            shard_id, shard_count = shard
        else:
            await self._close(connection, 4010, f"Invalid shard {shard!r}")
            return
        self.identifies += 1
        session = Session(shard_id, shard_count, uuid.uuid4().hex, intents, live=connection)
        # Another shard count means the bot re-sharded: the old layout's sessions end, since
        # they would share guilds with the new ones and, with nobody left to resume them, keep
        # `ready` false for good.
        self._sessions = {
            n: s for n, s in self._sessions.items() if s.shard_count == shard_count
        } | {shard_id: session}
        self._latest = session
        connection.session = session
        ready = self.host.ready_payload() | {
            "session_id": session.session_id,
            "resume_gateway_url": self.host.resume_gateway_url,
        }
        ready["guilds"] = [g for g in ready["guilds"] if session.receives(int(g["id"]))]
        if shard is not None:
            ready["shard"] = shard
        self._dispatch(session, "READY", ready)
        for guild in self.host.guild_create_payloads(intents):
            if session.receives(int(guild["id"])):
                self._dispatch(session, "GUILD_CREATE", guild)
        connection.queue.put_nowait(lambda: self._mark_ready(session, connection))

    async def _resume(self, connection: _Connection, data: Any) -> None:
        if not isinstance(data, dict) or data.get("token") != self.host.token:
            await self._close(connection, 4004, "Authentication failed")
            return
        seq = data.get("seq")
        session = next(
            (s for s in self._sessions.values() if s.session_id == data.get("session_id")), None
        )
        if session is None or not isinstance(seq, int):
            connection.send({"op": INVALID_SESSION, "d": False})
            return
        first = session.log[0][0] if session.log else session.seq + 1
        if not first - 1 <= seq <= session.seq:
            connection.send({"op": INVALID_SESSION, "d": False})
            return
        self.resumes += 1
        session.live = connection
        session.ready = False
        connection.session = session
        for number, frame in session.log:
            if number > seq:
                connection.queue.put_nowait(frame)
        self._dispatch(session, "RESUMED", {"_trace": ["standin-gateway"]})
        connection.queue.put_nowait(lambda: self._mark_ready(session, connection))

    def _dispatch(self, session: Session, event: str, data: JSON) -> None:
        self._dispatched += 1
        session.dispatch(event, data)

    def _mark_ready(self, session: Session, connection: _Connection) -> None:
        if session.live is connection and not connection.ws.closed:
            session.ready = True
            self.host.notify()

    async def _close(
        self, connection: _Connection, code: int, reason: str, *, problem: bool = True
    ) -> None:
        if problem:
            self.host.record_problem(f"gateway closed with {code}: {reason}")
        await connection.ws.close(code=code, message=reason.encode()[:120])

    async def _pump(self, connection: _Connection) -> None:
        """Write queued frames in order; callables run once everything before them is written."""
        while (item := await connection.queue.get()) is not None:
            if callable(item):
                item()
            elif not connection.ws.closed:
                try:
                    await connection.ws.send_str(item)
                except (ConnectionError, RuntimeError):
                    continue

    def _require_live(self) -> list[_Connection]:
        live = [s.live for s in self.sessions if s.live is not None]
        if not live:
            raise StandInError("the bot is not connected to the gateway")
        return live
