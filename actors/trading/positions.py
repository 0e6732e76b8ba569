"""Positions and PnL per (venue, symbol), aggregated per symbol, in exact Decimal.

Method: **FIFO lots**. Each position is a queue of open lots (signed quantity, price); a fill
against the position's direction closes the oldest lots first and realizes
``closed * (exit - entry)`` (sign-adjusted). FIFO needs only additions and multiplications, so
realized PnL is exact; the average entry price is the one division, computed on demand.
Invariant (tested): ``realized + unrealized(mark) == -sum(signed_qty * price) + net * mark``.

PnL figures are gross of fees; ``fees`` is kept separately in quote currency and
``net_realized = realized - fees``. A fee in the quote currency counts as is; a fee in the base
currency is converted at the fill price (the position quantity is not reduced by it). Fees in a
third currency (e.g. BNB) cannot be valued here: they are kept in ``other_fees`` per currency
and left out of PnL.

Daily PnL is ``net_realized + unrealized`` now minus the same figure when the trading day
started; a day starts at ``day_start_hour_utc`` (wall clock), see :meth:`Portfolio.roll_day`.

>>> from decimal import Decimal as D
>>> pf = Portfolio()
>>> _ = pf.apply_fill(Fill(client_order_id="c", venue="sim", symbol="BTC/USDT", side="buy",
...     price=D("100"), amount=D("2"), trade_id="1"))
>>> _ = pf.apply_fill(Fill(client_order_id="c", venue="sim", symbol="BTC/USDT", side="sell",
...     price=D("110"), amount=D("1"), trade_id="2"))
>>> p = pf.position("sim", "BTC/USDT"); (p.quantity, p.realized_pnl)
(Decimal('1'), Decimal('10'))
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from actors.trading.messages import Fill, split_symbol

ZERO = Decimal(0)
DAY = 86400


def to_decimal(value: float | Decimal) -> Decimal:
    """Exact-looking Decimal of a float mark (via its shortest repr, not its binary value)."""
    if isinstance(value, Decimal):
        return value
    if not math.isfinite(value):
        raise ValueError(f"mark price must be finite, got {value}")
    return Decimal(repr(value))


class PositionError(ValueError):
    """A fill that cannot be accounted (bad amount or price)."""


@dataclass(slots=True)
class Lot:
    quantity: Decimal
    """Signed: > 0 long, < 0 short."""
    price: Decimal


@dataclass(slots=True)
class Position:
    """Net position of one symbol on one venue."""

    venue: str
    symbol: str
    lots: deque[Lot] = field(default_factory=deque)
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    other_fees: dict[str, Decimal] = field(default_factory=dict)
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    cash_flow: Decimal = ZERO
    """Quote received minus quote paid over all fills (gross of fees)."""
    fill_count: int = 0

    @property
    def quantity(self) -> Decimal:
        """Signed net base quantity."""
        return sum((lot.quantity for lot in self.lots), ZERO)

    @property
    def is_flat(self) -> bool:
        return not self.lots

    @property
    def cost_basis(self) -> Decimal:
        """Signed quote value of the open lots at their entry prices."""
        return sum((lot.quantity * lot.price for lot in self.lots), ZERO)

    @property
    def average_price(self) -> Decimal | None:
        """Average entry price of the open quantity, None when flat."""
        qty = self.quantity
        return self.cost_basis / qty if qty else None

    @property
    def net_realized_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """Gain of the open lots if closed at ``mark``."""
        return sum((lot.quantity * (mark - lot.price) for lot in self.lots), ZERO)

    def apply(self, fill: Fill) -> None:
        """Account one fill (validated by the caller)."""
        signed = fill.amount if fill.side == "buy" else -fill.amount
        left = signed
        while left and self.lots and (self.lots[0].quantity > 0) != (left > 0):
            lot = self.lots[0]
            closed = min(abs(left), abs(lot.quantity))
            direction = 1 if lot.quantity > 0 else -1
            self.realized_pnl += closed * (fill.price - lot.price) * direction
            lot.quantity -= closed * direction
            left += closed * direction
            if not lot.quantity:
                self.lots.popleft()
        if left:
            self.lots.append(Lot(left, fill.price))
        if fill.side == "buy":
            self.bought += fill.amount
        else:
            self.sold += fill.amount
        self.cash_flow -= signed * fill.price
        self.fill_count += 1


@dataclass(slots=True)
class SymbolSummary:
    """A symbol's positions summed over venues."""

    symbol: str
    quantity: Decimal
    average_price: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    unrealized_pnl: Decimal | None
    """None when there is an open position but no mark."""


class Portfolio:
    """All positions, marks and daily PnL of the process.

    ``day_start_hour_utc``: hour (0-23) at which the trading day rolls over.
    """

    def __init__(self, day_start_hour_utc: int = 0) -> None:
        if not 0 <= day_start_hour_utc <= 23:
            raise ValueError(f"day_start_hour_utc must be 0..23, got {day_start_hour_utc}")
        self.day_start_hour_utc = day_start_hour_utc
        self._positions: dict[tuple[str, str], Position] = {}
        self._marks: dict[str, Decimal] = {}
        self._venue_marks: dict[tuple[str, str], Decimal] = {}
        self._trade_keys: set[tuple[str, str, str]] = set()
        self._day: int | None = None
        self._day_baseline = ZERO

    @classmethod
    def restore(
        cls, positions: Iterable[Position], trade_keys: Iterable[tuple[str, str, str]] = ()
    ) -> Portfolio:
        """A portfolio holding ``positions`` (from a journal snapshot); ``trade_keys`` are
        the (venue, symbol, trade_id) already counted, so a repeated fill is not counted twice.
        """
        portfolio = cls()
        for pos in positions:
            portfolio._positions[(pos.venue, pos.symbol)] = pos
        portfolio._trade_keys.update(trade_keys)
        return portfolio

    def forget_trades(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Stop remembering these fills (their orders left the journal's retention)."""
        self._trade_keys.difference_update(keys)

    # --- fills and marks -----------------------------------------------------------------

    @staticmethod
    def check_fill(fill: Fill) -> tuple[str, str]:
        """Raise :class:`PositionError` if ``fill`` cannot be accounted; its (base, quote)."""
        where = f"fill {fill.trade_id} of order {fill.client_order_id} on {fill.venue}"
        if not (fill.amount.is_finite() and fill.amount > 0):
            raise PositionError(f"{where}: amount must be > 0, got {fill.amount}")
        if not (fill.price.is_finite() and fill.price > 0):
            raise PositionError(f"{where}: price must be > 0, got {fill.price}")
        if not fill.fee.is_finite():
            raise PositionError(f"{where}: fee must be finite, got {fill.fee}")
        try:
            return split_symbol(fill.symbol)
        except ValueError as exc:
            raise PositionError(f"{where}: {exc}") from None

    def apply_fill(self, fill: Fill) -> bool:
        """Account a fill; returns False if this (venue, symbol, trade_id) was already counted."""
        key = (fill.venue, fill.symbol, fill.trade_id)
        if key in self._trade_keys:
            return False
        base, quote = self.check_fill(fill)
        pos = self._positions.get((fill.venue, fill.symbol))
        if pos is None:
            pos = self._positions[(fill.venue, fill.symbol)] = Position(fill.venue, fill.symbol)
        pos.apply(fill)
        if fill.fee:
            currency = fill.fee_currency or quote
            if currency == quote:
                pos.fees += fill.fee
            elif currency == base:
                pos.fees += fill.fee * fill.price
            else:
                pos.other_fees[currency] = pos.other_fees.get(currency, ZERO) + fill.fee
        self._trade_keys.add(key)
        return True

    def mark(self, symbol: str, price: float | Decimal, venue: str | None = None) -> None:
        """Set the mark (usually a mid) of ``symbol``, for one venue or for all venues."""
        value = to_decimal(price)
        if value <= 0:
            raise ValueError(f"mark of {symbol} must be > 0, got {value}")
        if venue is None:
            self._marks[symbol] = value
        else:
            self._venue_marks[(venue, symbol)] = value

    def mark_of(self, symbol: str, venue: str | None = None) -> Decimal | None:
        """Venue mark if set, else the symbol mark, else the last venue mark of the symbol."""
        if venue is not None and (venue, symbol) in self._venue_marks:
            return self._venue_marks[(venue, symbol)]
        if symbol in self._marks:
            return self._marks[symbol]
        for (_, sym), value in self._venue_marks.items():
            if sym == symbol:
                return value
        return None

    # --- queries -------------------------------------------------------------------------

    def position(self, venue: str, symbol: str) -> Position:
        """The position (a flat empty one if never traded; not stored)."""
        return self._positions.get((venue, symbol)) or Position(venue, symbol)

    def positions(self) -> list[Position]:
        return list(self._positions.values())

    def symbols(self) -> list[str]:
        return sorted({sym for _, sym in self._positions})

    def net_quantity(self, symbol: str) -> Decimal:
        """Signed base quantity of ``symbol`` over all venues."""
        return sum((p.quantity for (_, sym), p in self._positions.items() if sym == symbol), ZERO)

    def unrealized_pnl(self, venue: str, symbol: str) -> Decimal | None:
        pos = self.position(venue, symbol)
        if pos.is_flat:
            return ZERO
        mark = self.mark_of(symbol, venue)
        return None if mark is None else pos.unrealized_pnl(mark)

    def summary(self, symbol: str) -> SymbolSummary:
        """Aggregate of ``symbol`` over venues (average price over all open lots)."""
        positions = [p for (_, sym), p in self._positions.items() if sym == symbol]
        qty = sum((p.quantity for p in positions), ZERO)
        cost = sum((p.cost_basis for p in positions), ZERO)
        unrealized: Decimal | None = ZERO
        for p in positions:
            u = self.unrealized_pnl(p.venue, symbol)
            unrealized = None if u is None or unrealized is None else unrealized + u
        return SymbolSummary(
            symbol=symbol,
            quantity=qty,
            average_price=cost / qty if qty else None,
            realized_pnl=sum((p.realized_pnl for p in positions), ZERO),
            fees=sum((p.fees for p in positions), ZERO),
            unrealized_pnl=unrealized,
        )

    def gross_exposure(self, quote: str | None = None) -> Decimal:
        """Sum of |quantity| * mark over positions (quoted in ``quote`` if given).

        A position without a mark is valued at its entry price rather than ignored.
        """
        total = ZERO
        for (venue, symbol), pos in self._positions.items():
            if pos.is_flat or (quote is not None and split_symbol(symbol)[1] != quote):
                continue
            mark = self.mark_of(symbol, venue)
            if mark is None:
                total += abs(pos.cost_basis)
            else:
                total += abs(pos.quantity) * mark
        return total

    def total_pnl(self) -> Decimal:
        """Net realized (after fees) plus unrealized over every position; unmarked = 0."""
        total = ZERO
        for (venue, symbol), pos in self._positions.items():
            total += pos.net_realized_pnl
            u = self.unrealized_pnl(venue, symbol)
            if u is not None:
                total += u
        return total

    # --- the trading day -----------------------------------------------------------------

    def trading_day(self, wall_time: float) -> int:
        """Index of the trading day containing ``wall_time`` (epoch seconds, UTC)."""
        return int((wall_time - self.day_start_hour_utc * 3600) // DAY)

    def next_day_start(self, wall_time: float) -> float:
        """Epoch seconds of the next day boundary after ``wall_time``."""
        return (self.trading_day(wall_time) + 1) * DAY + self.day_start_hour_utc * 3600

    def roll_day(self, wall_time: float) -> bool:
        """Start a new trading day if ``wall_time`` is past the boundary; True if it rolled."""
        day = self.trading_day(wall_time)
        if self._day == day:
            return False
        if self._day is not None and day < self._day:
            return False  # the wall clock stepped back; keep the current day
        self._day = day
        self._day_baseline = self.total_pnl()
        return True

    def daily_pnl(self, wall_time: float | None = None) -> Decimal:
        """PnL since the start of the trading day (rolls first when ``wall_time`` is given)."""
        if wall_time is not None:
            self.roll_day(wall_time)
        return self.total_pnl() - self._day_baseline
