"""Pre-trade risk: limits, trading state (kill switch) and the :class:`RiskEngine`.

The engine is fed market data (:meth:`RiskEngine.on_book`, :meth:`RiskEngine.on_feed_status`),
executions (:meth:`RiskEngine.on_fill`) and order updates (:meth:`RiskEngine.on_order_update`),
and answers :meth:`RiskEngine.check` with :class:`RiskApproved` or :class:`RiskRejected`
(one :class:`RejectReason` per check, detail naming the values). Checks run in this order:
INVALID_INTENT, DUPLICATE_ID, HALTED, DAILY_LOSS / REDUCING_ONLY, AMOUNT_LIMIT, NO_BOOK /
STALE_BOOK, NOTIONAL_LIMIT, PRICE_BAND, POSITION_LIMIT, EXPOSURE_LIMIT, SELF_TRADE,
OPEN_ORDERS_LIMIT (per venue, then desk-wide), RATE_LIMIT_SECOND, RATE_LIMIT_MINUTE.

Self-trade prevention: an intent that would trade against one of the desk's own resting
orders (GTC limit, same symbol, same venue, opposite side, crossing price) is refused
(``self_trade = "reject"``), approved with ``cancel_first`` naming the resting orders that the
router cancels before it sends the new one (``"cancel_resting"``), or refused with ``cancel``
naming the resting orders to cancel as well (``"cancel_both"``).

Conservative by design:

* an approved intent counts as an open order (and against the rate windows) at once, before
  any ack, with its full amount; it stops counting when an update says it is terminal;
* position and exposure limits use the worst case: the net position plus the remaining
  quantity of every open order on the same side plus the new order;
* a market order is priced at the touch it would hit (best ask for a buy, best bid for a sell);
* an intent with ``venue=None`` is checked against the consolidated book of the fresh venues.

Daily loss: when ``daily PnL <= -max_daily_loss`` the engine switches itself to **REDUCING**
(not HALTED), so the positions that lost can still be flattened but no new risk is taken;
increasing orders are refused with DAILY_LOSS. It does not switch back by itself: an operator
sends ``SetTradingState(ACTIVE)`` (after the day rolled over; while the loss is still breached
the engine goes straight back to REDUCING). HALTED (the kill switch) refuses everything.
State changes are queued as :class:`TradingStateChanged`; the owning actor takes them with
:meth:`RiskEngine.pop_events` and journals/publishes them.

>>> from decimal import Decimal as D
>>> engine = RiskEngine(RiskLimits(max_order_amount=D("1")))
>>> engine.on_book(TopOfBook(venue="sim", symbol="BTC/USDT", bid=99.0, bid_size=1.0,
...     ask=101.0, ask_size=1.0, received_at=0.0))
>>> intent = OrderIntent(client_order_id="c1", strategy="s", venue="sim", symbol="BTC/USDT",
...     side="buy", order_type="limit", amount=D("2"), price=D("100"), created_at=0.0)
>>> engine.check(intent, now=0.1).reason
<RejectReason.AMOUNT_LIMIT: 'AMOUNT_LIMIT'>
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import msgspec

from actors.trading.book import ConsolidatedBook
from actors.trading.messages import (
    FeedStatus,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    TopOfBook,
    TradingState,
    TradingStateChanged,
    split_symbol,
    validate_intent,
)
from actors.trading.positions import Portfolio, to_decimal

__all__ = [
    "RejectReason",
    "RiskEngine",
    "RiskLimits",
    "SymbolLimits",
    "TradingState",
    "VenueLimits",
]

ZERO = Decimal(0)
_TERMINAL = {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}


def _check_positive(owner: str, name: str, value: object) -> None:
    if value is None:
        return
    if (isinstance(value, Decimal) and not value.is_finite()) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    if value <= 0:  # type: ignore[operator]
        raise ValueError(f"{name}: expected a number > 0, got {value}")


class SymbolLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-symbol overrides; None inherits the desk-wide value of :class:`RiskLimits`."""

    max_order_amount: Decimal | None = None
    """Largest base quantity of one order."""
    max_order_notional: Decimal | None = None
    """Largest quote value of one order."""
    price_band: Decimal | None = None
    """Largest distance of the order price from mid, as a fraction of mid (fat finger)."""
    max_position: Decimal | None = None
    """Largest |net base quantity| of the symbol over all venues, open orders included."""
    max_book_age: float | None = None
    """Seconds without a book update after which the book counts as stale."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if name in ("symbols", "venues", "self_trade"):
                continue
            _check_positive(type(self).__name__, name, getattr(self, name))
        if self.price_band is not None and self.price_band >= 1:
            raise ValueError(f"price_band: expected a fraction < 1, got {self.price_band}")


SelfTrade = Literal["reject", "cancel_resting", "cancel_both", "off"]
"""What risk does with an intent that would trade against the desk's own resting order on the
same venue and symbol; each venue's dialect passes the policy on to the exchange's own
prevention where it has one (``actors.trading.dialects``)."""


class VenueLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits of one venue (``[risk.venues.<name>]``)."""

    max_open_orders: int | None = None
    """Open orders on this venue (a venue with stuck orders cannot starve the others)."""

    def __post_init__(self) -> None:
        _check_positive(type(self).__name__, "max_open_orders", self.max_open_orders)


class RiskLimits(SymbolLimits, frozen=True, kw_only=True):
    """Desk-wide limits (None = no limit) plus per-symbol overrides.

    >>> from decimal import Decimal as D
    >>> limits = RiskLimits(max_position=D("1"), symbols={"ETH/USDT": SymbolLimits(
    ...     max_position=D("10"))})
    >>> limits.for_symbol("ETH/USDT").max_position, limits.for_symbol("BTC/USDT").max_position
    (Decimal('10'), Decimal('1'))
    """

    max_gross_exposure: Decimal | None = None
    """Largest sum of |position| * mark over symbols of one quote currency (worst case)."""
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None
    max_orders_per_minute: int | None = None
    max_daily_loss: Decimal | None = None
    """Loss (a positive number, quote currency) that switches trading to REDUCING."""
    symbols: dict[str, SymbolLimits] = {}
    venues: dict[str, VenueLimits] = {}
    self_trade: SelfTrade = "reject"
    """Self-trade prevention against the desk's own resting orders (see :data:`SelfTrade`)."""

    def for_symbol(self, symbol: str) -> SymbolLimits:
        """Effective per-symbol limits: the override where set, else the desk-wide value."""
        over = self.symbols.get(symbol)
        if over is None:
            return self
        return SymbolLimits(
            **{
                name: getattr(over, name)
                if getattr(over, name) is not None
                else getattr(self, name)
                for name in SymbolLimits.__struct_fields__
            }
        )


@dataclass(slots=True)
class _OpenOrder:
    venue: str | None
    symbol: str
    side: str
    remaining: Decimal
    price: Decimal
    """Reference price at approval (limit price, or the touch for a market order)."""
    rests: bool = True
    """A GTC limit order: it may rest on the book (and be traded against)."""


@dataclass(slots=True)
class _Reference:
    bid: Decimal | None
    ask: Decimal | None
    where: str

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2


class RiskEngine:
    """Stateful pre-trade risk checks for the whole desk (one instance, one owner)."""

    def __init__(
        self,
        limits: RiskLimits,
        portfolio: Portfolio | None = None,
        state: TradingState = TradingState.ACTIVE,
    ) -> None:
        self.limits = limits
        self.portfolio = portfolio if portfolio is not None else Portfolio()
        self.state = state
        self.state_reason = "initial"
        self.state_automatic = False
        self._tops: dict[tuple[str, str], TopOfBook] = {}
        self._down: dict[tuple[str, str], str] = {}
        self._consolidated: dict[str, ConsolidatedBook] = {}
        self._open: dict[str, _OpenOrder] = {}
        self._seen: set[str] = set()
        self._per_second: deque[float] = deque()
        self._per_minute: deque[float] = deque()
        self._events: list[TradingStateChanged] = []
        self._ref_price = ZERO
        self._crossed: tuple[str, ...] = ()

    # --- inputs --------------------------------------------------------------------------

    def on_book(self, top: TopOfBook) -> None:
        """Take a venue's top of book; a fresh top clears a 'feed down' mark."""
        key = (top.venue, top.symbol)
        self._tops[key] = top
        if not top.stale:
            self._down.pop(key, None)
        cb = self._consolidated.get(top.symbol)
        if cb is None:
            cb = self._consolidated[top.symbol] = ConsolidatedBook(top.symbol)
        cb.update(top)
        mid = top.mid
        if mid is not None and not top.stale:
            self.portfolio.mark(top.symbol, mid, venue=top.venue)
            self.portfolio.mark(top.symbol, mid)
        self._evaluate_daily_loss(top.received_at)

    def on_feed_status(self, status: FeedStatus) -> None:
        """A feed that is down makes its book stale until a fresh top arrives."""
        if status.live:
            return  # liveness alone proves nothing about the book; wait for data
        key = (status.venue, status.symbol)
        self._down[key] = status.reason or "feed down"
        cb = self._consolidated.get(status.symbol)
        if cb is not None:
            cb.mark_down(status.venue, status.reason)

    def on_fill(self, fill: Fill, now: float = 0.0) -> bool:
        """Account a fill (deduplicated by trade id); returns False for a duplicate."""
        if not self.portfolio.apply_fill(fill):
            return False
        order = self._open.get(fill.client_order_id)
        if order is not None:
            order.remaining -= fill.amount
            if order.remaining <= 0:
                del self._open[fill.client_order_id]
        self._evaluate_daily_loss(now)
        return True

    def on_order_update(self, update: OrderUpdate) -> None:
        """Track remaining quantity; terminal orders stop counting as open."""
        order = self._open.get(update.client_order_id)
        if order is None:
            return  # not approved by us (or already closed): nothing to count
        if update.status in _TERMINAL:
            del self._open[update.client_order_id]
        else:
            order.venue = update.venue
            # Our fills may lag the venue: keep the smaller (the venue knows best what is left
            # but never raise what fills already consumed).
            order.remaining = min(order.remaining, update.remaining)

    def restore_open(
        self,
        client_order_id: str,
        *,
        venue: str | None,
        symbol: str,
        side: str,
        remaining: Decimal,
        price: Decimal,
        rests: bool = True,
    ) -> None:
        """Count an order that was approved before a restart (rebuilt from the journal)."""
        self._seen.add(client_order_id)
        if remaining > 0:
            self._open[client_order_id] = _OpenOrder(
                venue=venue,
                symbol=symbol,
                side=side,
                remaining=remaining,
                price=price,
                rests=rests,
            )

    def mark_seen(self, client_order_id: str) -> None:
        """Remember a client order id used before a restart (duplicates stay refused)."""
        self._seen.add(client_order_id)

    def release(self, client_order_id: str) -> None:
        """Stop counting an order that ended without an update (e.g. never reached venue)."""
        self._open.pop(client_order_id, None)

    def roll_day(self, wall_time: float) -> bool:
        """Call at (or after) the trading-day boundary; True when a new day started."""
        return self.portfolio.roll_day(wall_time)

    # --- trading state -------------------------------------------------------------------

    def set_state(self, command: SetTradingState, now: float = 0.0) -> TradingStateChanged | None:
        """Operator command; returns (and queues) the change, None if already in that state."""
        change = self._switch(command.state, command.reason, automatic=False, now=now)
        self._evaluate_daily_loss(now)
        return change

    def kill(self, reason: str, now: float = 0.0) -> TradingStateChanged | None:
        """The kill switch: HALTED, every new order refused."""
        return self.set_state(SetTradingState(state=TradingState.HALTED, reason=reason), now)

    def pop_events(self) -> list[TradingStateChanged]:
        """State changes since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def _switch(
        self, state: TradingState, reason: str, *, automatic: bool, now: float
    ) -> TradingStateChanged | None:
        if state is self.state and automatic == self.state_automatic:
            return None
        change = TradingStateChanged(
            state=state, previous=self.state, reason=reason, automatic=automatic, at=now
        )
        self.state = state
        self.state_reason = reason
        self.state_automatic = automatic
        self._events.append(change)
        return change

    def _daily_loss_breached(self) -> tuple[bool, Decimal]:
        pnl = self.portfolio.daily_pnl()
        limit = self.limits.max_daily_loss
        return (limit is not None and pnl <= -limit), pnl

    def _evaluate_daily_loss(self, now: float) -> None:
        if self.state is not TradingState.ACTIVE:
            return
        breached, pnl = self._daily_loss_breached()
        if breached:
            self._switch(
                TradingState.REDUCING,
                f"daily loss: daily PnL {pnl} <= -{self.limits.max_daily_loss}",
                automatic=True,
                now=now,
            )

    # --- queries -------------------------------------------------------------------------

    def open_order_count(self) -> int:
        return len(self._open)

    def open_quantity(self, symbol: str, side: str) -> Decimal:
        """Remaining quantity of approved, not yet terminal orders of ``symbol`` on ``side``."""
        return sum(
            (o.remaining for o in self._open.values() if o.symbol == symbol and o.side == side),
            ZERO,
        )

    # --- the check -----------------------------------------------------------------------

    def check(self, intent: OrderIntent, now: float) -> RiskApproved | RiskRejected:
        """Run every check; an approval is counted (open orders, rate windows) at once."""
        self._evaluate_daily_loss(now)
        self._crossed = ()
        rejection, ref_price = self._first_failure(intent, now)
        self._seen.add(intent.client_order_id)
        crossed, self._crossed = self._crossed, ()
        if rejection is not None:
            reason, detail = rejection
            both = reason is RejectReason.SELF_TRADE and self.limits.self_trade == "cancel_both"
            cancel = crossed if both else ()
            return RiskRejected(intent=intent, reason=reason, detail=detail, at=now, cancel=cancel)
        self._per_second.append(now)
        self._per_minute.append(now)
        self._open[intent.client_order_id] = _OpenOrder(
            venue=intent.venue,
            symbol=intent.symbol,
            side=intent.side,
            remaining=intent.amount,
            price=ref_price,
            rests=intent.order_type == "limit" and intent.time_in_force == "GTC",
        )
        return RiskApproved(intent=intent, at=now, cancel_first=crossed)

    def resting_against(self, intent: OrderIntent, price: Decimal) -> tuple[str, ...]:
        """Our resting orders (same symbol, same venue or any venue for ``venue=None``,
        opposite side) that ``intent`` at ``price`` would trade against."""
        opposite = "sell" if intent.side == "buy" else "buy"
        market = intent.order_type == "market"
        out = []
        for cid, o in self._open.items():
            if not o.rests or o.symbol != intent.symbol or o.side != opposite:
                continue
            if intent.venue is not None and o.venue is not None and o.venue != intent.venue:
                continue
            if market or (o.price <= price if intent.side == "buy" else o.price >= price):
                out.append(cid)
        return tuple(out)

    def _first_failure(
        self, intent: OrderIntent, now: float
    ) -> tuple[tuple[RejectReason, str] | None, Decimal]:
        """The first failing check (None if all pass) and the order's reference price."""
        self._ref_price = ZERO
        failure = self._checks(intent, now)
        return failure, self._ref_price

    def _checks(self, intent: OrderIntent, now: float) -> tuple[RejectReason, str] | None:
        cid = intent.client_order_id
        problem = validate_intent(intent)
        if problem:
            return RejectReason.INVALID_INTENT, problem
        if cid in self._seen or cid in self._open:
            return RejectReason.DUPLICATE_ID, f"order {cid}: client order id already used"
        if self.state is TradingState.HALTED:
            return RejectReason.HALTED, f"order {cid}: trading halted ({self.state_reason})"

        symbol, side, amount = intent.symbol, intent.side, intent.amount
        limits = self.limits.for_symbol(symbol)
        position = self.portfolio.net_quantity(symbol)
        open_buy = self.open_quantity(symbol, "buy")
        open_sell = self.open_quantity(symbol, "sell")

        if self.state is TradingState.REDUCING:
            if side == "buy":
                reduces = position < 0 and open_buy + amount <= -position
            else:
                reduces = position > 0 and open_sell + amount <= position
            if not reduces:
                code = (
                    RejectReason.DAILY_LOSS
                    if self.state_automatic and self._daily_loss_breached()[0]
                    else RejectReason.REDUCING_ONLY
                )
                return code, (
                    f"order {cid}: {self.state_reason}; only reducing orders allowed: "
                    f"{side} {amount} with position {position}, open buys {open_buy}, "
                    f"open sells {open_sell}"
                )

        if limits.max_order_amount is not None and amount > limits.max_order_amount:
            return RejectReason.AMOUNT_LIMIT, (
                f"order {cid}: amount {amount} > max_order_amount {limits.max_order_amount}"
            )

        ref, failure = self._reference(intent, now, limits.max_book_age)
        if failure is not None:
            return failure
        assert ref is not None
        touch = ref.ask if side == "buy" else ref.bid
        if intent.order_type == "market":
            if touch is None:
                return RejectReason.NO_BOOK, (
                    f"order {cid}: no {'ask' if side == 'buy' else 'bid'} on {ref.where} "
                    f"to price a market {side}"
                )
            price = touch
        else:
            assert intent.price is not None
            price = intent.price
        self._ref_price = price

        notional = amount * price
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return RejectReason.NOTIONAL_LIMIT, (
                f"order {cid}: notional {amount} * {price} = {notional} > max_order_notional "
                f"{limits.max_order_notional}"
            )

        if limits.price_band is not None:
            mid = ref.mid
            if mid is None:
                return RejectReason.NO_BOOK, (
                    f"order {cid}: one-sided book on {ref.where}, cannot check the price band"
                )
            distance = abs(price - mid) / mid
            if distance > limits.price_band:
                return RejectReason.PRICE_BAND, (
                    f"order {cid}: price {price} is {distance:.4%} from mid {mid} on "
                    f"{ref.where} > band {limits.price_band}"
                )

        after_buy = position + open_buy + (amount if side == "buy" else ZERO)
        after_sell = position - open_sell - (amount if side == "sell" else ZERO)
        if limits.max_position is not None:
            worst = after_buy if side == "buy" else after_sell
            if abs(worst) > limits.max_position and abs(worst) > abs(position):
                return RejectReason.POSITION_LIMIT, (
                    f"order {cid}: worst-case position {worst} (position {position}, open "
                    f"{side}s {open_buy if side == 'buy' else open_sell}, this {amount}) exceeds "
                    f"max_position {limits.max_position}"
                )

        if self.limits.max_gross_exposure is not None:
            failure = self._exposure(intent, price, position, open_buy, open_sell)
            if failure is not None:
                return failure

        policy = self.limits.self_trade
        if policy != "off":
            crossed = self.resting_against(intent, price)
            if crossed:
                self._crossed = crossed
                if policy != "cancel_resting":
                    return RejectReason.SELF_TRADE, (
                        f"order {cid}: {side} {amount} at {price} would trade against our "
                        f"resting order(s) {', '.join(crossed)} on {ref.where}"
                        + (" (cancelling them)" if policy == "cancel_both" else "")
                    )

        venue_limits = self.limits.venues.get(intent.venue) if intent.venue else None
        if venue_limits is not None and venue_limits.max_open_orders is not None:
            here = sum(1 for o in self._open.values() if o.venue == intent.venue)
            if here >= venue_limits.max_open_orders:
                return RejectReason.OPEN_ORDERS_LIMIT, (
                    f"order {cid}: {here} open orders on {intent.venue} >= its "
                    f"max_open_orders {venue_limits.max_open_orders}"
                )

        if (
            self.limits.max_open_orders is not None
            and len(self._open) >= self.limits.max_open_orders
        ):
            return RejectReason.OPEN_ORDERS_LIMIT, (
                f"order {cid}: {len(self._open)} open orders >= max_open_orders "
                f"{self.limits.max_open_orders}"
            )

        limits_all = self.limits
        windows = (
            (
                self._per_second,
                1.0,
                limits_all.max_orders_per_second,
                RejectReason.RATE_LIMIT_SECOND,
            ),
            (
                self._per_minute,
                60.0,
                limits_all.max_orders_per_minute,
                RejectReason.RATE_LIMIT_MINUTE,
            ),
        )
        for window, seconds, limit, code in windows:
            while window and now - window[0] >= seconds:
                window.popleft()
            if limit is not None and len(window) >= limit:
                return code, (
                    f"order {cid}: {len(window)} orders approved in the last {seconds:g}s "
                    f">= limit {limit}"
                )
        return None

    def _reference(
        self, intent: OrderIntent, now: float, max_age: float | None
    ) -> tuple[_Reference | None, tuple[RejectReason, str] | None]:
        """Bid/ask to check against: the venue's book, or the consolidated one for venue None."""
        cid, symbol = intent.client_order_id, intent.symbol
        if intent.venue is not None:
            key = (intent.venue, symbol)
            top = self._tops.get(key)
            where = f"{intent.venue} {symbol}"
            if top is None:
                return None, (RejectReason.NO_BOOK, f"order {cid}: no book for {where}")
            if top.stale or key in self._down:
                why = self._down.get(key, "marked stale")
                detail = f"order {cid}: book {where} is stale ({why})"
                return None, (RejectReason.STALE_BOOK, detail)
            if max_age is not None and now - top.received_at > max_age:
                return None, (
                    RejectReason.STALE_BOOK,
                    f"order {cid}: book {where} is {now - top.received_at:.3f}s old "
                    f"> max_book_age {max_age}",
                )
            return _Reference(
                bid=None if top.bid is None else to_decimal(top.bid),
                ask=None if top.ask is None else to_decimal(top.ask),
                where=where,
            ), None
        cb = self._consolidated.get(symbol)
        if cb is None or not cb.venues():
            return None, (RejectReason.NO_BOOK, f"order {cid}: no book for {symbol} on any venue")
        cons = cb.consolidated(now, max_age)
        if cons is None:
            return None, (
                RejectReason.STALE_BOOK,
                f"order {cid}: every book of {symbol} is stale ({', '.join(cb.venues())})",
            )
        return _Reference(
            bid=None if cons.bid is None else to_decimal(cons.bid),
            ask=None if cons.ask is None else to_decimal(cons.ask),
            where=f"consolidated {symbol} ({', '.join(cons.venues)})",
        ), None

    def _exposure(
        self,
        intent: OrderIntent,
        price: Decimal,
        position: Decimal,
        open_buy: Decimal,
        open_sell: Decimal,
    ) -> tuple[RejectReason, str] | None:
        limit = self.limits.max_gross_exposure
        assert limit is not None
        symbol, amount = intent.symbol, intent.amount
        quote = split_symbol(symbol)[1]
        mark = self.portfolio.mark_of(symbol) or price

        def worst(extra_buy: Decimal, extra_sell: Decimal) -> Decimal:
            return max(abs(position + open_buy + extra_buy), abs(position - open_sell - extra_sell))

        before = worst(ZERO, ZERO) * mark
        after = (worst(amount, ZERO) if intent.side == "buy" else worst(ZERO, amount)) * max(
            mark, price
        )
        if after <= before:
            return None  # this order cannot raise the worst case: never block a reduction
        others = ZERO
        symbols = set(self.portfolio.symbols()) | {o.symbol for o in self._open.values()}
        for other in symbols:
            if other == symbol or split_symbol(other)[1] != quote:
                continue
            pos = self.portfolio.net_quantity(other)
            buys = self.open_quantity(other, "buy")
            sells = self.open_quantity(other, "sell")
            other_mark = self.portfolio.mark_of(other)
            if other_mark is None:
                prices = [o.price for o in self._open.values() if o.symbol == other]
                summary = self.portfolio.summary(other)
                other_mark = summary.average_price or (max(prices) if prices else ZERO)
            others += max(abs(pos + buys), abs(pos - sells)) * abs(other_mark)
        total = others + after
        if total > limit:
            return RejectReason.EXPOSURE_LIMIT, (
                f"order {intent.client_order_id}: worst-case gross exposure {total} {quote} "
                f"({symbol} {after}, other symbols {others}) > max_gross_exposure {limit}"
            )
        return None
