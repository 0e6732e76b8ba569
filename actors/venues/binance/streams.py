"""Binance market streams (``/ws``, ``/ws/<streams>``, ``/stream?streams=``): subscriptions,
periodic streams (tickers, klines, partial depth) and listen-key user streams.

Streams served per symbol: ``depth``/``depth@100ms`` (diffs), ``depth<5|10|20>[@100ms]``
(partial book), ``trade``, ``aggTrade``, ``bookTicker``, ``ticker``, ``miniTicker`` and
``kline_<interval>``. A stream the venue does not serve is an error: ``SUBSCRIBE`` answers
``{"error": ...}``, and a URL naming one is refused with HTTP 400 before the upgrade.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from starlette.responses import Response
from starlette.websockets import WebSocket

from actors.venues.binance.market_data import kline_event, ticker_json
from actors.venues.candles import INTERVALS_MS
from actors.venues.hub import Conn, dumps, receive_text, refuse_private, serve_conn

if TYPE_CHECKING:
    from actors.venues.binance import BinanceProtocol
    from actors.venues.server import Venue

_decode = msgspec.json.decode
SIMPLE_KINDS = ("depth", "depth@100ms", "trade", "aggTrade", "bookTicker", "ticker", "miniTicker")
_PARTIAL = re.compile(r"^depth(5|10|20)(@100ms|@1000ms)?$")
LISTEN_KEY_MIN = 20
"""A URL segment without ``@`` this long is taken for a listen key (Binance's are 60)."""
TICKER_INTERVAL_S = 1.0
"""``<symbol>@ticker`` / ``@miniTicker`` (24hr rolling window statistics) and klines are pushed
this often (klines other than ``1s`` every other time: 2 s, as on Binance). ccxt 4.5's
``watch_ticker`` subscribes to ``@miniTicker`` unless called with ``{"name": "ticker"}``; the
full ticker carries the best bid and ask."""


def partial_depth(kind: str) -> tuple[int, bool] | None:
    """``(levels, every 100 ms)`` of a partial book stream kind such as ``depth5@100ms``."""
    match = _PARTIAL.match(kind)
    if match is None:
        return None
    return int(match.group(1)), match.group(2) == "@100ms"


def valid_stream(venue: Venue, name: str) -> bool:
    """Whether the venue serves the market stream ``name``."""
    sym, _, kind = name.partition("@")
    if sym not in {m.id.lower() for m in venue.markets}:
        return False
    if kind in SIMPLE_KINDS or partial_depth(kind) is not None:
        return True
    return kind.startswith("kline_") and kind[len("kline_") :] in INTERVALS_MS


def _is_periodic(stream: str) -> bool:
    """Pushed on a timer per connection (tickers, klines, 1000 ms partial books)."""
    kind = stream.partition("@")[2]
    if kind in ("ticker", "miniTicker") or kind.startswith("kline_"):
        return True
    parsed = partial_depth(kind)
    return parsed is not None and not parsed[1]


def _periodic(conn: Conn) -> list[str]:
    return sorted(s for s in conn.subs if _is_periodic(s))


async def market_endpoint(protocol: BinanceProtocol, websocket: WebSocket) -> None:
    """Serve one market-data websocket: ``/ws``, ``/ws/<stream>``, ``/stream?streams=a/b``.

    A path or ``streams`` list naming a listen key carries that account's user-data events.
    """
    venue = protocol.venue
    path = websocket.url.path
    combined = path.startswith("/stream")
    if combined:
        initial = [s for s in websocket.query_params.get("streams", "").split("/") if s]
    else:
        tail = path[len("/ws") :].strip("/")
        initial = [s for s in tail.split("/") if s]
    market_streams, listen_keys = [], []
    for s in initial:
        if valid_stream(venue, s):
            market_streams.append(s)
        elif protocol.listen_keys.account_of(s) is not None:
            listen_keys.append(s)
        elif "@" in s or len(s) >= LISTEN_KEY_MIN:
            # a stream or listen key the venue does not know; short names without "@" are
            # connection labels (ccxt connects to /ws/0, /ws/1...) and stay accepted
            body = {"code": -1121 if "@" in s else -1125, "msg": f"Invalid stream name: {s!r}."}
            await websocket.send_denial_response(
                Response(dumps(body), status_code=400, media_type="application/json")
            )
            return
    if listen_keys and await refuse_private(venue, websocket):
        return
    conn = Conn(websocket, "combined" if combined else "market", private=bool(listen_keys))
    await websocket.accept()
    for s in market_streams:
        venue.hub.subscribe(conn, s)
    if _periodic(conn):  # their first events right away, as after a SUBSCRIBE
        push_periodic(venue, conn, _periodic(conn), kline_all=True)
    for key in listen_keys:
        account = protocol.listen_keys.account_of(key)
        assert account is not None
        conn.state["listen_key"] = key
        protocol.user_streams.subscribe(conn, account, wrapped=False)
    await serve_conn(venue, conn, _receiver, _periodic_sender)


async def _receiver(venue: Venue, conn: Conn, nursery: trio.Nursery) -> None:
    while True:
        text = await receive_text(conn)
        if text is None:
            return
        if isinstance(text, bytes):
            conn.push(
                dumps({"error": {"code": 3, "msg": "Invalid JSON: binary frames"}, "id": None})
            )
            continue
        try:
            req = _decode(text)
        except msgspec.DecodeError:
            conn.push(dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            continue
        before = set(_periodic(conn))
        conn.push(dumps(_handle_request(venue, conn, req)))
        # A new periodic subscriber gets its first event right after the reply rather than
        # up to a second later (Binance's own first push comes within its cycle).
        new = sorted(set(_periodic(conn)) - before)
        if new:
            push_periodic(venue, conn, new, kline_all=True)


def _handle_request(venue: Venue, conn: Conn, req: Any) -> dict[str, Any]:
    if not isinstance(req, dict):
        return {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}
    rid = req.get("id")
    method = req.get("method")
    params = req.get("params", [])
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return {"error": {"code": 2, "msg": "Invalid request: invalid params"}, "id": rid}
        bad = [p for p in params if not valid_stream(venue, p)]
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
    t = ticker_json(venue, market_id)
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


def partial_depth_event(venue: Venue, market_id: str, levels: int) -> dict[str, Any]:
    """A ``<symbol>@depth<levels>`` event: the top of the book as it is now."""
    m = venue.engine.markets[market_id]
    last, bids, asks = venue.engine.books[market_id].snapshot(levels)
    return {
        "lastUpdateId": last,
        "bids": [[m.price_str(p), m.qty_str(q)] for p, q in bids],
        "asks": [[m.price_str(p), m.qty_str(q)] for p, q in asks],
    }


def push_periodic(venue: Venue, conn: Conn, streams: list[str], kline_all: bool) -> None:
    """Queue the current event of each periodic stream (klines other than ``1s`` only when
    ``kline_all``), a closed kline first when its interval rolled over since the last push."""
    now = venue.now_ms()
    for stream in streams:
        low_id, _, kind = stream.partition("@")
        if kind in ("ticker", "miniTicker"):
            conn.push_stream(stream, dumps(ticker_event(venue, stream)))
        elif kind.startswith("kline_"):
            interval = kind[len("kline_") :]
            if interval != "1s" and not kline_all:
                continue
            m = venue.engine.markets[low_id.upper()]
            width = INTERVALS_MS[interval]
            candles = venue.engine.books[m.id].candles.series(width, None, now, limit=2)
            if not candles:
                continue
            sent = conn.state.setdefault("kline_open", {})
            current = candles[-1]
            previous = sent.get(stream)
            if previous is not None and previous < current.open_ms and len(candles) == 2:
                closed = candles[0]
                conn.push_stream(stream, dumps(kline_event(m, closed, interval, width, True, now)))
            sent[stream] = current.open_ms
            conn.push_stream(stream, dumps(kline_event(m, current, interval, width, False, now)))
        else:
            parsed = partial_depth(kind)
            if parsed is not None:
                event = partial_depth_event(venue, low_id.upper(), parsed[0])
                conn.push_stream(stream, dumps(event))


async def _periodic_sender(venue: Venue, conn: Conn) -> None:
    """Push ``conn``'s periodic streams once per ``TICKER_INTERVAL_S`` (klines other than
    ``1s`` every other time).

    Per connection rather than venue-wide, so a venue without such subscribers does no work
    and the streams end with their connection (drops and stalls apply as to any frame).
    """
    beat = 0
    while True:
        await trio.sleep(TICKER_INTERVAL_S)
        beat += 1
        streams = _periodic(conn)
        if streams:
            push_periodic(venue, conn, streams, kline_all=beat % 2 == 0)
