"""One symbol's trading rules in fixed point, shared by every protocol.

Prices and quantities live as integers (ticks of ``10**-pd``, steps of ``10**-qd``) so that
matching, balances and fees are exact; each protocol renders them in its own wire format.
Checks raise ``Rejected`` (see ``rejects``), never a protocol's error code.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from actors.venues.config import SymbolSpec
from actors.venues.rejects import Reason, Rejected

BELOW_MIN = "below the minimum quantity"
ABOVE_MAX = "above the maximum quantity"


def decimals_of(value: Decimal) -> int:
    """Number of decimal places needed to write ``value`` exactly."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt(units: int, decimals: int) -> str:
    """Write fixed-point ``units * 10**-decimals`` with at least 8 decimals (Binance's style)."""
    pad = max(decimals, 8)
    units_padded = units * 10 ** (pad - decimals)
    sign = "-" if units_padded < 0 else ""
    digits = str(abs(units_padded)).rjust(pad + 1, "0")
    return f"{sign}{digits[:-pad]}.{digits[-pad:]}"


def plain(units: int, decimals: int) -> str:
    """Write fixed-point ``units * 10**-decimals`` without trailing zeros (OKX's style).

    Example: ``plain(600001, 1) == "60000.1"``, ``plain(6000000, 2) == "60000"``
    """
    return format(Decimal(units).scaleb(-decimals).normalize(), "f")


def parse_decimal(raw: object, name: str) -> Decimal:
    """Parse a request parameter as a finite Decimal, else ``Rejected(BAD_NUMBER, name)``."""
    if isinstance(raw, bool) or raw is None:
        raise Rejected(Reason.BAD_NUMBER, name)
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise Rejected(Reason.BAD_NUMBER, name) from None
    if not value.is_finite():
        raise Rejected(Reason.BAD_NUMBER, name)
    return value


class Market:
    """One symbol's rules in fixed point: prices in ticks of 10**-pd, quantities of 10**-qd.

    ``id`` is the venue-internal id (``BTCUSDT``, also Binance's); protocols map their own
    instrument ids onto it (OKX's ``BTC-USDT`` is ``okx_id``).

    Example: ``m = Market(symbol_spec("BTC/USDT")); m.price_str(m.to_price_units(Decimal("1")))``
    """

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.id = spec.market_id
        self.okx_id = f"{spec.base}-{spec.quote}"
        self.base = spec.base
        self.quote = spec.quote
        self.pd = decimals_of(spec.tick_size)
        self.qd = decimals_of(spec.step_size)
        self.tick = int(spec.tick_size.scaleb(self.pd))
        self.step = int(spec.step_size.scaleb(self.qd))
        self.min_price = int(spec.min_price.scaleb(self.pd))
        self.max_price = int(spec.max_price.scaleb(self.pd))
        self.min_qty = int(spec.min_qty.scaleb(self.qd))
        self.max_qty = int(spec.max_qty.scaleb(self.qd))
        self.min_notional = spec.min_notional
        self.max_notional = spec.max_notional

    def to_price_units(self, price: Decimal) -> int:
        """Decimal price to integer units (may not be on a tick)."""
        return int(price.scaleb(self.pd).to_integral_value())

    def to_qty_units(self, qty: Decimal) -> int:
        """Decimal quantity to integer units."""
        return int(qty.scaleb(self.qd).to_integral_value())

    def price_dec(self, units: int) -> Decimal:
        """Integer price units back to Decimal."""
        return Decimal(units).scaleb(-self.pd)

    def qty_dec(self, units: int) -> Decimal:
        """Integer quantity units back to Decimal."""
        return Decimal(units).scaleb(-self.qd)

    def notional_dec(self, units: int) -> Decimal:
        """price-units * qty-units product back to Decimal."""
        return Decimal(units).scaleb(-(self.pd + self.qd))

    def price_str(self, units: int) -> str:
        """Wire string of a price, 8+ decimals."""
        return fmt(units, self.pd)

    def qty_str(self, units: int) -> str:
        """Wire string of a quantity, 8+ decimals."""
        return fmt(units, self.qd)

    def notional_str(self, units: int) -> str:
        """Wire string of a price*qty product, 8+ decimals."""
        return fmt(units, self.pd + self.qd)

    def check_price(self, raw: object, field: str = "price") -> int:
        """Validate a limit price (positive, on the tick, in range); returns price units."""
        price = parse_decimal(raw, field)
        if price <= 0:
            raise Rejected(Reason.BAD_PRICE, field)
        scaled = price.scaleb(self.pd)
        if scaled != scaled.to_integral_value():
            raise Rejected(Reason.PRICE_TICK, field)
        units = int(scaled)
        if units < self.min_price or units > self.max_price:
            raise Rejected(Reason.PRICE_RANGE, field)
        if units % self.tick:
            raise Rejected(Reason.PRICE_TICK, field)
        return units

    def check_qty(self, raw: object, field: str = "quantity") -> int:
        """Validate a quantity (positive, on the step, in range); returns quantity units."""
        qty = parse_decimal(raw, field)
        if qty <= 0:
            raise Rejected(Reason.BAD_QUANTITY, field)
        scaled = qty.scaleb(self.qd)
        if scaled != scaled.to_integral_value():
            raise Rejected(Reason.QTY_STEP, field)
        units = int(scaled)
        if units < self.min_qty:
            raise Rejected(Reason.QTY_RANGE, field, BELOW_MIN)
        if units > self.max_qty:
            raise Rejected(Reason.QTY_RANGE, field, ABOVE_MAX)
        if units % self.step:
            raise Rejected(Reason.QTY_STEP, field)
        return units

    def check_notional(self, price_units: int, qty_units: int) -> None:
        """Validate price*qty against the notional range."""
        notional = self.notional_dec(price_units * qty_units)
        if notional < self.min_notional or notional > self.max_notional:
            raise Rejected(Reason.NOTIONAL)
