"""Price-time-priority matching engine: one book per symbol, partial fills, IOC/FOK/GTC, STP.

Hand-written because matching is the venue's domain: what it must get right (priority, partial
fills, self-trade prevention as Binance and OKX document it, update ids that clients sync on)
is exactly what tests assert, and no library exposes those semantics. Prices and quantities
are integers (see ``rules.Market``); protocols render them. One engine serves every protocol.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from actors.venues.candles import Candles
from actors.venues.rules import Market

BUY = "BUY"
SELL = "SELL"
LIMIT = "LIMIT"
LIMIT_MAKER = "LIMIT_MAKER"
MARKET = "MARKET"

# self-trade prevention modes, Binance's names (OKX's cancel_maker/taker/both map onto them)
STP_NONE = "NONE"
EXPIRE_TAKER = "EXPIRE_TAKER"
EXPIRE_MAKER = "EXPIRE_MAKER"
EXPIRE_BOTH = "EXPIRE_BOTH"
STP_MODES = (STP_NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)
EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"
"""Status of an order expired by self-trade prevention (Binance's word)."""


@dataclass(slots=True, eq=False)
class Order:
    """A resting or incoming order; prices/quantities in the market's integer units."""

    order_id: int
    symbol: str
    side: str
    type: str
    tif: str
    price: int
    qty: int
    account: str | None = None
    client_id: str = ""
    time_ms: int = 0
    update_ms: int = 0
    quote_qty: int = 0
    executed: int = 0
    cum_quote: int = 0
    status: str = "NEW"
    working: bool = False
    stp: str = STP_NONE
    """Self-trade prevention mode; applies when this order is the taker."""
    cancel_client_id: str = ""
    """Client id of the request that cancelled the order (Binance's ``c`` on cancel)."""
    prevented_qty: int = 0
    """Quantity expired by self-trade prevention."""
    counter_order_id: int = -1
    """The other order of the last prevented match."""
    prevented_match_id: int = -1
    fee: Decimal = Decimal(0)
    """Commission charged so far (in the asset received), kept by the venue."""
    last_fill: Fill | None = None

    @property
    def remaining(self) -> int:
        """Quantity units still open."""
        return self.qty - self.executed

    @property
    def is_buy(self) -> bool:
        """Whether this order buys."""
        return self.side == BUY


@dataclass(slots=True, frozen=True)
class Fill:
    """One match between a resting maker and an incoming taker."""

    trade_id: int
    symbol: str
    price: int
    qty: int
    time_ms: int
    maker: Order
    taker: Order

    @property
    def buyer_is_maker(self) -> bool:
        """Binance's ``m`` flag."""
        return self.maker.is_buy


def same_price_runs(fills: list[Fill]) -> list[list[Fill]]:
    """Consecutive fills of one taker at one price: an aggregated trade (Binance's aggTrade,
    OKX's ``trades`` with ``count``)."""
    groups: list[list[Fill]] = []
    for f in fills:
        if groups and groups[-1][0].price == f.price and groups[-1][0].taker is f.taker:
            groups[-1].append(f)
        else:
            groups.append([f])
    return groups


class EngineListener(Protocol):
    """What the engine tells the venue about; called synchronously during matching."""

    def on_fill(self, fill: Fill) -> None:
        """A trade happened (maker/taker state already updated)."""

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """An order owned by an account changed: NEW, TRADE, CANCELED, EXPIRED,
        TRADE_PREVENTION (expired by self-trade prevention) or AMENDED."""

    def on_match_done(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        """An incoming order finished matching with ``fills`` (not empty): aggregate trades."""

    def on_top_change(self, book: Book) -> None:
        """The best bid or ask (price or size) changed."""


class Level:
    """All orders at one price, oldest first."""

    __slots__ = ("orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0
        self.orders: deque[Order] = deque()


@dataclass(slots=True)
class Stats:
    """Running 24h-ticker figures since the venue started."""

    open: int = 0
    high: int = 0
    low: int = 0
    last: int = 0
    last_qty: int = 0
    volume: int = 0
    quote_volume: int = 0
    count: int = 0
    first_id: int = -1
    last_id: int = -1
    open_ms: int = 0


@dataclass(slots=True)
class DepthDiff:
    """One aggregated ``depthUpdate``: levels changed by update ids ``first..last``."""

    first: int
    last: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class Book:
    """One symbol's book: sorted price keys (bisect) plus a dict of levels per side."""

    def __init__(self, market: Market) -> None:
        self.market = market
        # bids are keyed by -price so that index 0 is the best level on both sides
        self.bid_keys: list[int] = []
        self.ask_keys: list[int] = []
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.update_id = 0
        self._window_first: int | None = None
        self._dirty_bids: set[int] = set()
        self._dirty_asks: set[int] = set()
        self.trades: deque[Fill] = deque(maxlen=1000)
        self.stats = Stats()
        self.candles = Candles()

    def best_bid(self) -> Level | None:
        """Best bid level or None."""
        return self.bids[-self.bid_keys[0]] if self.bid_keys else None

    def best_ask(self) -> Level | None:
        """Best ask level or None."""
        return self.asks[self.ask_keys[0]] if self.ask_keys else None

    def top(self) -> tuple[int, int, int, int]:
        """(bid price, bid qty, ask price, ask qty); zeros for an empty side."""
        b = self.best_bid()
        a = self.best_ask()
        return (b.price if b else 0, b.qty if b else 0, a.price if a else 0, a.qty if a else 0)

    def _touch(self, is_bid: bool, price: int) -> None:
        self.update_id += 1
        if self._window_first is None:
            self._window_first = self.update_id
        (self._dirty_bids if is_bid else self._dirty_asks).add(price)

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        is_bid = order.is_buy
        levels = self.bids if is_bid else self.asks
        level = levels.get(order.price)
        if level is None:
            level = Level(order.price)
            levels[order.price] = level
            insort(
                self.bid_keys if is_bid else self.ask_keys, -order.price if is_bid else order.price
            )
        level.orders.append(order)
        level.qty += order.remaining
        order.working = True
        self._touch(is_bid, order.price)

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book."""
        is_bid = order.is_buy
        levels = self.bids if is_bid else self.asks
        level = levels[order.price]
        level.orders.remove(order)
        level.qty -= order.remaining
        if not level.orders:
            self._drop_level(is_bid, order.price)
        self._touch(is_bid, order.price)

    def _drop_level(self, is_bid: bool, price: int) -> None:
        levels = self.bids if is_bid else self.asks
        del levels[price]
        keys = self.bid_keys if is_bid else self.ask_keys
        key = -price if is_bid else price
        del keys[bisect_left(keys, key)]

    def skip_ids(self, count: int) -> None:
        """Skip ``count`` update ids now: a sequence gap that every client sees.

        The next diff starts past every id handed out so far plus ``count``, so it cannot
        follow any snapshot a client may hold (a REST snapshot can be ahead of the last
        published diff; a gap counted from the unpublished window would then be invisible).
        Changes not yet published go out in that diff, under ids past the gap.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self.update_id += count
        self._window_first = None
        if self._dirty_bids or self._dirty_asks:
            self.update_id += 1
            self._window_first = self.update_id

    def snapshot(self, limit: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(lastUpdateId, bids best first, asks best first) of at most ``limit`` levels."""
        bids = [(-k, self.bids[-k].qty) for k in self.bid_keys[:limit]]
        asks = [(k, self.asks[k].qty) for k in self.ask_keys[:limit]]
        return self.update_id, bids, asks

    def drain_diff(self) -> DepthDiff | None:
        """Changed levels since the last drain with their current size (0 = removed)."""
        if self._window_first is None:
            return None
        first = self._window_first
        bids_lv = self.bids
        asks_lv = self.asks
        bids = [(p, lv.qty if (lv := bids_lv.get(p)) else 0) for p in self._dirty_bids]
        asks = [(p, lv.qty if (lv := asks_lv.get(p)) else 0) for p in self._dirty_asks]
        self._dirty_bids = set()
        self._dirty_asks = set()
        self._window_first = None
        return DepthDiff(first, self.update_id, bids, asks)

    def would_take(self, order: Order) -> bool:
        """Whether a limit ``order`` crosses the opposite best price."""
        if order.is_buy:
            return bool(self.ask_keys) and self.ask_keys[0] <= order.price
        return bool(self.bid_keys) and -self.bid_keys[0] >= order.price

    def fillable(self, order: Order) -> int:
        """Quantity units the opposite side could fill at or better than the order's price."""
        total = 0
        if order.is_buy:
            for key in self.ask_keys:
                if order.type != MARKET and key > order.price:
                    break
                total += self.asks[key].qty
                if total >= order.remaining:
                    break
        else:
            for key in self.bid_keys:
                if order.type != MARKET and -key < order.price:
                    break
                total += self.bids[-key].qty
                if total >= order.remaining:
                    break
        return total

    def sweep_cost(self, qty: int) -> tuple[int, int]:
        """(qty fillable, notional units) of buying ``qty`` from the asks now."""
        got = 0
        cost = 0
        for key in self.ask_keys:
            take = min(qty - got, self.asks[key].qty)
            got += take
            cost += take * key
            if got >= qty:
                break
        return got, cost


@dataclass(slots=True)
class _Ids:
    order: int = 1
    trade: int = 1
    prevented: int = 1


class Engine:
    """All books of one venue plus order and trade ids.

    Example: ``eng = Engine([market], clock_ms); fills = eng.submit(order)``
    """

    def __init__(
        self,
        markets: list[Market],
        clock_ms: Callable[[], int],
        listener: EngineListener | None = None,
    ) -> None:
        self.markets = {m.id: m for m in markets}
        self.books = {m.id: Book(m) for m in markets}
        self.clock_ms = clock_ms
        self.listener = listener
        self.live: dict[int, Order] = {}
        self.account_orders: dict[int, Order] = {}
        self.client_ids: dict[tuple[str, str, str], Order] = {}
        self._ids = _Ids()

    def next_order_id(self) -> int:
        """Allocate an order id."""
        oid = self._ids.order
        self._ids.order += 1
        return oid

    def new_order(self, **kwargs: object) -> Order:
        """Build an order with a fresh id and the current time."""
        now = self.clock_ms()
        order = Order(order_id=self.next_order_id(), time_ms=now, update_ms=now, **kwargs)  # type: ignore[arg-type]
        return order

    def submit(self, order: Order) -> list[Fill]:
        """Match ``order`` against its book, then rest or expire the remainder.

        A LIMIT_MAKER (post-only) order that would take expires without trading (OKX's
        ``post_only``; Binance refuses it before it gets here).
        """
        book = self.books[order.symbol]
        listener = self.listener
        top_before = book.top()
        if order.account is not None:
            self.account_orders[order.order_id] = order
            self.client_ids[(order.account, order.symbol, order.client_id)] = order
            if listener:
                listener.on_order_event(order, "NEW", None)
        fills: list[Fill] = []
        post_only_takes = order.type == LIMIT_MAKER and book.would_take(order)
        if post_only_takes or (order.tif == "FOK" and book.fillable(order) < order.remaining):
            self._finish(order, "EXPIRED")
        else:
            self._match(book, order, fills)
            self._rest_or_expire(book, order)
        if listener:
            if fills:
                listener.on_match_done(book, order, fills)
            if book.top() != top_before:
                listener.on_top_change(book)
        return fills

    def _rest_or_expire(self, book: Book, order: Order) -> None:
        if order.status == EXPIRED_IN_MATCH:
            self._finish(order, EXPIRED_IN_MATCH, "TRADE_PREVENTION")
        elif order.remaining == 0:
            order.status = "FILLED"
        elif order.type in (LIMIT, LIMIT_MAKER) and order.tif == "GTC" and order.quote_qty == 0:
            order.status = "PARTIALLY_FILLED" if order.executed else "NEW"
            self.live[order.order_id] = order
            book.add(order)
        else:
            self._finish(order, "EXPIRED")

    def _finish(self, order: Order, status: str, exec_type: str | None = None) -> None:
        order.status = status
        order.working = False
        order.update_ms = self.clock_ms()
        if order.account is not None and self.listener:
            self.listener.on_order_event(order, exec_type or status, None)

    def _prevent(self, taker: Order, maker: Order) -> bool:
        """Apply the taker's self-trade prevention to ``maker``; True if the taker expires."""
        mode = taker.stp
        match_id = self._ids.prevented
        self._ids.prevented += 1
        for o, other in ((taker, maker), (maker, taker)):
            o.counter_order_id = other.order_id
            o.prevented_match_id = match_id
        if mode in (EXPIRE_MAKER, EXPIRE_BOTH):
            maker.prevented_qty += maker.remaining
            self.live.pop(maker.order_id, None)
            self._finish(maker, EXPIRED_IN_MATCH, "TRADE_PREVENTION")
        if mode in (EXPIRE_TAKER, EXPIRE_BOTH):
            taker.prevented_qty += taker.remaining
            taker.status = EXPIRED_IN_MATCH
            return True
        return False

    def _match(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        buy = taker.is_buy
        keys = book.ask_keys if buy else book.bid_keys
        levels = book.asks if buy else book.bids
        step = book.market.step
        budget = taker.quote_qty
        listener = self.listener
        stp = taker.stp != STP_NONE and taker.account is not None
        stop = False
        while keys and taker.remaining > 0 and not stop:
            price = keys[0] if buy else -keys[0]
            if taker.type != MARKET and (price > taker.price if buy else price < taker.price):
                break
            level = levels[price]
            while level.orders and taker.remaining > 0:
                maker = level.orders[0]
                if stp and maker.account == taker.account:
                    # Binance/OKX self-trade prevention: the taker's mode decides
                    if taker.stp != EXPIRE_TAKER:
                        level.orders.popleft()
                        level.qty -= maker.remaining
                    if self._prevent(taker, maker):
                        stop = True
                        break
                    continue
                qty = min(taker.remaining, maker.remaining)
                if budget:
                    # quoteOrderQty market buys spend a quote budget, not a base quantity
                    affordable = (budget - taker.cum_quote) // price
                    qty = min(qty, affordable - affordable % step)
                    if qty <= 0:
                        taker.qty = taker.executed
                        stop = True
                        break
                now = self.clock_ms()
                maker.executed += qty
                maker.cum_quote += qty * price
                maker.update_ms = now
                taker.executed += qty
                taker.cum_quote += qty * price
                taker.update_ms = now
                level.qty -= qty
                if maker.remaining == 0:
                    maker.status = "FILLED"
                    maker.working = False
                    level.orders.popleft()
                    self.live.pop(maker.order_id, None)
                else:
                    maker.status = "PARTIALLY_FILLED"
                taker.status = "FILLED" if taker.remaining == 0 else "PARTIALLY_FILLED"
                fill = Fill(self._ids.trade, book.market.id, price, qty, now, maker, taker)
                maker.last_fill = taker.last_fill = fill
                self._ids.trade += 1
                fills.append(fill)
                self._record(book, fill)
                if listener:
                    listener.on_fill(fill)
                    if maker.account is not None:
                        listener.on_order_event(maker, "TRADE", fill)
                    if taker.account is not None:
                        listener.on_order_event(taker, "TRADE", fill)
            if not level.orders:
                book._drop_level(not buy, price)
            book._touch(not buy, price)

    def _record(self, book: Book, fill: Fill) -> None:
        book.trades.append(fill)
        st = book.stats
        if st.count == 0:
            st.open = st.high = st.low = fill.price
            st.first_id = fill.trade_id
            st.open_ms = fill.time_ms
        st.high = max(st.high, fill.price)
        st.low = min(st.low, fill.price)
        st.last = fill.price
        st.last_qty = fill.qty
        st.volume += fill.qty
        st.quote_volume += fill.qty * fill.price
        st.count += 1
        st.last_id = fill.trade_id
        book.candles.add(
            fill.time_ms,
            fill.price,
            fill.qty,
            fill.qty * fill.price,
            fill.trade_id,
            fill.taker.is_buy,
        )

    def cancel(self, order: Order, cancel_client_id: str = "") -> None:
        """Cancel a resting order (no-op on orders that are no longer working)."""
        if order.order_id not in self.live:
            return
        book = self.books[order.symbol]
        top_before = book.top()
        del self.live[order.order_id]
        book.remove(order)
        order.cancel_client_id = cancel_client_id
        self._finish(order, "CANCELED")
        if self.listener and book.top() != top_before:
            self.listener.on_top_change(book)

    def amend(self, order: Order, price: int, qty: int) -> list[Fill]:
        """Change a working order's price and/or total quantity (OKX's amend-order).

        A smaller quantity at the same price keeps the order's place in the queue; anything
        else takes it out and sends it in again, matching what it now crosses.
        """
        book = self.books[order.symbol]
        top_before = book.top()
        fills: list[Fill] = []
        order.update_ms = self.clock_ms()
        if price == order.price and qty <= order.qty:
            levels = book.bids if order.is_buy else book.asks
            levels[order.price].qty -= order.qty - qty
            order.qty = qty
            book._touch(order.is_buy, order.price)
            if self.listener:
                self.listener.on_order_event(order, "AMENDED", None)
        else:
            del self.live[order.order_id]
            book.remove(order)
            order.working = False
            order.price = price
            order.qty = qty
            if self.listener:
                self.listener.on_order_event(order, "AMENDED", None)
            self._match(book, order, fills)
            self._rest_or_expire(book, order)
            if fills and self.listener:
                self.listener.on_match_done(book, order, fills)
        if self.listener and book.top() != top_before:
            self.listener.on_top_change(book)
        return fills

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        """Working orders of ``account`` (optionally one symbol), oldest first."""
        return [
            o
            for o in self.account_orders.values()
            if o.account == account and o.order_id in self.live and symbol in (None, o.symbol)
        ]

    def find(
        self, account: str, symbol: str, order_id: int | None, client_id: str | None
    ) -> Order | None:
        """Look an account's order up by id or client order id."""
        if order_id is not None:
            o = self.account_orders.get(order_id)
            if o is not None and o.account == account and o.symbol == symbol:
                return o
            return None
        if client_id is not None:
            return self.client_ids.get((account, symbol, client_id))
        return None
