"""The venue: engine + accounts + streams + faults served by hypercorn's trio worker."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from actors.venues import rest
from actors.venues.accounts import Account, Accounts
from actors.venues.config import VenueConfig
from actors.venues.engine import MARKET, Book, Engine, Fill, Order
from actors.venues.faults import Faults
from actors.venues.filters import Market
from actors.venues.market import FairValueModel, SyntheticMarket, ticks
from actors.venues.orders import OrderService
from actors.venues.ratelimit import RateLimiter
from actors.venues.streams import Conn, Hub, dumps, market_endpoint
from actors.venues.wsapi import wsapi_endpoint

_EIGHT = Decimal("0.00000001")


DepthObserver = Callable[[str, int, float], None]
"""``(market_id, last_update_id, perf_counter)``: a ``depthUpdate`` was handed to subscribers."""
OrderObserver = Callable[[str, str | None, float], None]
"""``(api_key, client_order_id or None, perf_counter)``: an order request reached the venue."""


class Venue:
    """Handle on one running (or ready-to-run) simulated Binance-spot venue.

    Example::

        async with open_venue(VenueConfig(symbols=("BTC/USDT",))) as venue:
            print(venue.url, venue.book("BTC/USDT")["lastUpdateId"])
            venue.faults.drop_websockets()

    Observer hooks (for measurements such as ``bench/tick_to_order.py``; ``None`` by default,
    called synchronously on the venue's trio thread, so they must be quick and must not raise)::

        venue.on_depth_published = lambda market_id, update_id, t: ...
        venue.on_order_received = lambda api_key, client_order_id, t: ...

    ``t`` is ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, comparable across processes).
    ``on_depth_published`` fires once per ``depthUpdate`` event queued to at least one
    subscribed connection, right after it was queued; ``on_order_received`` fires when an order
    request (REST or ws-api) enters order entry, before any validation, also for orders that
    are then rejected.
    """

    def __init__(
        self, config: VenueConfig, *, model: FairValueModel | None = None, venue_index: int = 0
    ) -> None:
        self.config = config
        self.host = config.host
        self.port: int = config.port
        specs = config.specs()
        self.markets = [Market(s) for s in specs]
        self._by_symbol = {m.symbol: m for m in self.markets} | {m.id: m for m in self.markets}
        self.lower_ids = {m.id.lower() for m in self.markets}
        self._epoch_offset: float | None = None
        self.engine = Engine(self.markets, self.now_ms, self)
        self.accounts = Accounts()
        self.accounts.add(Account(config.api_key, config.secret, config.balances))
        self.hub = Hub()
        self.faults = Faults(self)
        self.ratelimiter = RateLimiter(
            config.weight_limit_1m,
            config.order_limit_10s,
            clock=trio.current_time,
            now_ms=self.now_ms,
            ban_after_429s=config.ban_after_429s,
            ban_seconds=config.ban_seconds,
        )
        self.orders = OrderService(self)
        self.user_trades: dict[str, list[dict[str, Any]]] = {}
        self.user_conns: set[Conn] = set()
        self.next_subscription_id = -1
        self._dirty_assets: dict[str, set[str]] = {}
        self.model = model or FairValueModel(config.seed, specs, 1)
        self.market = SyntheticMarket(
            self.engine,
            specs,
            self.model,
            venue_index,
            config.seed,
            config.rate_hz,
            config.max_resting_per_side,
        )
        self.last_published: dict[str, int] = {m.id: 0 for m in self.markets}
        self.depth_events = 0
        self._listen_scope: trio.CancelScope | None = None
        self._tcp_scopes: set[trio.CancelScope] = set()
        self.on_depth_published: DepthObserver | None = None
        """Observer of emitted depth updates (see the class docstring)."""
        self.on_order_received: OrderObserver | None = None
        """Observer of incoming order requests (see the class docstring)."""

    # -- time ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Server time in epoch ms, driven by trio's clock (plus any injected skew)."""
        if self._epoch_offset is None:
            self._epoch_offset = time.time() - trio.current_time()
        return int((trio.current_time() + self._epoch_offset) * 1000) + self.faults.clock_skew_ms

    # -- handle API -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def market_of(self, symbol: str) -> Market:
        """Market by unified symbol (``BTC/USDT``) or id (``BTCUSDT``)."""
        return self._by_symbol[symbol]

    def book(self, symbol: str, limit: int = 5000) -> dict[str, Any]:
        """The venue's own book: floats as ccxt parses them, plus update ids.

        ``lastUpdateId`` counts every change; ``publishedUpdateId`` is the ``u`` of the last
        diff sent, so a client is in sync when its nonce equals it and nothing is pending.
        """
        m = self.market_of(symbol)
        last, bids, asks = self.engine.books[m.id].snapshot(limit)
        return {
            "symbol": m.symbol,
            "lastUpdateId": last,
            "publishedUpdateId": self.last_published[m.id],
            "bids": [[float(m.price_str(p)), float(m.qty_str(q))] for p, q in bids],
            "asks": [[float(m.price_str(p)), float(m.qty_str(q))] for p, q in asks],
        }

    def account(self, api_key: str | None = None) -> Account:
        """The demo account (or the one of ``api_key``)."""
        return self.accounts.get(api_key or self.config.api_key)

    def pause_market(self) -> None:
        """Stop the synthetic participants (the book goes quiet)."""
        self.market.paused = True

    def resume_market(self) -> None:
        """Restart the synthetic participants."""
        self.market.paused = False

    def set_rate(self, rate_hz: float) -> None:
        """Change the synthetic event rate (book events per second per symbol)."""
        self.market.rate_hz = max(0.0, rate_hz)

    def status(self) -> dict[str, Any]:
        """A summary for the control endpoint."""
        return {
            "name": self.config.name,
            "url": self.url,
            "symbols": [m.symbol for m in self.markets],
            "rate_hz": self.market.rate_hz,
            "paused": self.market.paused,
            "market_events": self.market.events,
            "depth_events": self.depth_events,
            "connections": len(self.hub.conns),
            "update_ids": {m.id: self.engine.books[m.id].update_id for m in self.markets},
            "faults": self.faults.state(),
        }

    # -- engine listener ------------------------------------------------------------------------

    def commission(self, fill: Fill, order: Order) -> tuple[Decimal, str]:
        """(amount, asset) charged to ``order``'s side of ``fill``, in the asset received."""
        m = self.engine.markets[fill.symbol]
        rate = self.config.maker_fee if fill.maker is order else self.config.taker_fee
        if order.is_buy:
            return (m.qty_dec(fill.qty) * rate).quantize(_EIGHT), m.base
        return (m.notional_dec(fill.qty * fill.price) * rate).quantize(_EIGHT), m.quote

    def on_fill(self, fill: Fill) -> None:
        """Publish the trade and settle accounts on either side."""
        m = self.engine.markets[fill.symbol]
        stream = m.id.lower() + "@trade"
        if self.hub.has_subscribers(stream):
            self.hub.publish(
                stream,
                {
                    "e": "trade",
                    "E": fill.time_ms,
                    "s": m.id,
                    "t": fill.trade_id,
                    "p": m.price_str(fill.price),
                    "q": m.qty_str(fill.qty),
                    "T": fill.time_ms,
                    "m": fill.buyer_is_maker,
                    "M": True,
                },
            )
        for order in (fill.maker, fill.taker):
            if order.account is not None:
                self._settle(m, fill, order)

    def _settle(self, m: Market, fill: Fill, order: Order) -> None:
        assert order.account is not None
        acct = self.accounts.by_key[order.account]
        qty = m.qty_dec(fill.qty)
        notional = m.notional_dec(fill.qty * fill.price)
        fee, fee_asset = self.commission(fill, order)
        if order.is_buy:
            if order.type == MARKET:
                acct.spend_free(m.quote, notional)
            else:
                acct.spend_locked(m.quote, notional)
                # the lock was at the limit price; a better fill frees the difference
                acct.unlock(m.quote, m.notional_dec((order.price - fill.price) * fill.qty))
            acct.credit(m.base, qty - fee)
        else:
            if order.type == MARKET:
                acct.spend_free(m.base, qty)
            else:
                acct.spend_locked(m.base, qty)
            acct.credit(m.quote, notional - fee)
        acct.update_ms = fill.time_ms
        self._dirty_assets.setdefault(order.account, set()).update((m.base, m.quote))
        self.user_trades.setdefault(order.account, []).append(
            {
                "symbol": m.id,
                "id": fill.trade_id,
                "orderId": order.order_id,
                "orderListId": -1,
                "price": m.price_str(fill.price),
                "qty": m.qty_str(fill.qty),
                "quoteQty": m.notional_str(fill.qty * fill.price),
                "commission": f"{fee:.8f}",
                "commissionAsset": fee_asset,
                "time": fill.time_ms,
                "isBuyer": order.is_buy,
                "isMaker": fill.maker is order,
                "isBestMatch": True,
            }
        )

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """Release funds of finished orders and push ``executionReport`` to the account."""
        assert order.account is not None
        m = self.engine.markets[order.symbol]
        if exec_type in ("CANCELED", "EXPIRED") and order.type != MARKET and order.remaining:
            acct = self.accounts.by_key[order.account]
            if order.is_buy:
                acct.unlock(m.quote, m.notional_dec(order.price * order.remaining))
            else:
                acct.unlock(m.base, m.qty_dec(order.remaining))
        self._dirty_assets.setdefault(order.account, set()).update((m.base, m.quote))
        if not self.user_conns:
            return
        event = self._execution_report(m, order, exec_type, fill)
        self._push_user(order.account, event)

    def _execution_report(
        self, m: Market, o: Order, exec_type: str, fill: Fill | None
    ) -> dict[str, Any]:
        now = self.now_ms()
        if fill is not None:
            fee, fee_asset = self.commission(fill, o)
            last_qty, last_px = m.qty_str(fill.qty), m.price_str(fill.price)
            last_quote = m.notional_str(fill.qty * fill.price)
            commission: str = f"{fee:.8f}"
            commission_asset: str | None = fee_asset
            trade_id = fill.trade_id
            is_maker = fill.maker is o
        else:
            last_qty = last_px = last_quote = commission = "0.00000000"
            commission_asset = None
            trade_id = -1
            is_maker = False
        return {
            "e": "executionReport",
            "E": now,
            "s": o.symbol,
            "c": o.client_id,
            "S": o.side,
            "o": o.type,
            "f": o.tif,
            "q": m.qty_str(o.qty),
            "p": m.price_str(o.price),
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": o.client_id if exec_type == "CANCELED" else "",
            "x": exec_type,
            "X": o.status,
            "r": "NONE",
            "i": o.order_id,
            "l": last_qty,
            "z": m.qty_str(o.executed),
            "L": last_px,
            "n": commission,
            "N": commission_asset,
            "T": o.update_ms,
            "t": trade_id,
            "I": 0,
            "w": o.working,
            "m": is_maker,
            "M": False,
            "O": o.time_ms,
            "Z": m.notional_str(o.cum_quote),
            "Y": last_quote,
            "Q": m.notional_str(o.quote_qty),
            "W": o.time_ms,
            "V": "NONE",
        }

    def _push_user(self, api_key: str, event: dict[str, Any]) -> None:
        for conn in self.user_conns:
            if conn.account is not None and conn.account.api_key == api_key:
                conn.push(dumps({"subscriptionId": conn.user_subscription_id, "event": event}))

    def flush_user_events(self) -> None:
        """Send one ``outboundAccountPosition`` per account whose balances changed."""
        dirty = self._dirty_assets
        if not dirty:
            return
        self._dirty_assets = {}
        if not self.user_conns:
            return
        now = self.now_ms()
        for api_key, assets in dirty.items():
            acct = self.accounts.by_key[api_key]
            self._push_user(
                api_key,
                {
                    "e": "outboundAccountPosition",
                    "E": now,
                    "u": acct.update_ms or now,
                    "B": acct.position_entries(sorted(assets)),
                },
            )

    def on_top_change(self, book: Book) -> None:
        """Publish ``bookTicker`` when the best bid or ask changes."""
        m = book.market
        stream = m.id.lower() + "@bookTicker"
        if not self.hub.has_subscribers(stream):
            return
        self.hub.publish(stream, self.book_ticker_json(m.id, with_update_id=True))

    def book_ticker_json(self, market_id: str, with_update_id: bool = False) -> dict[str, Any]:
        """``bookTicker`` body (REST shape; stream shape when ``with_update_id``)."""
        m = self.engine.markets[market_id]
        book = self.engine.books[market_id]
        bp, bq, ap, aq = book.top()
        if with_update_id:
            return {
                "u": book.update_id,
                "s": m.id,
                "b": m.price_str(bp),
                "B": m.qty_str(bq),
                "a": m.price_str(ap),
                "A": m.qty_str(aq),
            }
        return {
            "symbol": m.id,
            "bidPrice": m.price_str(bp),
            "bidQty": m.qty_str(bq),
            "askPrice": m.price_str(ap),
            "askQty": m.qty_str(aq),
        }

    def ticker_json(self, market_id: str) -> dict[str, Any]:
        """``/api/v3/ticker/24hr`` body of one symbol (window: since the venue started)."""
        m = self.engine.markets[market_id]
        book = self.engine.books[market_id]
        st = book.stats
        bp, bq, ap, aq = book.top()
        last = st.last or (bp + ap) // 2
        open_ = st.open or last
        change = last - open_
        pct = Decimal(change * 100) / Decimal(open_) if open_ else Decimal(0)
        vwap = st.quote_volume // st.volume if st.volume else last
        now = self.now_ms()
        return {
            "symbol": m.id,
            "priceChange": m.price_str(change),
            "priceChangePercent": f"{pct:.3f}",
            "weightedAvgPrice": m.price_str(vwap),
            "prevClosePrice": m.price_str(open_),
            "lastPrice": m.price_str(last),
            "lastQty": m.qty_str(st.last_qty),
            "bidPrice": m.price_str(bp),
            "bidQty": m.qty_str(bq),
            "askPrice": m.price_str(ap),
            "askQty": m.qty_str(aq),
            "openPrice": m.price_str(open_),
            "highPrice": m.price_str(st.high or last),
            "lowPrice": m.price_str(st.low or last),
            "volume": m.qty_str(st.volume),
            "quoteVolume": m.notional_str(st.quote_volume),
            "openTime": st.open_ms or now,
            "closeTime": now,
            "firstId": st.first_id,
            "lastId": st.last_id,
            "count": st.count,
        }

    # -- depth ----------------------------------------------------------------------------------

    def publish_depth(self) -> None:
        """Emit one aggregated ``depthUpdate`` per symbol whose book changed since the last one."""
        now = self.now_ms()
        hub = self.hub
        for m in self.markets:
            diff = self.engine.books[m.id].drain_diff()
            if diff is None:
                continue
            self.last_published[m.id] = diff.last
            self.depth_events += 1
            low = m.id.lower()
            names = [n for n in (low + "@depth@100ms", low + "@depth") if hub.has_subscribers(n)]
            if not names:
                continue
            ps, qs = m.price_str, m.qty_str
            payload = {
                "e": "depthUpdate",
                "E": now,
                "s": m.id,
                "U": diff.first,
                "u": diff.last,
                "b": [[ps(p), qs(q)] for p, q in sorted(diff.bids, reverse=True)],
                "a": [[ps(p), qs(q)] for p, q in sorted(diff.asks)],
            }
            for n in names:
                hub.publish(n, payload)
            observer = self.on_depth_published
            if observer is not None:
                observer(m.id, diff.last, time.perf_counter())

    async def _depth_loop(self) -> None:
        async for _ in ticks(self.config.depth_interval_s):
            self.publish_depth()

    async def _market_loop(self) -> None:
        async for _ in ticks(self.model.step_s):
            self.market.run_step()
            self.flush_user_events()

    # -- serving --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI app: REST, market streams, ws-api and ``/_sim`` control routes."""

        async def market_ws(websocket: WebSocket) -> None:
            await market_endpoint(self, websocket)

        async def wsapi_ws(websocket: WebSocket) -> None:
            await wsapi_endpoint(self, websocket)

        routes: list[Any] = rest.routes(self)
        routes += [
            WebSocketRoute("/ws-api/v3", wsapi_ws),
            WebSocketRoute("/ws", market_ws),
            WebSocketRoute("/ws/{rest:path}", market_ws),
            WebSocketRoute("/stream", market_ws),
        ]
        return Starlette(routes=routes)

    def stop_listening(self) -> None:
        """Close the listening socket and every TCP connection (refuse-connections fault)."""
        if self._listen_scope is not None:
            self._listen_scope.cancel()
        for scope in list(self._tcp_scopes):
            scope.cancel()

    async def _handle_tcp(
        self, app: Any, hconfig: HypercornConfig, context: WorkerContext, stream: trio.SocketStream
    ) -> None:
        with trio.CancelScope() as scope:
            self._tcp_scopes.add(scope)
            try:
                await TCPServer(app, hconfig, context, ConnectionState({}), stream)  # type: ignore[arg-type]
            finally:
                self._tcp_scopes.discard(scope)
        await stream.aclose()

    async def _listen_loop(
        self, app: Any, hconfig: HypercornConfig, *, task_status: trio.TaskStatus[int]
    ) -> None:
        context = WorkerContext(None)
        started = False
        async with trio.open_nursery() as conns:
            while True:
                sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                await sock.bind((self.host, self.port))
                sock.listen(256)
                self.port = sock.getsockname()[1]
                listener = trio.SocketListener(sock)
                try:
                    if not started:
                        started = True
                        task_status.started(self.port)
                    with trio.CancelScope() as scope:
                        self._listen_scope = scope
                        await trio.serve_listeners(
                            partial(self._handle_tcp, app, hconfig, context),
                            [listener],
                            handler_nursery=conns,
                        )
                finally:
                    self._listen_scope = None
                    await listener.aclose()
                # refused: nothing listens until the fault's deadline (it may be extended)
                while (until := self.faults.refuse_until) > trio.current_time():  # noqa: ASYNC110
                    await trio.sleep_until(until)

    async def run(self, *, task_status: trio.TaskStatus[Venue] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports this handle once the port is bound."""
        cfg = self.config
        hconfig = HypercornConfig()
        hconfig.websocket_ping_interval = cfg.ping_interval_s
        hconfig.accesslog = None
        hconfig.keep_alive_timeout = 75.0
        app = wrap_app(self.app(), hconfig.wsgi_max_body_size, "asgi")
        self.now_ms()
        sf = cfg.faults
        self.faults.latency_s = sf.latency_s
        self.faults.clock_skew_ms = sf.clock_skew_ms
        if sf.rate_limit_next:
            self.faults.rate_limit_next(sf.rate_limit_next)
        if sf.stall_streams_s:
            self.faults.stall_streams(sf.stall_streams_s)
        async with trio.open_nursery() as nursery:
            if cfg.market:
                self.market.seed_books()
                # the seeded book is the starting snapshot, not a diff anyone must see
                for book in self.engine.books.values():
                    book.drain_diff()
                    self.last_published[book.market.id] = book.update_id
                nursery.start_soon(self._market_loop)
            nursery.start_soon(self._depth_loop)
            await nursery.start(self._listen_loop, app, hconfig)
            if sf.refuse_connections_s:
                self.faults.refuse_connections(sf.refuse_connections_s)
            task_status.started(self)


async def serve(
    config: VenueConfig, *, task_status: trio.TaskStatus[Venue] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run one venue until cancelled; ``await nursery.start(serve, cfg)`` returns its ``Venue``.

    Example: ``venue = await nursery.start(serve, VenueConfig(port=0)); print(venue.port)``
    """
    await Venue(config).run(task_status=task_status)


def make_venues(configs: Sequence[VenueConfig]) -> list[Venue]:
    """Venues sharing one correlated fair-value model (seeded by the first config)."""
    if not configs:
        raise ValueError("at least one venue config is required")
    specs: dict[str, Any] = {}
    for c in configs:
        for s in c.specs():
            specs.setdefault(s.symbol, s)
    model = FairValueModel(configs[0].seed, list(specs.values()), venues=len(configs))
    return [Venue(c, model=model, venue_index=i) for i, c in enumerate(configs)]


async def serve_many(
    configs: Sequence[VenueConfig],
    *,
    task_status: trio.TaskStatus[list[Venue]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run several venues (one port each) whose fair values are correlated but drift apart.

    Example: ``a, b = await nursery.start(serve_many, [VenueConfig(name="a"), VenueConfig()])``
    """
    venues = make_venues(configs)
    async with trio.open_nursery() as nursery:
        for v in venues:
            await nursery.start(v.run)
        task_status.started(venues)


@asynccontextmanager
async def open_venue(config: VenueConfig | None = None) -> AsyncIterator[Venue]:
    """Run a venue for the duration of an ``async with`` block.

    Example: ``async with open_venue(VenueConfig(seed=3)) as venue: ...``
    """
    async with trio.open_nursery() as nursery:
        venue = await nursery.start(serve, config or VenueConfig())
        try:
            yield venue
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_venues(configs: Sequence[VenueConfig]) -> AsyncIterator[list[Venue]]:
    """Run several correlated venues for the duration of an ``async with`` block."""
    async with trio.open_nursery() as nursery:
        venues = await nursery.start(serve_many, configs)
        try:
            yield venues
        finally:
            nursery.cancel_scope.cancel()
