"""The gateway: a JSON-text websocket speaking Discord's gateway protocol (v10).

One session at a time. Every dispatch gets a sequence number and is kept in a log, so that a
client that RESUMEs (after a dropped connection or an op 7 RECONNECT) receives what it missed,
followed by RESUMED, exactly like Discord.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from . import permissions as perms
from .errors import StandInError
from .world import JSON

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME = 0, 1, 2, 3, 4, 6
RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11

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
    authenticated: bool = False

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(json.dumps(payload))


class Gateway:
    def __init__(self, host: GatewayHost) -> None:
        self.host = host
        self.connections = 0
        self.identifies = 0
        self.resumes = 0
        self.session_id: str | None = None
        self.intents = 0
        self.ready = False  # READY (or RESUMED) and what precedes it has been written
        self.client_seq = 0  # the sequence number in the client's last heartbeat
        self._seq = 0
        self._log: deque[tuple[int, str]] = deque(maxlen=10_000)
        self._live: _Connection | None = None
        self._open: set[_Connection] = set()

    # -- public --------------------------------------------------------------------------------

    def emit(self, event: str, data: JSON) -> bool:
        """Dispatch an event to the session (logged for RESUME). False if nobody identified yet."""
        if self.session_id is None:
            return False
        self._seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": self._seq, "d": data})
        self._log.append((self._seq, frame))
        if self._live is not None:
            self._live.queue.put_nowait(frame)
        return True

    @property
    def seq(self) -> int:
        return self._seq

    def request_heartbeat(self) -> None:
        """Op 1 from the server: the client answers at once with its last sequence number."""
        self._require_live().send({"op": HEARTBEAT, "d": None})

    async def drop(self, code: int) -> None:
        connection = self._require_live()
        self._live = None
        self.ready = False
        await connection.ws.close(code=code, message=b"closed by the stand-in")

    def request_reconnect(self) -> None:
        connection = self._require_live()
        connection.send({"op": RECONNECT, "d": None})
        self._live = None
        self.ready = False

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
            if self._live is connection:
                self._live = None
                self.ready = False
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
        if op == HEARTBEAT:
            if isinstance(data, int) and connection is self._live:
                self.client_seq = data
                self.host.notify()
            connection.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif not connection.authenticated:
            await self._close(connection, 4003, f"op {op} sent before IDENTIFY")
        elif op in (PRESENCE, VOICE_STATE):
            pass
        elif op == REQUEST_MEMBERS and isinstance(data, dict):
            chunk = self.host.member_chunk(data)
            if chunk is not None:
                self.emit("GUILD_MEMBERS_CHUNK", chunk)
        else:
            await self._close(connection, 4001, f"Unknown opcode {op!r}")

    async def _identify(self, connection: _Connection, data: Any) -> None:
        if connection.authenticated:
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
        connection.authenticated = True
        self.identifies += 1
        self.session_id = uuid.uuid4().hex
        self.intents = intents
        self.client_seq = 0
        self._seq = 0
        self._log.clear()
        self._live = connection
        self.ready = False
        ready = self.host.ready_payload() | {
            "session_id": self.session_id,
            "resume_gateway_url": self.host.resume_gateway_url,
        }
        if data.get("shard") is not None:
            ready["shard"] = data["shard"]
        self.emit("READY", ready)
        for guild in self.host.guild_create_payloads(intents):
            self.emit("GUILD_CREATE", guild)
        connection.queue.put_nowait(lambda: self._mark_ready(connection))

    async def _resume(self, connection: _Connection, data: Any) -> None:
        if not isinstance(data, dict) or data.get("token") != self.host.token:
            await self._close(connection, 4004, "Authentication failed")
            return
        seq = data.get("seq")
        first = self._log[0][0] if self._log else self._seq + 1
        if (
            data.get("session_id") != self.session_id
            or not isinstance(seq, int)
            or not first - 1 <= seq <= self._seq
        ):
            connection.send({"op": INVALID_SESSION, "d": False})
            return
        connection.authenticated = True
        self.resumes += 1
        self._live = connection
        self.ready = False
        for number, frame in self._log:
            if number > seq:
                connection.queue.put_nowait(frame)
        self.emit("RESUMED", {"_trace": ["standin-gateway"]})
        connection.queue.put_nowait(lambda: self._mark_ready(connection))

    def _mark_ready(self, connection: _Connection) -> None:
        if self._live is connection and not connection.ws.closed:
            self.ready = True
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

    def _require_live(self) -> _Connection:
        if self._live is None:
            raise StandInError("the bot is not connected to the gateway")
        return self._live
