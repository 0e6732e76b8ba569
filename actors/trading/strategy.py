"""The strategy base actor users subclass, and loading strategies by dotted path.

A strategy lives at ``/strategies/<name>``. It receives :class:`TopOfBook` (and, when it
subscribes to them, :class:`BookSnapshot`, :class:`ConsolidatedTop`, :class:`TradeTick`)
through a conflating mailbox, so it always sees the latest book, and its own orders'
:class:`OrderUpdate`s and :class:`Fill`s from the router (never conflated). Override
``on_book``, ``on_trade``, ``on_consolidated``, ``on_order_update``, ``on_fill``,
``on_reject``, ``on_ticker`` (venues with ``watch_tickers``); call ``submit`` (which asks
``/risk`` and returns the client order id, or None if risk refused) and ``cancel``.

Prices and amounts come from each venue's market: ``self.market(venue, symbol)`` is a
:class:`MarketInfo` (ccxt's precision and limits, loaded once per venue by its private
session) with ``price(x, "down")``, ``amount(x)`` and ``problem(amount, price)``; it is None
until the venue's session has loaded it (``on_markets`` says when).

Parameters are typed: a strategy declares them as a ``Params`` struct (a subclass of
:class:`StrategyParams`, so msgspec converts and checks them, and ``actors check`` names the
key of a bad one), and reads them as attributes of ``self.p``. Where it trades
(``symbols``/``venues``, and ``symbol``/``venue`` when there is exactly one) comes from the
topology's ``[[strategies]]`` entry into the same struct.

>>> class Printer(Strategy):
...     class Params(StrategyParams):
...         every: Annotated[int, Meta(ge=1)] = 10
...
...     async def on_book(self, top: TopOfBook) -> None:
...         print(top.venue, top.mid, self.p.every)
>>> Printer("p", {"every": 5}).p.every
5
>>> # load_strategy("mypkg.strats:Printer", "p", {"every": 5})  -> a factory for ChildSpec
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import trio
from msgspec import Meta

from actors.runtime import Actor, ActorError, ActorUnavailable, Ref
from actors.trading.config import RISK, ROUTER, exec_path
from actors.trading.ids import ClientIdFormat
from actors.trading.markets import MarketInfo, Markets
from actors.trading.messages import (
    BookSnapshot,
    CancelOrder,
    ConsolidatedTop,
    Fill,
    OrderIntent,
    OrderType,
    OrderUpdate,
    RejectReason,
    RiskRejected,
    Side,
    Ticker,
    TimeInForce,
    TopOfBook,
    TradeTick,
    validate_intent,
)
from actors.trading.protocol import GetMarkets, GetOrders, OrderView

MARKETS_TIMEOUT = 1.0
"""Seconds a starting strategy waits for a venue's markets; a session that is busy or not up
sends them when it is (``Markets``), so the strategy never waits longer at start."""


OPEN_ORDERS_RETRY = 1.0
"""Seconds between asks for our open orders while the router cannot be asked (split desk)."""


class _AskOpenOrders(msgspec.Struct, frozen=True):
    """A strategy's timer to itself: ask the router for our open orders again."""


class StrategyParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What every strategy is given; a strategy's own ``Params`` subclass this.

    A field that must be set is declared without a default (``symbol: str`` for a strategy
    trading exactly one symbol); ranges with ``Annotated[float, Meta(gt=0)]``, or checked in
    ``__post_init__`` raising ``ValueError("field: what is wrong")``.
    """

    symbols: tuple[str, ...] = ()
    """Symbols it trades (from the topology)."""
    venues: tuple[str, ...] = ()
    """Venues it trades on (from the topology; all venues when it names none)."""
    symbol: str | None = None
    """The symbol, when it trades exactly one."""
    venue: str | None = None
    """The venue, when it trades on exactly one."""
    risk_timeout: Annotated[float, Meta(gt=0, le=600)] = 5.0
    """Seconds ``submit`` waits for risk's decision."""
    existing_orders: Literal["manage", "cancel"] = "manage"
    """Its orders still open when it starts (after a restart of the process or of the
    strategy): handed to ``on_open_orders`` to manage, or cancelled."""


class InvalidIntent(ValueError):
    """``Strategy.submit`` was given an intent that cannot be an order; nothing was sent."""


def _decimal(value: Any) -> Any:
    """A float/int/str amount or price as a Decimal (its shortest repr); others unchanged."""
    if isinstance(value, (bool, Decimal)):
        return value
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return value
    return value


class InvalidParams(ValueError):
    """Strategy parameters that do not fit the strategy's ``Params``; names the key."""


def positive(name: str, value: Decimal | float | None) -> None:
    """Raise ``ValueError("name: ...")`` unless ``value`` is None or a finite number > 0.

    For ``__post_init__`` of a ``Params`` struct (msgspec's ``Meta`` does not bound Decimals).
    """
    if value is None:
        return
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite or not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value}")


class Strategy(Actor):
    """Base class of trading strategies; one instance per incarnation, params from config."""

    Params: ClassVar[type[StrategyParams]] = StrategyParams
    """The strategy's parameters; override with a subclass of :class:`StrategyParams`."""

    def __init__(
        self,
        name: str,
        params: Mapping[str, Any] | StrategyParams | None = None,
        *,
        markets: Mapping[str, tuple[str, ...]] | None = None,
        client_ids: ClientIdFormat | None = None,
    ) -> None:
        self.name = name
        self.markets: dict[str, tuple[str, ...]] | None = (
            None if markets is None else {v: tuple(s) for v, s in markets.items()}
        )
        """Symbols of every venue of the desk (``submit`` refuses others); None: unchecked."""
        self.client_ids = client_ids or ClientIdFormat()
        """Prefix and length of this desk's client ids (the strictest of its venues)."""
        self.market_info: dict[tuple[str, str], MarketInfo] = {}
        """Precision and limits by (venue, symbol), as the venues' sessions loaded them."""
        self.p: Any = self.parse_params(params)
        """The parameters, typed (an instance of the class's ``Params``)."""
        self.params: dict[str, Any] = msgspec.structs.asdict(self.p)
        """The same parameters as a plain dict (for code that predates ``p``)."""
        self.submitted = 0
        self.rejected = 0
        self.risk_timeout = float(self.p.risk_timeout)
        self.open_orders_asks = 0
        """Asks for our orders left open (more than one: the router was not reachable)."""
        self._since_start: set[str] | None = None

    @classmethod
    def parse_params(cls, params: Mapping[str, Any] | StrategyParams | None) -> StrategyParams:
        """``params`` converted to ``cls.Params``; :class:`InvalidParams` names the bad key."""
        if isinstance(params, cls.Params):
            return params
        if isinstance(params, StrategyParams):
            params = msgspec.structs.asdict(params)
        try:
            return msgspec.convert(dict(params or {}), cls.Params)
        except msgspec.ValidationError as exc:
            raise InvalidParams(str(exc)) from None

    async def on_start(self) -> None:
        """Find risk and router, make a client-id generator, then call ``setup``."""
        risk, router = self.ctx.lookup(RISK), self.ctx.lookup(ROUTER)
        if risk is None or router is None:
            raise RuntimeError("a strategy needs /risk and /router")
        self.risk: Ref = risk
        self.router: Ref = router
        self.ids = self.client_ids.generator(self.name)
        await self._ask_markets()
        views = await self._ask_open_orders()
        if views is None:
            # A split desk whose execution node is down or restarting: start without them
            # (risk refuses our intents meanwhile) and ask again, rather than crash-loop.
            self._since_start = set()
            self.ctx.send_after(OPEN_ORDERS_RETRY, _AskOpenOrders())
        await self.setup()
        if views is not None:
            await self._existing_orders(views)

    async def _ask_open_orders(self) -> list[OrderView] | None:
        """Our orders the router holds as open (it reconciled every venue before it answered);
        None when it cannot be asked now."""
        self.open_orders_asks += 1
        try:
            views = await self.router.ask(GetOrders(active_only=True), timeout=self.risk_timeout)
        except ActorError as exc:
            log = self.ctx.log.warning if self.open_orders_asks == 1 else self.ctx.log.debug
            log("cannot ask the router for our open orders (%s): asking again", exc)
            return None
        return [v for v in views or () if isinstance(v, OrderView) and v.strategy == self.name]

    async def _existing_orders(self, mine: list[OrderView]) -> None:
        if self._since_start:  # submitted by this incarnation while the router was away
            mine = [v for v in mine if v.client_order_id not in self._since_start]
        self._since_start = None
        if mine and self.p.existing_orders == "cancel":
            self.ctx.log.info("cancelling %d order(s) left open before this start", len(mine))
            for view in mine:
                await self.cancel(view.client_order_id, "left open before this start")
        elif mine:
            self.ctx.log.info("managing %d order(s) left open before this start", len(mine))
            await self.on_open_orders(mine)

    async def _ask_markets(self) -> None:
        """Ask the private session of each venue we trade on for its markets.

        A session that is not up yet tells us when it is (``Markets``); meanwhile
        ``market()`` is None for its symbols.
        """
        venues = self.p.venues or tuple(self.markets or ())
        for venue in venues:
            session = self.ctx.lookup(exec_path(venue))
            if session is None:
                continue
            try:
                found = await session.ask(GetMarkets(), timeout=MARKETS_TIMEOUT)
            except ActorError as exc:
                self.ctx.log.debug("markets of %s not known yet: %r", venue, exc)
                continue
            if isinstance(found, Markets):
                self._store_markets(found)

    def _store_markets(self, markets: Markets) -> None:
        for info in markets.markets:
            self.market_info[(info.venue, info.symbol)] = info

    def market(self, venue: str, symbol: str) -> MarketInfo | None:
        """Precision and limits of ``symbol`` on ``venue`` (None until its session loaded
        them).

        >>> # price = self.market("sim-a", "BTC/USDT").price(top.bid, "down")
        """
        return self.market_info.get((venue, symbol))

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
        elif kind is Markets:
            self._store_markets(message)
            await self.on_markets(message)
        elif kind is _AskOpenOrders:
            views = await self._ask_open_orders()
            if views is None:
                self.ctx.send_after(OPEN_ORDERS_RETRY, message)
            else:
                self.ctx.log.info("the router answered (ask %d)", self.open_orders_asks)
                await self._existing_orders(views)
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

    async def on_markets(self, markets: Markets) -> None:
        """A venue's session (re)loaded its markets (already in ``market()``)."""

    async def on_order_update(self, update: OrderUpdate) -> None:
        """One of our orders changed state at the venue."""

    async def on_fill(self, fill: Fill) -> None:
        """One of our orders executed (partially)."""

    async def on_reject(self, rejection: RiskRejected) -> None:
        """Risk refused one of our intents."""

    async def on_open_orders(self, orders: list[OrderView]) -> None:
        """At start, our orders still open from before (a restart); after ``setup``, or
        later if the router could not be asked at start (a split desk whose execution node is
        restarting: the strategy runs meanwhile, its intents refused as ``RISK_UNAVAILABLE``).

        Their updates and fills arrive like any other. Override to take them over (a market
        maker counts them as its live quotes); ``existing_orders = "cancel"`` cancels them
        instead of calling this.
        """

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
        """Send an intent through risk; the client order id, or None if risk refused it.

        A malformed intent (NaN, inf or non-positive amount or price, an unknown side, order
        type, time in force, venue or symbol) raises :class:`InvalidIntent` here, before
        anything is journaled or asked: it is the strategy's bug, and it sees it.
        """
        cid = self.ids.next()
        intent = OrderIntent(
            client_order_id=cid,
            strategy=self.name,
            venue=venue,
            symbol=symbol,
            side=side,
            order_type=order_type,
            amount=_decimal(amount),
            price=None if price is None else _decimal(price),
            time_in_force=time_in_force,
            created_at=trio.current_time(),
        )
        problem = validate_intent(intent) or self._unknown_market(intent)
        if problem:
            raise InvalidIntent(f"{self.name}: {problem}")
        self.submitted += 1
        if self._since_start is not None:
            self._since_start.add(cid)
        try:
            decision = await self.risk.ask(intent, timeout=self.risk_timeout)
        except ActorUnavailable as exc:
            # Risk is restarting, or (split desk) its node is down: the ask failed before
            # risk saw the intent, so nothing was journaled or sent. A refusal, not a crash:
            # a strategy must outlive a risk restart without burning its restart budget.
            decision = RiskRejected(
                intent=intent,
                reason=RejectReason.RISK_UNAVAILABLE,
                detail=f"order {cid}: {exc}",
                at=trio.current_time(),
            )
        if isinstance(decision, RiskRejected):
            self.rejected += 1
            await self.on_reject(decision)
            return None
        return cid

    def _unknown_market(self, intent: OrderIntent) -> str | None:
        if self.markets is None:
            return None
        cid = intent.client_order_id
        if intent.venue is not None and intent.venue not in self.markets:
            return f"order {cid}: no venue {intent.venue!r} (venues: {sorted(self.markets)})"
        where = [intent.venue] if intent.venue is not None else list(self.markets)
        if not any(intent.symbol in self.markets[v] for v in where):
            return f"order {cid}: {intent.symbol!r} is not traded on {where}"
        return None

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
    path: str,
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    markets: Mapping[str, tuple[str, ...]] | None = None,
    client_ids: ClientIdFormat | None = None,
) -> Callable[[], Strategy]:
    """A factory of fresh ``Strategy`` instances of the class at ``path`` (for a ChildSpec).

    >>> factory = load_strategy("actors.trading.strategy:Strategy", "noop")
    >>> factory().name
    'noop'
    """
    cls = resolve(path)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"{path!r} is not a Strategy subclass")
    typed = cls.parse_params(params)  # raises InvalidParams now, not at every restart
    where = None if markets is None else dict(markets)

    ids = client_ids or ClientIdFormat()
    ids.generator(name)  # raises ValueError now if its ids cannot fit the venues

    def make() -> Strategy:
        return cls(name, typed, markets=where, client_ids=ids)

    return make
