"""The venue: engine + accounts + synthetic market + faults, served by hypercorn's trio worker.

One ``Venue`` speaks one protocol (``VenueConfig.protocol``): the shared core here settles
fills, releases funds and keeps the books; the protocol object (``binance/``, ``okx/``) owns
the routes and the wire formats and is told about every engine event.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

from actors.venues import control
from actors.venues.accounts import Account, Accounts
from actors.venues.config import VenueConfig, check_rate
from actors.venues.engine import MARKET, Book, Engine, Fill, Order
from actors.venues.faults import Faults
from actors.venues.hub import Hub
from actors.venues.order_entry import OrderEntry
from actors.venues.protocol import VenueProtocol, make_protocol
from actors.venues.rules import Market
from actors.venues.synthetic import FairValueModel, SyntheticMarket, ticks
from actors.venues.tls import SelfSignedCertificate

_EIGHT = Decimal("0.00000001")


DepthObserver = Callable[[str, int, float], None]
"""``(market_id, last_update_id, perf_counter)``: a book update was handed to subscribers."""
OrderObserver = Callable[[str, str | None, float], None]
"""``(api_key, client_order_id or None, perf_counter)``: an order request reached the venue."""


class AddressInUse(OSError):
    """The venue's port is taken (by another process or another venue)."""


@dataclass(slots=True, frozen=True)
class UserFill:
    """One fill of an account's order, as every protocol's trade history renders it."""

    seq: int
    """Venue-wide sequence of account fills (OKX's ``billId``)."""
    fill: Fill
    order: Order
    fee: Decimal
    fee_asset: str

    @property
    def is_maker(self) -> bool:
        """Whether ``order`` was the resting side."""
        return self.fill.maker is self.order


class Venue:
    """Handle on one running (or ready-to-run) simulated venue.

    Example::

        async with open_venue(VenueConfig(symbols=("BTC/USDT",))) as venue:
            print(venue.url, venue.book("BTC/USDT")["lastUpdateId"])
            venue.faults.drop_websockets()

    Observer hooks (for measurements such as ``bench/tick_to_order.py``; ``None`` by default,
    called synchronously on the venue's trio thread, so they must be quick and must not raise)::

        venue.on_depth_published = lambda market_id, update_id, t: ...
        venue.on_order_received = lambda api_key, client_order_id, t: ...

    ``t`` is ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, comparable across processes).
    ``on_depth_published`` fires once per book update queued to at least one subscribed
    connection, right after it was queued; ``on_order_received`` fires when an order request
    (REST or websocket) enters order entry, before any validation, also for orders that are
    then rejected.
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
        self._epoch_offset: float | None = None
        self.engine = Engine(self.markets, self.now_ms, self)
        self.accounts = Accounts()
        assert config.api_key and config.secret is not None
        self.accounts.add(
            Account(config.api_key, config.secret, config.balances, config.passphrase or "")
        )
        self.hub = Hub()
        self.faults = Faults(self)
        self.entry = OrderEntry(self)
        self.user_fills: dict[str, list[UserFill]] = {}
        self._fill_seq = 0
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
        self.certificate: SelfSignedCertificate | None = None
        self._listen_scope: trio.CancelScope | None = None
        self._tcp_scopes: set[trio.CancelScope] = set()
        self.on_depth_published: DepthObserver | None = None
        """Observer of emitted book updates (see the class docstring)."""
        self.on_order_received: OrderObserver | None = None
        """Observer of incoming order requests (see the class docstring)."""
        self.protocol: VenueProtocol = make_protocol(self)
        self.orders = self.protocol.orders
        """The protocol's order service (Binance: ``place(account, {"symbol": ...})``)."""

    # -- time ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Server time in epoch ms, driven by trio's clock (plus any injected skew)."""
        if self._epoch_offset is None:
            self._epoch_offset = time.time() - trio.current_time()
        return int((trio.current_time() + self._epoch_offset) * 1000) + self.faults.clock_skew_ms

    # -- handle API -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (``https://`` with ``tls``)."""
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def control_token(self) -> str:
        """The token ``/_sim`` control requests must carry."""
        assert self.config.control_token is not None
        return self.config.control_token

    def market_of(self, symbol: str) -> Market:
        """Market by unified symbol (``BTC/USDT``) or internal id (``BTCUSDT``)."""
        return self._by_symbol[symbol]

    def book(self, symbol: str, limit: int = 5000) -> dict[str, Any]:
        """The venue's own book: floats as ccxt parses them, plus update ids.

        ``lastUpdateId`` counts every change; ``publishedUpdateId`` is the id of the last
        update sent (Binance's ``u``, OKX's ``seqId``), so a client is in sync when its nonce
        equals it and nothing is pending.
        """
        m = self.market_of(symbol)
        last, bids, asks = self.engine.books[m.id].snapshot(limit)
        return {
            "symbol": m.symbol,
            "lastUpdateId": last,
            "publishedUpdateId": self.last_published[m.id],
            "bids": [[float(m.price_dec(p)), float(m.qty_dec(q))] for p, q in bids],
            "asks": [[float(m.price_dec(p)), float(m.qty_dec(q))] for p, q in asks],
        }

    def account(self, api_key: str | None = None) -> Account:
        """The demo account (or the one of ``api_key``)."""
        account = self.accounts.find(api_key or self.config.api_key)
        if account is None:
            raise KeyError(f"no account with API key {api_key!r}")
        return account

    def pause_market(self) -> None:
        """Stop the synthetic participants (the book goes quiet)."""
        self.market.paused = True

    def resume_market(self) -> None:
        """Restart the synthetic participants."""
        self.market.paused = False

    def set_rate(self, rate_hz: float) -> None:
        """Change the synthetic event rate (events per second per symbol, bounded)."""
        self.market.rate_hz = check_rate(rate_hz)

    def status(self) -> dict[str, Any]:
        """A summary for the control endpoint."""
        return {
            "name": self.config.name,
            "protocol": self.config.protocol,
            "url": self.url,
            "symbols": [m.symbol for m in self.markets],
            "rate_hz": self.market.rate_hz,
            "paused": self.market.paused,
            "market_events": self.market.events,
            "depth_events": self.depth_events,
            "connections": len(self.hub.conns),
            "update_ids": {m.id: self.engine.books[m.id].update_id for m in self.markets},
            "faults": self.faults.state(),
            "order_requests": dict(sorted(self.entry.requests.items())),
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
        """Settle accounts on either side, then let the protocol publish the trade."""
        m = self.engine.markets[fill.symbol]
        for order in (fill.maker, fill.taker):
            if order.account is not None:
                self._settle(m, fill, order)
        self.protocol.on_trade(fill)

    def _settle(self, m: Market, fill: Fill, order: Order) -> None:
        assert order.account is not None
        acct = self.accounts.by_key[order.account]
        qty = m.qty_dec(fill.qty)
        notional = m.notional_dec(fill.qty * fill.price)
        fee, fee_asset = self.commission(fill, order)
        order.fee += fee
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
        self._fill_seq += 1
        self.user_fills.setdefault(order.account, []).append(
            UserFill(self._fill_seq, fill, order, fee, fee_asset)
        )

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """Release funds of finished orders, then let the protocol push the account event."""
        assert order.account is not None
        m = self.engine.markets[order.symbol]
        if (
            exec_type in ("CANCELED", "EXPIRED", "TRADE_PREVENTION")
            and order.type != MARKET
            and order.remaining
        ):
            acct = self.accounts.by_key[order.account]
            if order.is_buy:
                acct.unlock(m.quote, m.notional_dec(order.price * order.remaining))
            else:
                acct.unlock(m.base, m.qty_dec(order.remaining))
        self._dirty_assets.setdefault(order.account, set()).update((m.base, m.quote))
        self.protocol.on_order_event(order, exec_type, fill)

    def on_match_done(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        """Let the protocol publish aggregated trades."""
        self.protocol.on_match_done(book, taker, fills)

    def on_top_change(self, book: Book) -> None:
        """Let the protocol publish the new best bid/ask."""
        self.protocol.on_top_change(book)

    def flush_user_events(self) -> None:
        """Tell the protocol once per account whose balances changed since the last flush."""
        dirty = self._dirty_assets
        if not dirty:
            return
        self._dirty_assets = {}
        for api_key, assets in dirty.items():
            self.protocol.on_balances(self.accounts.by_key[api_key], sorted(assets))

    # -- depth ----------------------------------------------------------------------------------

    def publish_depth(self) -> None:
        """One depth tick: every book's changes since the last tick go to the protocol."""
        now = self.now_ms()
        observer = self.on_depth_published
        for m in self.markets:
            diff = self.engine.books[m.id].drain_diff()
            if diff is not None:
                self.last_published[m.id] = diff.last
                self.depth_events += 1
            if self.protocol.publish_depth(m, diff, now) and diff is not None and observer:
                observer(m.id, diff.last, time.perf_counter())

    async def _depth_loop(self) -> None:
        async for _ in ticks(self.config.depth_interval_s):
            self.publish_depth()

    async def _market_loop(self) -> None:
        async for _ in ticks(self.model.step_s):
            await self.market.run_step_chunked()
            self.flush_user_events()

    # -- serving --------------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI app: the protocol's REST and websocket routes plus ``/_sim`` control."""
        return Starlette(routes=[*self.protocol.routes(), *control.routes(self)])

    def stop_listening(self) -> None:
        """Close the listening socket and every TCP connection (refuse-connections fault)."""
        if self._listen_scope is not None:
            self._listen_scope.cancel()
        for scope in list(self._tcp_scopes):
            scope.cancel()

    async def _handle_tcp(
        self,
        app: Any,
        hconfig: HypercornConfig,
        context: WorkerContext,
        tls: ssl.SSLContext | None,
        stream: trio.SocketStream,
    ) -> None:
        wrapped: Any = stream
        if tls is not None:
            wrapped = trio.SSLStream(stream, tls, server_side=True)
        with trio.CancelScope() as scope:
            self._tcp_scopes.add(scope)
            try:
                await TCPServer(app, hconfig, context, ConnectionState({}), wrapped)
            finally:
                self._tcp_scopes.discard(scope)
        await stream.aclose()

    async def _bind(self) -> trio.socket.SocketType:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        host = "127.0.0.1" if self.host == "localhost" else self.host
        try:
            await sock.bind((host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(
                    exc.errno, f"cannot listen on {host}:{self.port}: address already in use"
                ) from None
            raise
        sock.listen(256)
        return sock

    async def _listen_loop(
        self,
        app: Any,
        hconfig: HypercornConfig,
        tls: ssl.SSLContext | None,
        *,
        task_status: trio.TaskStatus[int],
    ) -> None:
        context = WorkerContext(None)
        started = False
        async with trio.open_nursery() as conns:
            while True:
                sock = await self._bind()
                self.port = sock.getsockname()[1]
                listener = trio.SocketListener(sock)
                try:
                    if not started:
                        started = True
                        task_status.started(self.port)
                    with trio.CancelScope() as scope:
                        self._listen_scope = scope
                        await trio.serve_listeners(
                            partial(self._handle_tcp, app, hconfig, context, tls),
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
        tls: ssl.SSLContext | None = None
        if cfg.tls:
            self.certificate = SelfSignedCertificate.generate()
            tls = self.certificate.server_context()
        self.now_ms()
        self.faults.apply_startup(cfg.faults)
        try:
            async with trio.open_nursery() as nursery:
                if cfg.market:
                    self.market.seed_books()
                    # the seeded book is the starting snapshot, not a diff anyone must see
                    for book in self.engine.books.values():
                        book.drain_diff()
                        self.last_published[book.market.id] = book.update_id
                    nursery.start_soon(self._market_loop)
                nursery.start_soon(self._depth_loop)
                await nursery.start(self._listen_loop, app, hconfig, tls)
                control.register(self)
                if cfg.faults.refuse_connections_s:
                    self.faults.refuse_connections(cfg.faults.refuse_connections_s)
                task_status.started(self)
        finally:
            control.unregister(self)
            if self.certificate is not None:
                self.certificate.remove()


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
