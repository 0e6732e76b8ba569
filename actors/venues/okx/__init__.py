"""The OKX v5 spot protocol of the embedded venue: REST ``/api/v5``, public websockets
``/ws/v5/public`` and ``/ws/v5/business``, the private websocket ``/ws/v5/private``.

One file per role: ``rest`` (routes), ``public`` (market-data channels), ``private`` (login,
account channels, order entry over the socket), ``ws`` (what the three sockets share),
``books`` (order-book frames and checksum), ``orders`` (order entry and history),
``shapes`` (data shapes), ``auth``, ``errors``, ``ratelimit``, ``client`` (ccxt options).
Built from ccxt's ``okx.py``/``pro/okx.py`` (what they send and parse) and OKX's v5 docs.
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from typing import TYPE_CHECKING

import trio
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from actors.venues.engine import same_price_runs
from actors.venues.hub import Conn, dumps, refuse_private, serve_conn
from actors.venues.okx import rest
from actors.venues.okx.books import top_frame
from actors.venues.okx.orders import OrderService
from actors.venues.okx.private import PrivateEndpoint, matches, order_push
from actors.venues.okx.public import BusinessEndpoint, PublicEndpoint, books_tick, tickers_frame
from actors.venues.okx.ratelimit import RateLimiter
from actors.venues.okx.shapes import UID, balance_json, trade_json
from actors.venues.okx.ws import Endpoint, new_conn_id, receiver
from actors.venues.protocol import VenueProtocol

if TYPE_CHECKING:
    from actors.venues.accounts import Account
    from actors.venues.engine import Book, DepthDiff, Fill, Order
    from actors.venues.rules import Market
    from actors.venues.server import Venue

MALFORMED = {
    "truncated": '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"upd',
    "garbage": "\x00not json at all",
    "wrong_types": '{"arg":{"channel":"books","instId":"???"},"action":"nonsense","data":7}',
}
INST_ID_CODE_BASE = 10_000


class OkxProtocol(VenueProtocol):
    """OKX v5 spot on the shared venue core."""

    name = "okx"

    def __init__(self, venue: Venue) -> None:
        super().__init__(venue)
        self.by_inst_id: dict[str, Market] = {m.okx_id: m for m in venue.markets}
        self.code_of: dict[str, int] = {
            m.id: INST_ID_CODE_BASE + i for i, m in enumerate(venue.markets)
        }
        self.by_code: dict[int, Market] = {self.code_of[m.id]: m for m in venue.markets}
        # New at every start (like Binance's account uid): a fresh exchange is told apart.
        self.uid = UID + f"{secrets.randbelow(10**8):08d}"
        self.list_ms = int(time.time() * 1000)
        self.ratelimiter = RateLimiter(
            trio.current_time, scale=venue.config.okx_limit_scale, faults=venue.faults
        )
        self.orders = OrderService(self)
        self.private: set[Conn] = set()
        self._dirty_tickers: set[str] = set()

    def routes(self) -> list[BaseRoute]:
        """REST and the three websocket URLs."""
        endpoints: dict[str, Endpoint] = {
            "public": PublicEndpoint(self),
            "business": BusinessEndpoint(self),
            "private": PrivateEndpoint(self),
        }

        async def serve(endpoint: Endpoint, websocket: WebSocket) -> None:
            private = endpoint.name == "private"
            if private and await refuse_private(self.venue, websocket):
                return
            conn = Conn(websocket, f"okx-{endpoint.name}", private=private)
            conn.state["connId"] = new_conn_id()
            await websocket.accept()
            if private:
                self.private.add(conn)
            await serve_conn(self.venue, conn, partial(receiver, endpoint), *endpoint.tasks())

        return [
            *rest.routes(self),
            *(
                WebSocketRoute(f"/ws/v5/{name}", partial(serve, endpoint))
                for name, endpoint in endpoints.items()
            ),
        ]

    # -- engine events --------------------------------------------------------------------------

    def on_match_done(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        """``trades``: fills of one taker at one price aggregated, as OKX does."""
        m = book.market
        self._dirty_tickers.add(m.id)
        hub = self.venue.hub
        stream = f"trades:{m.okx_id}"
        if hub.has_subscribers(stream):
            for group in same_price_runs(fills):
                hub.publish(stream, {"arg": {"channel": "trades", "instId": m.okx_id},
                                     "data": [trade_json(m, group)]})  # fmt: skip

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """``orders`` channel pushes to the order's account."""
        if not self.private:
            return
        m = self.venue.engine.markets[order.symbol]
        data: str | None = None
        for conn in self.private:
            if conn.account is None or conn.account.api_key != order.account:
                continue
            for sub in conn.state.get("orders", ()):
                if matches(sub, order, m.okx_id):
                    data = data or dumps(order_push(self, order, exec_type, fill))
                    arg = dumps({**sub, "uid": self.uid})
                    conn.push(f'{{"arg":{arg},"data":[{data}]}}')
                    break

    def on_top_change(self, book: Book) -> None:
        """``bbo-tbt`` at once; ``tickers`` at the next tick."""
        m = book.market
        self._dirty_tickers.add(m.id)
        stream = f"bbo-tbt:{m.okx_id}"
        if self.venue.hub.has_subscribers(stream):
            self.venue.hub.publish(stream, top_frame(self.venue, m, "bbo-tbt", 1))

    def on_balances(self, account: Account, assets: list[str]) -> None:
        """``account`` channel pushes of the changed currencies."""
        if not self.private:
            return
        now = self.venue.now_ms()
        for conn in self.private:
            if conn.account is None or conn.account.api_key != account.api_key:
                continue
            for sub in conn.state.get("account", ()):
                wanted = [a for a in assets if a == sub.get("ccy", a)]
                if wanted:
                    arg = {**sub, "uid": self.uid}
                    conn.push(dumps({"arg": arg, "data": [balance_json(account, wanted, now)]}))

    def publish_depth(self, m: Market, diff: DepthDiff | None, now_ms: int) -> bool:
        """``books`` updates and snapshots, ``books5``, and changed ``tickers``."""
        venue = self.venue
        sent = books_tick(venue, m, diff, now_ms)
        hub = venue.hub
        if diff is not None and hub.has_subscribers(f"books5:{m.okx_id}"):
            hub.publish(f"books5:{m.okx_id}", top_frame(venue, m, "books5", 5))
        if m.id in self._dirty_tickers:
            self._dirty_tickers.discard(m.id)
            if hub.has_subscribers(f"tickers:{m.okx_id}"):
                hub.publish(f"tickers:{m.okx_id}", tickers_frame(venue, m))
        return sent

    def malformed_frame(self, kind: str) -> str:
        """A broken ``books`` push."""
        return MALFORMED[kind]

    def forget(self, conn: Conn) -> None:
        """A connection closed."""
        self.private.discard(conn)


__all__ = ["OkxProtocol"]
