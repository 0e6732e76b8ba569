"""The strategy base actor users subclass, and loading strategies by dotted path.

A strategy lives at ``/strategies/<name>``. It receives :class:`TopOfBook` (and, when it
subscribes to them, :class:`BookSnapshot`, :class:`ConsolidatedTop`, :class:`TradeTick`)
through a conflating mailbox, so it always sees the latest book, and its own orders'
:class:`OrderUpdate`s and :class:`Fill`s from the router (never conflated). Override
``on_book``, ``on_trade``, ``on_consolidated``, ``on_order_update``, ``on_fill``,
``on_reject``, ``on_ticker`` (venues with ``watch_tickers``); call ``submit`` (which asks
``/risk`` and returns the client order id, or None if risk refused) and ``cancel``.
Parameters come from config as a mapping.

>>> class Printer(Strategy):
...     async def on_book(self, top: TopOfBook) -> None:
...         print(top.venue, top.mid)
>>> # load_strategy("mypkg.strats:Printer", "p", {"x": 1})  -> a factory for ChildSpec
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

import trio

from actors.runtime import Actor, Ref
from actors.trading.config import RISK, ROUTER
from actors.trading.ids import ClientOrderIdGenerator
from actors.trading.messages import (
    BookSnapshot,
    CancelOrder,
    ConsolidatedTop,
    Fill,
    OrderIntent,
    OrderType,
    OrderUpdate,
    RiskRejected,
    Side,
    Ticker,
    TimeInForce,
    TopOfBook,
    TradeTick,
)


def quantize(value: Decimal | float, step: Decimal | str, rounding: str = ROUND_DOWN) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (down by default)."""
    step = Decimal(step)
    units = (Decimal(str(value)) / step).to_integral_value(rounding=rounding)
    return (units * step).normalize()


class Strategy(Actor):
    """Base class of trading strategies; one instance per incarnation, params from config."""

    def __init__(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.params: dict[str, Any] = dict(params or {})
        self.submitted = 0
        self.rejected = 0
        self.risk_timeout = float(self.params.get("risk_timeout", 5.0))

    async def on_start(self) -> None:
        """Find risk and router, make a client-id generator, then call ``setup``."""
        risk, router = self.ctx.lookup(RISK), self.ctx.lookup(ROUTER)
        if risk is None or router is None:
            raise RuntimeError("a strategy needs /risk and /router")
        self.risk: Ref = risk
        self.router: Ref = router
        self.ids = ClientOrderIdGenerator(self.name)
        await self.setup()

    async def setup(self) -> None:
        """Hook: runs at the end of ``on_start``."""

    async def handle(self, message: Any) -> Any:
        """Dispatch to the ``on_*`` hooks."""
        kind = type(message)
        if kind is TopOfBook:
            await self.on_book(message)
        elif kind is OrderUpdate:
            await self.on_order_update(message)
        elif kind is Fill:
            await self.on_fill(message)
        elif kind is ConsolidatedTop:
            await self.on_consolidated(message)
        elif kind is TradeTick:
            await self.on_trade(message)
        elif kind is BookSnapshot:
            await self.on_snapshot(message)
        elif kind is Ticker:
            await self.on_ticker(message)
        else:
            return await super().handle(message)
        return None

    # --- hooks ---------------------------------------------------------------------------

    async def on_book(self, top: TopOfBook) -> None:
        """A venue's top of book changed (or went stale: ``top.stale``)."""

    async def on_snapshot(self, snapshot: BookSnapshot) -> None:
        """A venue's full (depth-limited) book changed."""

    async def on_consolidated(self, top: ConsolidatedTop) -> None:
        """The best bid/offer across venues changed."""

    async def on_trade(self, trade: TradeTick) -> None:
        """A public trade printed."""

    async def on_ticker(self, ticker: Ticker) -> None:
        """A venue's 24h ticker of a symbol changed (only with ``VenueSpec.watch_tickers``)."""

    async def on_order_update(self, update: OrderUpdate) -> None:
        """One of our orders changed state at the venue."""

    async def on_fill(self, fill: Fill) -> None:
        """One of our orders executed (partially)."""

    async def on_reject(self, rejection: RiskRejected) -> None:
        """Risk refused one of our intents."""

    # --- actions -------------------------------------------------------------------------

    async def submit(
        self,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal | None = None,
        *,
        venue: str | None = None,
        order_type: OrderType = "limit",
        time_in_force: TimeInForce = "GTC",
    ) -> str | None:
        """Send an intent through risk; the client order id, or None if risk refused it."""
        cid = self.ids.next()
        intent = OrderIntent(
            client_order_id=cid,
            strategy=self.name,
            venue=venue,
            symbol=symbol,
            side=side,
            order_type=order_type,
            amount=amount,
            price=price,
            time_in_force=time_in_force,
            created_at=trio.current_time(),
        )
        self.submitted += 1
        decision = await self.risk.ask(intent, timeout=self.risk_timeout)
        if isinstance(decision, RiskRejected):
            self.rejected += 1
            await self.on_reject(decision)
            return None
        return cid

    async def cancel(self, client_order_id: str, reason: str = "") -> None:
        """Ask the router to cancel one of our orders (cancels need no risk approval)."""
        await self.router.send(
            CancelOrder(client_order_id=client_order_id, reason=reason, at=trio.current_time())
        )


def resolve(path: str) -> Any:
    """The object at ``pkg.mod:Name`` or ``pkg.mod.Name``."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"strategy path must be 'pkg.mod:Class' or 'pkg.mod.Class', got {path!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no {attr!r}") from None


def load_strategy(
    path: str, name: str, params: Mapping[str, Any] | None = None
) -> Callable[[], Strategy]:
    """A factory of fresh ``Strategy`` instances of the class at ``path`` (for a ChildSpec).

    >>> factory = load_strategy("actors.trading.strategy:Strategy", "noop")
    >>> factory().name
    'noop'
    """
    cls = resolve(path)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"{path!r} is not a Strategy subclass")
    frozen = dict(params or {})

    def make() -> Strategy:
        return cls(name, frozen)

    return make
