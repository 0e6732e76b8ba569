"""End-to-end helpers: a desk on real ccxt.pro against embedded venues, and a probe strategy."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import trio

from actors.runtime import Ref, System
from actors.testing.invariants import InvariantReport, check_desk, journal_invariants
from actors.testing.venues import LocalVenue
from actors.topology.build import Plan
from actors.topology.run import Observe, Running, open_desk
from actors.trading.config import DeskOptions, StrategySpec, VenueSpec, book_path
from actors.trading.desk import desk_specs
from actors.trading.markets import Markets
from actors.trading.messages import (
    Fill,
    Message,
    OrderUpdate,
    RiskRejected,
    Ticker,
    TopOfBook,
)
from actors.trading.protocol import (
    BookView,
    GetBook,
    GetOrders,
    GetRiskState,
    OrderView,
    ReadJournal,
    RiskView,
)
from actors.trading.ratelimit import VenueBudget
from actors.trading.risk import RiskLimits
from actors.trading.shutdown import ShutdownReport
from actors.trading.strategy import Strategy
from actors.venues import Venue, ccxt_config

PROBE = "tests.trading.e2e_helpers:Probe"


class Probe(Strategy):
    """A strategy driven by the test: ``ask(("submit", kwargs))`` submits, everything is logged."""

    async def setup(self) -> None:
        """Start empty logs."""
        self.tops: dict[tuple[str, str], TopOfBook] = {}
        self.updates: list[OrderUpdate] = []
        self.fills: list[Fill] = []
        self.rejections: list[RiskRejected] = []
        self.tickers: list[Ticker] = []
        self.existing: list[OrderView] = []
        self.pushed_markets: list[Markets] = []

    async def handle(self, message: Any) -> Any:
        """``("submit", kwargs)`` -> cid or the RiskRejected; ``("cancel", cid)``; ``"log"``."""
        if isinstance(message, tuple) and message[0] == "submit":
            before = len(self.rejections)
            cid = await self.submit(**message[1])
            return cid if cid is not None else self.rejections[before]
        if isinstance(message, tuple) and message[0] == "cancel":
            await self.cancel(message[1], "test")
            return None
        if message == "log":
            return (dict(self.tops), list(self.updates), list(self.fills))
        if message == "tickers":
            return list(self.tickers)
        if message == "existing":
            return list(self.existing)
        return await super().handle(message)

    async def on_open_orders(self, orders: list[OrderView]) -> None:
        """Log the orders it found open at start."""
        self.existing = list(orders)

    async def on_ticker(self, ticker: Ticker) -> None:
        """Log it."""
        self.tickers.append(ticker)

    async def on_markets(self, markets: Markets) -> None:
        """Log markets a session sent while we ran (not those asked for at start)."""
        self.pushed_markets.append(markets)

    async def on_book(self, top: TopOfBook) -> None:
        """Keep the latest top per venue and symbol."""
        self.tops[(top.venue, top.symbol)] = top

    async def on_order_update(self, update: OrderUpdate) -> None:
        """Log it."""
        self.updates.append(update)

    async def on_fill(self, fill: Fill) -> None:
        """Log it."""
        self.fills.append(fill)

    async def on_reject(self, rejection: RiskRejected) -> None:
        """Log it."""
        self.rejections.append(rejection)


def venue_spec(venue: Venue, **overrides: Any) -> VenueSpec:
    """A ``VenueSpec`` for an embedded venue of either protocol (fast stall detection for
    tests); ``secret``/``password`` override the credentials."""
    options: dict[str, Any] = {"stall_after": 2.0, "submit_timeout": 2.0, "rate": 200.0}
    options.update(overrides)
    secret = options.pop("secret", venue.config.secret)  # a wrong secret, for auth tests
    password = options.pop("password", venue.config.passphrase)  # OKX's passphrase
    protocol = venue.config.protocol
    cfg = ccxt_config(
        venue.port, venue.config.api_key, secret, protocol=protocol, password=password
    )
    return VenueSpec(
        venue.config.name, cfg, tuple(venue.config.symbols), exchange=protocol, **options
    )


@dataclass
class Desk:
    """A running desk and handy queries."""

    system: System
    budgets: dict[str, VenueBudget]
    venues: list[Venue] = field(default_factory=list)
    running: Running | None = None
    """The desk's observers (metrics port, control URL) when run with ``observe``."""
    journal_path: str | None = None

    async def verify(self, *, hit: Sequence[str] = (), timeout: float = 30.0) -> InvariantReport:
        """Check the seven invariants (the product's ``check_desk``) and assert they hold.

        ``hit``: venues the test made misbehave by hand (their feeds, sessions and books may
        have restarted).
        """
        report = await check_desk(
            self.system,
            self.journal_path,
            {v.config.name: LocalVenue(v) for v in self.venues},
            {v.config.name: v.config.symbols for v in self.venues},
            hit_venues=hit,
            timeout=timeout,
        )
        assert report.ok, report.text()
        return report

    def ref(self, path: str) -> Ref:
        """The ref at ``path`` (asserting it exists)."""
        ref = self.system.lookup(path)
        assert ref is not None, f"no actor at {path}"
        return ref

    async def book(self, venue: str, symbol: str) -> BookView:
        """A book actor's state."""
        view: BookView = await self.ref(book_path(venue, symbol)).ask(GetBook())
        return view

    async def wait_fresh(self, venue: str, symbol: str, timeout: float = 15.0) -> BookView:
        """Wait until the book of ``venue`` / ``symbol`` is fresh."""
        with trio.fail_after(timeout):
            while True:
                view = await self.book(venue, symbol)
                if not view.stale and view.snapshot is not None:
                    return view
                await trio.sleep(0.02)

    async def orders(self, active_only: bool = False) -> dict[str, OrderView]:
        """The router's orders by client order id."""
        views = await self.ref("/router").ask(GetOrders(active_only=active_only))
        return {v.client_order_id: v for v in views}

    async def risk(self) -> RiskView:
        """The risk actor's view."""
        view: RiskView = await self.ref("/risk").ask(GetRiskState())
        return view

    async def submit(self, strategy: str = "probe", **intent: Any) -> Any:
        """Submit through the probe strategy; a cid or a ``RiskRejected``."""
        return await self.ref(f"/strategies/{strategy}").ask(("submit", intent))

    async def journal(self) -> list[Message]:
        """Every journaled message so far, oldest first."""
        messages: list[Message] = await self.ref("/journal").ask(ReadJournal(), timeout=10.0)
        return messages

    def restarts(self, path: str) -> int:
        """How often the actor at ``path`` was restarted."""
        return self.system.stats()[path].restarts

    def last_crash(self, path: str) -> str:
        """The actor's last crash as ``Type: message`` ('' if it never crashed).

        A crash of several of an actor's tasks at once (an exception group) is listed leaf
        by leaf, so ``"NetworkError" in desk.last_crash(path)`` works either way.
        """
        return self.system.stats()[path].last_crash or ""

    def peek(self, path: str) -> Any:
        """The live actor object at ``path``, for asserting on state no message exposes.

        Test-only introspection through the runtime's registry: actors never do this.
        """
        cell = self.system._registry.get(path)
        assert cell is not None and cell.actor is not None, f"no running actor at {path}"
        return cell.actor


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, poll: float = 0.02) -> Any:
    """Poll an async or sync predicate until truthy; returns its value."""
    with trio.fail_after(timeout):
        while True:
            value = predicate()
            if hasattr(value, "__await__"):
                value = await value
            if value:
                return value
            await trio.sleep(poll)


@asynccontextmanager
async def running_desk(
    venues: Sequence[Venue],
    journal_path: str,
    *,
    limits: RiskLimits | None = None,
    strategies: Sequence[StrategySpec] = (StrategySpec("probe", PROBE),),
    options: DeskOptions | None = None,
    venue_overrides: dict[str, Any] | None = None,
    report: ShutdownReport | None = None,
    quiet_ok: bool = False,
    observe: Observe | None = None,
) -> AsyncIterator[Desk]:
    """Run a desk against ``venues`` inside one trio-asyncio loop.

    ``quiet_ok`` is for tests that freeze the market: a book that holds still for a minute
    is then neither a stalled feed (tests otherwise use ``stall_after`` 2 s) nor stale.
    """
    opts = options or DeskOptions(
        journal_path=journal_path, unknown_grace=3.0, unknown_retry=0.2, reconcile_interval=1.0
    )
    overrides = dict(venue_overrides or {})
    if quiet_ok:
        overrides.setdefault("stall_after", 120.0)
        opts = dataclasses.replace(opts, book_stale_after=120.0)
    budgets: dict[str, VenueBudget] = {}
    specs = desk_specs(
        [venue_spec(v, **overrides) for v in venues],
        list(strategies),
        limits or RiskLimits(),
        opts,
        budgets=budgets,
        report=report,
    )
    plan = Plan(specs, max_restarts=20, within=30.0, budgets=budgets)
    async with open_desk(plan, observe=observe) as running:
        yield Desk(running.system, budgets, list(venues), running, opts.journal_path)


def sweep_bids(venue: Venue, symbol: str, down_to: Decimal) -> Decimal:
    """A synthetic seller (no account) takes every bid priced ``down_to`` or better, at once.

    Synchronous on the venue's engine, so nothing else trades in between: a resting buy of
    ours at ``down_to`` or above is certainly filled in full. Returns the base quantity sold.
    """
    m = venue.market_of(symbol)
    book = venue.engine.books[m.id]
    floor = m.to_price_units(down_to)
    _, bids, _ = book.snapshot(10_000)
    qty = sum(q for p, q in bids if p >= floor)
    if qty:
        order = venue.engine.new_order(
            symbol=m.id, side="SELL", type="LIMIT", tif="IOC", price=floor, qty=qty
        )
        venue.engine.submit(order)
        venue.flush_user_events()  # balances as the market loop would send them
    return m.qty_dec(qty)


def rest_ask(venue: Venue, symbol: str, price: Decimal, qty: Decimal) -> None:
    """A synthetic seller (no account) rests ``qty`` at ``price``: liquidity a test can take.

    With the market paused nothing else trades, so a buy at ``price`` or above fills.
    """
    _rest(venue, symbol, "SELL", price, qty)


def rest_bid(venue: Venue, symbol: str, price: Decimal, qty: Decimal) -> None:
    """A synthetic buyer (no account) rests ``qty`` at ``price`` (see ``rest_ask``)."""
    _rest(venue, symbol, "BUY", price, qty)


def _rest(venue: Venue, symbol: str, side: str, price: Decimal, qty: Decimal) -> None:
    m = venue.market_of(symbol)
    order = venue.engine.new_order(
        symbol=m.id,
        side=side,
        type="LIMIT",
        tif="GTC",
        price=m.to_price_units(price),
        qty=m.to_qty_units(qty),
    )
    venue.engine.submit(order)
    venue.flush_user_events()


def price_of(value: float, tick: str = "0.01") -> Decimal:
    """A float price as a Decimal on the tick grid."""
    return (Decimal(str(value)) / Decimal(tick)).quantize(Decimal(1)) * Decimal(tick)


async def book_matches_venue(desk: Desk, venue: Venue, symbol: str, depth: int = 20) -> bool:
    """Our copy of ``venue``'s book equals the venue's own (call with the market paused)."""
    view = await desk.book(venue.config.name, symbol)
    own = venue.book(symbol, limit=depth)
    if view.stale or view.snapshot is None or own["lastUpdateId"] != own["publishedUpdateId"]:
        return False
    if view.snapshot.nonce != own["publishedUpdateId"]:
        return False
    assert [list(x) for x in view.snapshot.bids] == own["bids"][:depth]
    assert [list(x) for x in view.snapshot.asks] == own["asks"][:depth]
    return True


def journal_vs_venue(journal_path: str, venue: Venue, prefix: str = "ax") -> list[str]:
    """Every way the journal disagrees with the venue about this account's orders ([] = none):
    invariants 1-4 of ``actors.testing.invariants``, the venue's ledger read from its engine."""
    ledger = LocalVenue(venue).ledger(prefix)
    results = journal_invariants(journal_path, {venue.config.name: ledger})
    return [line for r in results if r.ok is False for line in r.evidence]


def FROZEN(journal_path: str, **options: Any) -> dict[str, Any]:
    """``running_desk`` settings for a test that freezes the market (``frozen_book``):
    ``quiet_ok`` plus quick reconciliation, and ``options`` for ``DeskOptions``."""
    opts = {"unknown_grace": 3.0, "unknown_retry": 0.2, "reconcile_interval": 1.0, **options}
    return {
        "options": DeskOptions(journal_path=journal_path, **opts),
        "venue_overrides": {"submit_timeout": 2.0},
        "quiet_ok": True,
    }


async def frozen_book(desk: Desk, venue: Venue, symbol: str = "BTC/USDT") -> BookView:
    """Freeze ``venue``'s synthetic market once our book is fresh; the book as it stays."""
    await desk.wait_fresh(venue.config.name, symbol)
    venue.pause_market()
    await wait_for(lambda: book_matches_venue(desk, venue, symbol), timeout=10.0)
    view = await desk.book(venue.config.name, symbol)
    assert view.snapshot is not None and view.snapshot.bids and view.snapshot.asks
    return view
