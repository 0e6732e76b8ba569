"""Market websocket streams (``/ws``, ``/stream``): SUBSCRIBE/UNSUBSCRIBE, fan-out, senders."""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from actors.venues.server import Venue

_encode = msgspec.json.encode
_decode = msgspec.json.decode
# a client further behind than this is cut off, as Binance does with slow consumers
MAX_QUEUE = 20_000
STREAM_KINDS = ("depth", "depth@100ms", "trade", "bookTicker", "ticker", "miniTicker")
TICKER_INTERVAL_S = 1.0
"""``<symbol>@ticker`` / ``@miniTicker`` (24hr rolling window statistics) are pushed this
often, as on Binance. (ccxt 4.5's ``watch_ticker`` subscribes to ``@miniTicker`` unless
called with ``{"name": "ticker"}``; the full ticker carries the best bid and ask.)"""


def dumps(payload: Any) -> str:
    """Compact JSON text of ``payload``."""
    return _encode(payload).decode()


class Conn:
    """One websocket connection: its subscriptions and an outgoing queue drained by a sender."""

    def __init__(self, websocket: WebSocket, kind: str) -> None:
        self.websocket = websocket
        self.kind = kind
        self.combined = kind == "combined"
        self.subs: set[str] = set()
        self.queue: deque[tuple[float, str]] = deque()
        self._wake = trio.Event()
        self.scope = trio.CancelScope()
        self.account: Any = None
        self.user_subscription_id: int | None = None
        self.stalled_until = 0.0
        """``Faults.stall_user_streams``: hold this connection's frames until then."""

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

    async def sender(self, venue: Venue, stallable: bool) -> None:
        """Send queued frames in order, honouring stall and latency faults."""
        faults = venue.faults
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
        """Queue ``text`` verbatim on every market-stream connection."""
        n = 0
        for c in self.conns:
            if c.kind != "wsapi":
                c.push(text)
                n += 1
        return n


def _valid_stream(venue: Venue, name: str) -> bool:
    sym, _, kind = name.partition("@")
    return sym in venue.lower_ids and kind in STREAM_KINDS


async def close_quietly(websocket: WebSocket, code: int) -> None:
    """Close a websocket, ignoring a peer that is already gone."""
    with trio.move_on_after(1):
        with contextlib.suppress(
            RuntimeError, OSError, WebSocketDisconnect, trio.BrokenResourceError
        ):
            await websocket.close(code=code)


async def market_endpoint(venue: Venue, websocket: WebSocket) -> None:
    """Serve one market-data websocket: ``/ws``, ``/ws/<stream>``, ``/stream?streams=a/b``."""
    path = websocket.url.path
    combined = path.startswith("/stream")
    conn = Conn(websocket, "combined" if combined else "market")
    await websocket.accept()
    venue.hub.conns.add(conn)
    initial: list[str] = []
    if combined:
        initial = [s for s in websocket.query_params.get("streams", "").split("/") if s]
    else:
        tail = path[len("/ws") :].strip("/")
        if "@" in tail:
            initial = tail.split("/")
    for s in initial:
        if _valid_stream(venue, s):
            venue.hub.subscribe(conn, s)
    try:
        with conn.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.sender, venue, True)
                nursery.start_soon(_ticker_sender, venue, conn)
                await _market_receiver(venue, conn)
                nursery.cancel_scope.cancel()
    finally:
        venue.hub.remove(conn)
    await close_quietly(websocket, 1001)


async def _market_receiver(venue: Venue, conn: Conn) -> None:
    while True:
        msg = await conn.websocket.receive()
        if msg["type"] == "websocket.disconnect":
            return
        text = msg.get("text")
        if text is None:
            conn.push(
                dumps({"error": {"code": 3, "msg": "Invalid JSON: binary frames"}, "id": None})
            )
            continue
        try:
            req = _decode(text)
        except msgspec.DecodeError:
            conn.push(dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            continue
        before = _ticker_subs(conn)
        conn.push(dumps(_handle_request(venue, conn, req)))
        # A new ``@ticker`` subscriber gets its first event right after the reply rather
        # than up to a second later (Binance's own first push comes within its 1 s cycle).
        for stream in sorted(_ticker_subs(conn) - before):
            conn.push_stream(stream, dumps(ticker_event(venue, stream)))


def _handle_request(venue: Venue, conn: Conn, req: Any) -> dict[str, Any]:
    if not isinstance(req, dict):
        return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}
    rid = req.get("id")
    method = req.get("method")
    params = req.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return {"error": {"code": 2, "msg": "Invalid request: invalid params"}, "id": rid}
        bad = [p for p in params if not _valid_stream(venue, p)]
        if bad and method == "SUBSCRIBE":
            return {
                "error": {"code": 2, "msg": f"Invalid request: unknown stream {bad[0]}"},
                "id": rid,
            }
        for p in params:
            if method == "SUBSCRIBE":
                venue.hub.subscribe(conn, p)
            else:
                venue.hub.unsubscribe(conn, p)
        return {"result": None, "id": rid}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(conn.subs), "id": rid}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return {"result": None if method == "SET_PROPERTY" else False, "id": rid}
    return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"}, "id": rid}


# --- <symbol>@ticker: individual symbol 24hr ticker ------------------------------------------


def _ticker_subs(conn: Conn) -> set[str]:
    return {s for s in conn.subs if s.endswith(("@ticker", "@miniTicker"))}


def ticker_event(venue: Venue, stream: str) -> dict[str, Any]:
    """The event of ``stream`` (``btcusdt@ticker`` or ``btcusdt@miniTicker``), in Binance's
    documented stream shape (``24hrTicker`` / ``24hrMiniTicker``).

    Built from the same figures as ``GET /api/v3/ticker/24hr`` (the window runs since the
    venue started), renamed to the one-letter keys of the documented payloads.
    """
    low_id, _, kind = stream.partition("@")
    market_id = low_id.upper()
    if market_id not in venue.engine.markets:
        raise ValueError(f"ticker stream {stream!r}: unknown symbol {market_id!r}")
    if kind not in ("ticker", "miniTicker"):
        raise ValueError(f"ticker stream {stream!r}: kind must be ticker or miniTicker")
    t = venue.ticker_json(market_id)
    if kind == "miniTicker":
        return {
            "e": "24hrMiniTicker",
            "E": venue.now_ms(),
            "s": t["symbol"],
            "c": t["lastPrice"],
            "o": t["openPrice"],
            "h": t["highPrice"],
            "l": t["lowPrice"],
            "v": t["volume"],
            "q": t["quoteVolume"],
        }
    return {
        "e": "24hrTicker",
        "E": venue.now_ms(),
        "s": t["symbol"],
        "p": t["priceChange"],
        "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"],
        "x": t["prevClosePrice"],
        "c": t["lastPrice"],
        "Q": t["lastQty"],
        "b": t["bidPrice"],
        "B": t["bidQty"],
        "a": t["askPrice"],
        "A": t["askQty"],
        "o": t["openPrice"],
        "h": t["highPrice"],
        "l": t["lowPrice"],
        "v": t["volume"],
        "q": t["quoteVolume"],
        "O": t["openTime"],
        "C": t["closeTime"],
        "F": t["firstId"],
        "L": t["lastId"],
        "n": t["count"],
    }


async def _ticker_sender(venue: Venue, conn: Conn) -> None:
    """Push every ``@ticker`` stream ``conn`` subscribed to, once per ``TICKER_INTERVAL_S``.

    Per connection rather than venue-wide, so a venue without ticker subscribers does no
    work and the stream ends with its connection (drops and stalls apply as to any frame).
    """
    while True:
        await trio.sleep(TICKER_INTERVAL_S)
        for stream in sorted(_ticker_subs(conn)):
            conn.push_stream(stream, dumps(ticker_event(venue, stream)))
