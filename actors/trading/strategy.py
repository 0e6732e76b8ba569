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

What a strategy has, without overriding ``handle``: ``self.position(symbol)`` (its net filled
quantity), ``self.open_orders(symbol)`` (its orders that may still be live), ``await
self.balances(venue)`` (the account's latest balances, as the venue pushed them) and timers,
``self.every(seconds, callback)``, whose callbacks run between messages like any hook.

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

import hashlib
import importlib
import importlib.util
import math
import sys
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import trio
from msgspec import Meta

from actors.runtime import Actor, ActorError, ActorUnavailable, Ref
from actors.trading.config import JOURNAL, RISK, ROUTER, exec_path
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
from actors.trading.own_orders import OwnOrders
from actors.trading.protocol import (
    Balances,
    GetBalances,
    GetMarkets,
    GetOrders,
    IdLease,
    LeaseIds,
    OrderView,
)

MARKETS_TIMEOUT = 1.0
"""Seconds a starting strategy waits for a venue's markets; a session that is busy or not up
sends them when it is (``Markets``), so the strategy never waits longer at start."""


OPEN_ORDERS_RETRY = 1.0
"""Seconds between asks for our orders while the router cannot be asked (split desk)."""


class _AskOpenOrders(msgspec.Struct, frozen=True):
    """A strategy's timer to itself: ask the router for our orders again."""


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


class _Tick(msgspec.Struct, frozen=True):
    """A strategy's timer fired (sent to itself, so the callback runs between messages)."""

    timer: int


class Timer:
    """A repeating timer of a strategy (``Strategy.every``); ``cancel()`` stops it."""

    __slots__ = ("callback", "cancelled", "id", "pending", "scope", "seconds")

    def __init__(self, id: int, seconds: float, callback: Callable[[], Awaitable[Any]]) -> None:
        self.id = id
        self.seconds = seconds
        self.callback = callback
        self.pending = False
        """A tick is waiting in the mailbox: the next is skipped, not queued behind it."""
        self.cancelled = False
        self.scope: trio.CancelScope | None = None

    def cancel(self) -> None:
        """Stop firing (a tick already waiting is dropped)."""
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


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
        self._journal: Ref | None = None
        self._lease_pending = False
        self.lease_waits = 0
        """Orders that had to wait for a client-id lease (the refill came too late)."""
        self.orders = OwnOrders()
        """Its orders, open ones and positions (see ``open_orders`` and ``position``)."""
        self._timers: dict[int, Timer] = {}
        self._book_at: float | None = None
        """``received_at`` of the market data being handled (an intent carries it)."""
        self.open_orders_asks = 0
        """Asks for our orders (more than one: the router was not reachable at start)."""
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
        # Client ids come from durable leases granted by the journal (none: not leased).
        self._journal = self.ctx.lookup(JOURNAL)
        self.ids = self.client_ids.generator(self.name, leased=self._journal is not None)
        self._lease_pending = False
        if self._journal is not None:
            await self._lease(wait=True)
        await self._ask_markets()
        views = await self._ask_orders()
        if views is None:
            # A split desk whose execution node is down or restarting: start without them
            # (risk refuses our intents meanwhile) and ask again, rather than crash-loop.
            self._since_start = set()
            self.ctx.send_after(OPEN_ORDERS_RETRY, _AskOpenOrders())
        await self.setup()
        if views is not None:
            await self._existing_orders(views)

    async def _ask_orders(self) -> list[OrderView] | None:
        """Our orders the router holds (it reconciled every venue before it answered); None
        when it cannot be asked now."""
        self.open_orders_asks += 1
        try:
            views = await self.router.ask(GetOrders(strategy=self.name), timeout=self.risk_timeout)
        except ActorError as exc:
            log = self.ctx.log.warning if self.open_orders_asks == 1 else self.ctx.log.debug
            log("cannot ask the router for our orders (%s): asking again", exc)
            return None
        return [v for v in views or () if isinstance(v, OrderView) and v.strategy == self.name]

    async def _existing_orders(self, views: list[OrderView]) -> None:
        if self._since_start:  # submitted by this incarnation while the router was away
            views = [v for v in views if v.client_order_id not in self._since_start]
        self._since_start = None
        self.orders.seed(views)  # open orders and the position they add up to
        mine = self.orders.open_orders()
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
        """Dispatch to the ``on_*`` hooks (and keep open orders and positions up to date)."""
        kind = type(message)
        self._book_at = None
        if kind is TopOfBook:
            self._book_at = message.received_at
            await self.on_book(message)
        elif kind is OrderUpdate:
            self.orders.update(message)
            await self.on_order_update(message)
        elif kind is Fill:
            self.orders.fill(message)
            await self.on_fill(message)
        elif kind is _Tick:
            timer = self._timers.get(message.timer)
            if timer is not None:
                timer.pending = False
                if not timer.cancelled:
                    await timer.callback()
        elif kind is ConsolidatedTop:
            await self.on_consolidated(message)
        elif kind is TradeTick:
            self._book_at = message.received_at
            await self.on_trade(message)
        elif kind is BookSnapshot:
            self._book_at = message.received_at
            await self.on_snapshot(message)
        elif kind is Ticker:
            await self.on_ticker(message)
        elif kind is Markets:
            self._store_markets(message)
            await self.on_markets(message)
        elif kind is _AskOpenOrders:
            views = await self._ask_orders()
            if views is None:
                self.ctx.send_after(OPEN_ORDERS_RETRY, message)
            else:
                self.ctx.log.info("the router answered (ask %d)", self.open_orders_asks)
                await self._existing_orders(views)
        elif kind is IdLease:
            self._lease_pending = False
            if message.stem == self.ids.stem:  # not one of an earlier incarnation's
                self.ids.grant(message.first, message.end)
        else:
            return await super().handle(message)
        return None

    # --- what a strategy knows -----------------------------------------------------------

    def position(self, symbol: str, venue: str | None = None) -> Decimal:
        """Its net filled base quantity of ``symbol`` (buys minus sells), on ``venue`` or all.

        Counted from its own fills; after a restart, from the orders the router still holds
        (``desk.retention``). The desk's position (all strategies) is risk's.

        >>> # if self.position("BTC/USDT") < self.p.max_position: ...
        """
        return self.orders.position(symbol, venue)

    def open_orders(self, symbol: str | None = None, venue: str | None = None) -> list[OrderView]:
        """Its orders that may still be live at a venue (of ``symbol``/``venue``), oldest first.

        An order is here from the moment risk approved it until its venue reports its end.
        """
        return self.orders.open_orders(symbol, venue)

    async def balances(self, venue: str) -> Balances | None:
        """The account's latest balances on ``venue`` (free and total per asset), as its
        session last reported them to the router; None before the first report.

        >>> # usdt = (await self.balances("sim-a")).free.get("USDT", 0.0)
        """
        found = await self.router.ask(GetBalances(venue=venue), timeout=self.risk_timeout)
        return found if isinstance(found, Balances) else None

    def every(self, seconds: float, callback: Callable[[], Awaitable[Any]]) -> Timer:
        """Call ``await callback()`` every ``seconds`` until the strategy stops (or
        ``cancel()`` on the returned :class:`Timer`).

        The callback runs between messages, like any hook, so it needs no locks; a tick
        that comes while the previous one still waits is skipped, never queued. Start timers
        in ``setup`` (a restarted strategy starts them again).

        >>> # self.every(5.0, self.rebalance)
        """
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"{self.name}: every() needs a finite number of seconds > 0, "
                             f"got {seconds!r}")  # fmt: skip
        timer = Timer(len(self._timers) + 1, float(seconds), callback)
        self._timers[timer.id] = timer
        timer.scope = self.ctx.start_soon(self._run_timer, timer)
        return timer

    async def _run_timer(self, timer: Timer) -> None:
        deadline = trio.current_time()
        while not timer.cancelled:
            deadline = max(deadline + timer.seconds, trio.current_time())
            await trio.sleep_until(deadline)
            if not timer.pending:
                timer.pending = True
                await self.ctx.ref.send(_Tick(timer.id))  # a full mailbox: wait, never crash

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
        if self.ids.leased and not self.ids.remaining:
            # The refill asked for at the low-water mark has not come (the journal is slow
            # or was restarting): this order waits for a lease's fsync.
            self.lease_waits += 1
            if self.lease_waits in (1, 10) or self.lease_waits % 100 == 0:
                self.ctx.log.warning(
                    "%d order(s) waited for a client-id lease (the refill came too late; "
                    "journal.id_block %d may be too small for this order rate)",
                    self.lease_waits, self.client_ids.block,
                )  # fmt: skip
            await self._lease(wait=True)
            if not self.ids.remaining:
                return await self._no_client_id(symbol, side, amount, price, venue, order_type,
                                                time_in_force)  # fmt: skip
        cid = self.ids.next()
        if self.ids.leased and self.ids.remaining <= self.client_ids.low_water:
            await self._lease(wait=False)
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
            book_at=self._book_at,
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
        self.orders.submitted(intent)
        return cid

    async def _lease(self, *, wait: bool) -> None:
        """Get the next block of client ids from the journal (fsync'd there first).

        ``wait``: ask, and have it when this returns (at start, or when none is left);
        otherwise ask for it to be sent here (it arrives as an ``IdLease`` message) before
        the ids run out, so an order never waits for a lease's fsync.
        """
        journal = self._journal
        if journal is None or (not wait and self._lease_pending):
            return
        request = LeaseIds(
            strategy=self.name,
            stem=self.ids.stem,
            count=self.client_ids.block,
            venues=tuple(self.p.venues),
            symbols=tuple(self.p.symbols),
            reply_to=None if wait else self.ctx.path,
        )
        try:
            if wait:
                lease = await journal.ask(request, timeout=self.risk_timeout)
                self.ids.grant(lease.first, lease.end)
                # A refill asked for earlier may have been lost with a journal restart.
                self._lease_pending = False
            else:
                await journal.send(request)
                self._lease_pending = True
        except ActorError as exc:
            self.ctx.log.warning("no client-id lease from the journal (yet): %r", exc)

    async def _no_client_id(self, *args: Any) -> None:
        """Refuse an intent for want of a leased client id (the journal is unreachable)."""
        symbol, side, amount, price, venue, order_type, tif = args
        intent = OrderIntent(
            client_order_id="", strategy=self.name, venue=venue, symbol=symbol, side=side,
            order_type=order_type, amount=_decimal(amount),
            price=None if price is None else _decimal(price), time_in_force=tif,
            created_at=trio.current_time(),
        )  # fmt: skip
        self.rejected += 1
        await self.on_reject(
            RiskRejected(
                intent=intent,
                reason=RejectReason.NO_CLIENT_ID,
                detail="no leased client order id left and the journal cannot lease more",
                at=trio.current_time(),
            )
        )

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
    """The object at ``pkg.mod:Name``, ``pkg.mod.Name`` or ``path/to/file.py:Name``.

    A file is imported by its path (see :func:`import_file`); a relative one is taken from
    the current directory (a topology's loader makes its files relative to the topology).
    """
    if ".py:" in path:
        file, _, attr = path.rpartition(":")
        module = import_file(Path(file))
        module_name = file
    else:
        module_name, sep, attr = path.partition(":")
        if not sep:
            module_name, _, attr = path.rpartition(".")
        if not module_name or not attr:
            raise ValueError(
                "strategy path must be 'pkg.mod:Class', 'pkg.mod.Class' or "
                f"'path/to/file.py:Class', got {path!r}"
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise
        except SyntaxError as exc:
            raise ImportError(f"{exc.filename}:{exc.lineno}: {exc.msg}") from None
        except Exception as exc:
            raise ImportError(f"{module_name}: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no {attr!r}") from None


def import_file(file: Path) -> Any:
    """The module of a Python file, imported once per file under a name of its own.

    Its directory goes on the import path (at the end, so it cannot shadow the standard
    library), so the file can import its neighbours. A file that is missing or fails to
    import is an ``ImportError`` naming the file (and the line of a syntax error).
    """
    file = file.resolve()
    if not file.is_file():
        raise ImportError(f"no such file: {file}")
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in file.stem)
    name = f"actors_user_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    if str(file.parent) not in sys.path:
        sys.path.append(str(file.parent))
    sys.modules[name] = module  # msgspec resolves a Params' annotations through it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise ImportError(f"{file}:{exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        del sys.modules[name]
        raise ImportError(f"{file}: {type(exc).__name__}: {exc}") from exc
    return module


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
