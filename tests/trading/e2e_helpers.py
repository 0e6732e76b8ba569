"""End-to-end helpers: a desk on real ccxt.pro against embedded venues, and a probe strategy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import trio
import trio_asyncio

from actors.runtime import Ref, System, open_system
from actors.trading.config import DeskOptions, StrategySpec, VenueSpec, book_path
from actors.trading.desk import desk_specs
from actors.trading.messages import Fill, OrderUpdate, RiskRejected, TopOfBook
from actors.trading.protocol import BookView, GetBook, GetOrders, GetRiskState, OrderView, RiskView
from actors.trading.ratelimit import VenueBudget
from actors.trading.risk import RiskLimits
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
        return await super().handle(message)

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
    """A ``VenueSpec`` for an embedded venue (fast stall detection for tests)."""
    cfg = ccxt_config(venue.port, venue.config.api_key, venue.config.secret)
    options: dict[str, Any] = {"stall_after": 2.0, "submit_timeout": 2.0, "rate": 200.0}
    options.update(overrides)
    return VenueSpec(venue.config.name, cfg, tuple(venue.config.symbols), **options)


@dataclass
class Desk:
    """A running desk and handy queries."""

    system: System
    budgets: dict[str, VenueBudget]
    venues: list[Venue] = field(default_factory=list)

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
) -> AsyncIterator[Desk]:
    """Run a desk against ``venues`` inside one trio-asyncio loop."""
    opts = options or DeskOptions(
        journal_path=journal_path, unknown_grace=3.0, unknown_retry=0.2, reconcile_interval=1.0
    )
    budgets: dict[str, VenueBudget] = {}
    specs = desk_specs(
        [venue_spec(v, **(venue_overrides or {})) for v in venues],
        list(strategies),
        limits or RiskLimits(),
        opts,
        budgets=budgets,
    )
    async with trio_asyncio.open_loop(), open_system(specs, max_restarts=20, within=30.0) as system:
        yield Desk(system, budgets, list(venues))


def price_of(value: float, tick: str = "0.01") -> Decimal:
    """A float price as a Decimal on the tick grid."""
    return (Decimal(str(value)) / Decimal(tick)).quantize(Decimal(1)) * Decimal(tick)
