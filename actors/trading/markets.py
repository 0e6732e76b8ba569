"""A venue's trading rules for one symbol, as an immutable message strategies round with.

ccxt's ``load_markets`` gives each market its precision (price and amount steps, in the
exchange's ``precisionMode``) and limits (amount, price, cost). The private session of each
venue loads them once and hands every strategy a :class:`MarketInfo` per symbol (the
``Markets`` message), so a strategy never hard-codes a tick: ``market.price(x, "down")``,
``market.amount(x)`` and ``market.problem(amount, price)`` round and check the way ccxt's
``price_to_precision``/``amount_to_precision`` do (they call ccxt's own
``decimal_to_precision``), without holding an exchange object, which must never leave its
actor.

>>> m = MarketInfo(venue="sim", symbol="BTC/USDT", price_step=Decimal("0.01"),
...                amount_step=Decimal("0.00001"), min_cost=Decimal("5"))
>>> m.price(60000.126), m.price(60000.126, "down"), m.price(60000.121, "up")
(Decimal('60000.13'), Decimal('60000.12'), Decimal('60000.13'))
>>> m.amount("0.0123456")
Decimal('0.01234')
>>> m.problem(Decimal("0.00001"), Decimal("60000"))
'BTC/USDT on sim: cost 0.6 is below the minimum 5'
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Literal

import msgspec

Rounding = Literal["nearest", "down", "up"]

TICK_SIZE = 4
"""ccxt's ``precisionMode`` where precision is the step itself (ccxt's modes: 2 decimal
places, 3 significant digits, 4 tick size)."""
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Precision and limits of ``symbol`` on ``venue`` (copied from ccxt's market)."""

    venue: str
    symbol: str
    precision_mode: int = TICK_SIZE
    price_step: Decimal | None = None
    """Price precision in ``precision_mode`` (the tick with ``TICK_SIZE``)."""
    amount_step: Decimal | None = None
    """Amount precision in ``precision_mode`` (the lot step with ``TICK_SIZE``)."""
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None
    taker_fee: Decimal | None = None
    maker_fee: Decimal | None = None

    def price(self, value: Decimal | float | str, rounding: Rounding = "nearest") -> Decimal:
        """``value`` on the price grid: nearest (``price_to_precision``), down or up."""
        return _to_grid(Decimal(str(value)), self.price_step, self.precision_mode, rounding)

    def amount(self, value: Decimal | float | str, rounding: Rounding = "down") -> Decimal:
        """``value`` on the amount grid; down by default (``amount_to_precision``)."""
        return _to_grid(Decimal(str(value)), self.amount_step, self.precision_mode, rounding)

    def tick(self, price: Decimal | float | str) -> Decimal:
        """The price increment at ``price`` (constant unless precision counts digits)."""
        return _unit(Decimal(str(price)), self.price_step, self.precision_mode)

    def problem(self, amount: Decimal, price: Decimal | None = None) -> str | None:
        """Why an order of ``amount`` at ``price`` breaks the market's limits, or None.

        Checks the amount limits, the price limits and, with a price, the cost limits.
        """
        where = f"{self.symbol} on {self.venue}"
        checks: list[tuple[str, Decimal | None, Decimal | None, Decimal | None]] = [
            ("amount", amount, self.min_amount, self.max_amount)
        ]
        if price is not None:
            checks.append(("price", price, self.min_price, self.max_price))
            checks.append(("cost", amount * price, self.min_cost, self.max_cost))
        for name, value, low, high in checks:
            if value is None:
                continue
            if low is not None and value < low:
                return f"{where}: {name} {_show(value)} is below the minimum {_show(low)}"
            if high is not None and value > high:
                return f"{where}: {name} {_show(value)} is above the maximum {_show(high)}"
        return None


class Markets(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """The markets of one venue, as its private session loaded them (sent to strategies)."""

    venue: str
    markets: tuple[MarketInfo, ...]


def _show(value: Decimal) -> str:
    """``value`` without exponent or trailing zeros (``5``, ``0.0001``, ``100000``)."""
    return format(value.normalize(), "f")


def _ccxt_round(value: Decimal, step: Decimal, mode: int, truncate: bool) -> Decimal:
    from ccxt.base.decimal_to_precision import (
        NO_PADDING,
        ROUND,
        TRUNCATE,
        decimal_to_precision,
    )

    precision: float | int = float(step) if mode == TICK_SIZE else int(step)
    # ccxt sets the thread's decimal context (rounding, traps) as it works: keep it local.
    with decimal.localcontext():
        text = decimal_to_precision(
            value, TRUNCATE if truncate else ROUND, precision, mode, NO_PADDING
        )
    return Decimal(text)


def _unit(value: Decimal, step: Decimal | None, mode: int) -> Decimal:
    if step is None:
        raise ValueError("the market has no precision for this figure")
    if mode == TICK_SIZE:
        return step
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(step))
    # significant digits: the unit of the last counted digit at this magnitude
    return Decimal(1).scaleb(abs(value).adjusted() - int(step) + 1) if value else Decimal(0)


def _to_grid(value: Decimal, step: Decimal | None, mode: int, rounding: Rounding) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError(f"cannot round {value} to a market's precision (finite, >= 0 only)")
    if step is None:
        return value  # the exchange states no precision: nothing to round to
    if rounding == "nearest":
        return _ccxt_round(value, step, mode, truncate=False)
    down = _ccxt_round(value, step, mode, truncate=True)  # toward zero: down
    if rounding == "up" and down < value:
        return _ccxt_round(down + _unit(down or value, step, mode), step, mode, truncate=True)
    return down
