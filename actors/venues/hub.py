"""Websocket plumbing shared by every protocol: connections, their send queues, fan-out."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from actors.venues.server import Venue

_encode = msgspec.json.encode
# a client further behind than this is cut off, as exchanges do with slow consumers
MAX_QUEUE = 20_000


def dumps(payload: Any) -> str:
    """Compact JSON text of ``payload``."""
    return _encode(payload).decode()


class Conn:
    """One websocket connection: its subscriptions and an outgoing queue drained by a sender.

    ``private`` connections carry an account's events (Binance's ws-api and listen-key
    streams, OKX's ``/ws/v5/private``): ``stall_user_streams`` holds them, ``stall_streams``
    and malformed frames go to the others.
    """

    def __init__(self, websocket: WebSocket, kind: str, *, private: bool = False) -> None:
        self.websocket = websocket
        self.kind = kind
        self.private = private
        self.combined = kind == "combined"
        self.subs: set[str] = set()
        self.queue: deque[tuple[float, str]] = deque()
        self._wake = trio.Event()
        self.scope = trio.CancelScope()
        self.account: Any = None
        self.user_subscription_id: int | None = None
        self.stalled_until = 0.0
        """``Faults.stall_user_streams``: hold this connection's frames until then."""
        self.state: dict[str, Any] = {}
        """Per-protocol connection state (OKX login, per-channel sequence ids...)."""

    def push(self, text: str) -> None:
        """Queue a text frame without blocking; cut the connection off if it is far behind."""
        self.queue.append((trio.current_time(), text))
        if len(self.queue) > MAX_QUEUE:
            self.scope.cancel()
        self._wake.set()

    def push_stream(self, stream: str, data: str) -> None:
        """Queue a stream event, wrapped for combined-stream connections."""
        if self.combined:
            self.push(f'{{"stream":"{stream}","data":{data}}}')
        else:
            self.push(data)

    async def sender(self, venue: Venue) -> None:
        """Send queued frames in order, honouring stall and latency faults."""
        faults = venue.faults
        stallable = not self.private
        send = self.websocket.send
        while True:
            while not self.queue:
                await self._wake.wait()
                self._wake = trio.Event()
            if stallable and faults.stall_until:
                await faults.wait_unstalled()
            elif self.stalled_until:
                await faults.wait_conn_unstalled(self)
            t, text = self.queue.popleft()
            if faults.latency_s:
                await trio.sleep_until(t + faults.latency_s)
            await send({"type": "websocket.send", "text": text})


class Hub:
    """All open websockets of a venue and who subscribed to which stream."""

    def __init__(self) -> None:
        self.conns: set[Conn] = set()
        self.by_stream: dict[str, set[Conn]] = {}
        self.frames_out = 0

    def has_subscribers(self, stream: str) -> bool:
        """Whether anyone listens to ``stream`` (skip serialising otherwise)."""
        return bool(self.by_stream.get(stream))

    def publish(self, stream: str, payload: dict[str, Any]) -> None:
        """Serialise ``payload`` once and queue it to every subscriber of ``stream``."""
        conns = self.by_stream.get(stream)
        if not conns:
            return
        data = dumps(payload)
        for c in conns:
            c.push_stream(stream, data)
        self.frames_out += len(conns)

    def subscribe(self, conn: Conn, stream: str) -> None:
        """Add ``stream`` to ``conn``'s subscriptions."""
        conn.subs.add(stream)
        self.by_stream.setdefault(stream, set()).add(conn)

    def unsubscribe(self, conn: Conn, stream: str) -> None:
        """Remove ``stream`` from ``conn``'s subscriptions."""
        conn.subs.discard(stream)
        s = self.by_stream.get(stream)
        if s is not None:
            s.discard(conn)
            if not s:
                del self.by_stream[stream]

    def remove(self, conn: Conn) -> None:
        """Forget a closed connection."""
        for stream in list(conn.subs):
            self.unsubscribe(conn, stream)
        self.conns.discard(conn)

    def drop_all(self) -> int:
        """Cancel every connection's handler so it closes; returns how many."""
        conns = list(self.conns)
        for c in conns:
            c.scope.cancel()
        return len(conns)

    def broadcast_raw(self, text: str) -> int:
        """Queue ``text`` verbatim on every market-data connection."""
        n = 0
        for c in self.conns:
            if not c.private:
                c.push(text)
                n += 1
        return n

    def private_conns(self) -> list[Conn]:
        """Connections carrying account events."""
        return [c for c in self.conns if c.private]


async def refuse_private(venue: Venue, websocket: WebSocket) -> bool:
    """Deny a private websocket handshake while ``refuse_private_websockets`` is on (503);
    True when it was denied."""
    if not venue.faults.refusing_private():
        return False
    await websocket.send_denial_response(Response("private websockets refused", status_code=503))
    return True


async def close_quietly(websocket: WebSocket, code: int) -> None:
    """Close a websocket, ignoring a peer that is already gone."""
    with trio.move_on_after(1):
        with contextlib.suppress(
            RuntimeError, OSError, WebSocketDisconnect, trio.BrokenResourceError
        ):
            await websocket.close(code=code)


async def serve_conn(
    venue: Venue,
    conn: Conn,
    receiver: Callable[[Venue, Conn, trio.Nursery], Awaitable[None]],
    *extra: Callable[[Venue, Conn], Awaitable[None]],
) -> None:
    """Run an accepted connection: its sender, ``extra`` tasks and ``receiver`` until it ends.

    The connection is registered with the hub for its lifetime (drop faults reach it) and
    closed quietly afterwards.
    """
    venue.hub.conns.add(conn)
    try:
        with conn.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.sender, venue)
                for task in extra:
                    nursery.start_soon(task, venue, conn)
                await receiver(venue, conn, nursery)
                nursery.cancel_scope.cancel()
    finally:
        venue.hub.remove(conn)
        venue.protocol.forget(conn)
    await close_quietly(conn.websocket, 1001)


async def receive_text(conn: Conn) -> str | bytes | None:
    """The next message's text (bytes for a binary frame); None when the peer closed."""
    msg = await conn.websocket.receive()
    if msg["type"] == "websocket.disconnect":
        return None
    text = msg.get("text")
    return text if text is not None else msg.get("bytes", b"")
