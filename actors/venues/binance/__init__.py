"""The Binance spot protocol of the embedded venue: REST ``/api/v3``, market streams on ``/ws``
and ``/stream``, the websocket API on ``/ws-api/v3``, listen-key user streams.

One file per role: ``rest`` (routes), ``streams`` (market and listen-key sockets), ``wsapi``
(websocket API), ``orders`` (order entry and shapes), ``market_data`` (public shapes),
``events`` (user-data events), ``userdata`` (listen keys), ``auth``, ``errors``,
``ratelimit``, ``filters`` (exchangeInfo), ``client`` (ccxt options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from actors.venues.binance.events import UserStreams, account_position, execution_report
from actors.venues.binance.market_data import agg_json, book_ticker_json, trade_event
from actors.venues.binance.orders import OrderService
from actors.venues.binance.ratelimit import RateLimiter
from actors.venues.binance.streams import market_endpoint, partial_depth_event
from actors.venues.binance.userdata import ListenKeys
from actors.venues.binance.wsapi import wsapi_endpoint
from actors.venues.engine import same_price_runs
from actors.venues.hub import Conn
from actors.venues.protocol import VenueProtocol

if TYPE_CHECKING:
    from actors.venues.accounts import Account
    from actors.venues.engine import Book, DepthDiff, Fill, Order
    from actors.venues.rules import Market
    from actors.venues.server import Venue

MALFORMED = {
    "truncated": '{"e":"depthUpdate","E":',
    "garbage": "\x00not json at all",
    "wrong_types": '{"e":"depthUpdate","E":"x","s":"???","U":"a","u":null,"b":7,"a":{}}',
}


class BinanceProtocol(VenueProtocol):
    """Binance spot on the shared venue core."""

    name = "binance"

    def __init__(self, venue: Venue) -> None:
        super().__init__(venue)
        cfg = venue.config
        self.ratelimiter = RateLimiter(
            cfg.weight_limit_1m,
            cfg.order_limit_10s,
            clock=trio.current_time,
            now_ms=venue.now_ms,
            ban_after_429s=cfg.ban_after_429s,
            ban_seconds=cfg.ban_seconds,
            faults=venue.faults,
        )
        self.orders = OrderService(self)
        self.user_streams = UserStreams()
        self.listen_keys = ListenKeys()

    def routes(self) -> list[BaseRoute]:
        """REST, market streams, ws-api."""
        from actors.venues.binance import rest

        async def market_ws(websocket: WebSocket) -> None:
            await market_endpoint(self, websocket)

        async def wsapi_ws(websocket: WebSocket) -> None:
            await wsapi_endpoint(self, websocket)

        return [
            *rest.routes(self),
            WebSocketRoute("/ws-api/v3", wsapi_ws),
            WebSocketRoute("/ws", market_ws),
            WebSocketRoute("/ws/{rest:path}", market_ws),
            WebSocketRoute("/stream", market_ws),
        ]

    # -- engine events --------------------------------------------------------------------------

    def on_trade(self, fill: Fill) -> None:
        """``<symbol>@trade``."""
        m = self.venue.engine.markets[fill.symbol]
        stream = m.id.lower() + "@trade"
        hub = self.venue.hub
        if hub.has_subscribers(stream):
            hub.publish(stream, trade_event(m, fill))

    def on_match_done(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        """``<symbol>@aggTrade``: one event per run of fills at one price."""
        m = book.market
        stream = m.id.lower() + "@aggTrade"
        hub = self.venue.hub
        if hub.has_subscribers(stream):
            now = self.venue.now_ms()
            for group in same_price_runs(fills):
                hub.publish(stream, agg_json(m, group, stream=True, now_ms=now))

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """``executionReport`` to the account's user streams."""
        if exec_type == "AMENDED" or not self.user_streams.conns:
            return
        m = self.venue.engine.markets[order.symbol]
        assert order.account is not None
        self.user_streams.push(
            order.account, execution_report(self.venue, m, order, exec_type, fill)
        )

    def on_top_change(self, book: Book) -> None:
        """``<symbol>@bookTicker``."""
        stream = book.market.id.lower() + "@bookTicker"
        if self.venue.hub.has_subscribers(stream):
            self.venue.hub.publish(
                stream, book_ticker_json(self.venue, book.market.id, with_update_id=True)
            )

    def on_balances(self, account: Account, assets: list[str]) -> None:
        """``outboundAccountPosition``."""
        if self.user_streams.conns:
            self.user_streams.push(account.api_key, account_position(self.venue, account, assets))

    def publish_depth(self, m: Market, diff: DepthDiff | None, now_ms: int) -> bool:
        """``depthUpdate`` diffs each tick; partial books (``depth<N>@100ms``) too."""
        hub = self.venue.hub
        low = m.id.lower()
        for levels in (5, 10, 20):
            stream = f"{low}@depth{levels}@100ms"
            if hub.has_subscribers(stream):
                hub.publish(stream, partial_depth_event(self.venue, m.id, levels))
        if diff is None:
            return False
        names = [n for n in (low + "@depth@100ms", low + "@depth") if hub.has_subscribers(n)]
        if not names:
            return False
        ps, qs = m.price_str, m.qty_str
        payload = {
            "e": "depthUpdate",
            "E": now_ms,
            "s": m.id,
            "U": diff.first,
            "u": diff.last,
            "b": [[ps(p), qs(q)] for p, q in sorted(diff.bids, reverse=True)],
            "a": [[ps(p), qs(q)] for p, q in sorted(diff.asks)],
        }
        for n in names:
            hub.publish(n, payload)
        return True

    def malformed_frame(self, kind: str) -> str:
        """A broken ``depthUpdate``."""
        return MALFORMED[kind]

    def forget(self, conn: Conn) -> None:
        """Stop delivering user events on a closed connection."""
        self.user_streams.discard(conn)

    def close_listen_key(self, key: str) -> None:
        """Close the sockets of a deleted listen key."""
        for conn in list(self.user_streams.conns):
            if conn.state.get("listen_key") == key:
                conn.scope.cancel()


__all__ = ["BinanceProtocol"]
