"""Per-symbol filters (PRICE_FILTER, LOT_SIZE, NOTIONAL), fixed-point numbers and exchangeInfo."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from actors.venues import errors
from actors.venues.config import SymbolSpec


def decimals_of(value: Decimal) -> int:
    """Number of decimal places needed to write ``value`` exactly."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt(units: int, decimals: int) -> str:
    """Write fixed-point ``units * 10**-decimals`` as Binance does (at least 8 decimals)."""
    pad = max(decimals, 8)
    units_padded = units * 10 ** (pad - decimals)
    sign = "-" if units_padded < 0 else ""
    digits = str(abs(units_padded)).rjust(pad + 1, "0")
    return f"{sign}{digits[:-pad]}.{digits[-pad:]}"


def parse_decimal(raw: object, name: str) -> Decimal:
    """Parse a request parameter as a finite Decimal, else -1100."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise errors.illegal_chars(name) from None
    if not value.is_finite():
        raise errors.illegal_chars(name)
    return value


class Market:
    """One symbol's rules in fixed point: prices in ticks of 10**-pd, quantities of 10**-qd.

    Example: ``m = Market(symbol_spec("BTC/USDT")); m.price_str(m.to_price_units(Decimal("1")))``
    """

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.id = spec.market_id
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
        """Wire string of a price."""
        return fmt(units, self.pd)

    def qty_str(self, units: int) -> str:
        """Wire string of a quantity."""
        return fmt(units, self.qd)

    def notional_str(self, units: int) -> str:
        """Wire string of a price*qty product."""
        return fmt(units, self.pd + self.qd)

    def check_price(self, raw: object) -> int:
        """Validate a limit price against PRICE_FILTER; returns price units."""
        price = parse_decimal(raw, "price")
        if price <= 0:
            raise errors.BinanceError(400, -1013, "Invalid price.")
        scaled = price.scaleb(self.pd)
        if scaled != scaled.to_integral_value():
            raise errors.filter_failure("PRICE_FILTER")
        units = int(scaled)
        if units < self.min_price or units > self.max_price or units % self.tick:
            raise errors.filter_failure("PRICE_FILTER")
        return units

    def check_qty(self, raw: object) -> int:
        """Validate a quantity against LOT_SIZE; returns quantity units."""
        qty = parse_decimal(raw, "quantity")
        if qty <= 0:
            raise errors.BinanceError(400, -1013, "Invalid quantity.")
        scaled = qty.scaleb(self.qd)
        if scaled != scaled.to_integral_value():
            raise errors.filter_failure("LOT_SIZE")
        units = int(scaled)
        if units < self.min_qty or units > self.max_qty or units % self.step:
            raise errors.filter_failure("LOT_SIZE")
        return units

    def check_notional(self, price_units: int, qty_units: int) -> None:
        """Validate price*qty against NOTIONAL."""
        notional = self.notional_dec(price_units * qty_units)
        if notional < self.min_notional or notional > self.max_notional:
            raise errors.filter_failure("NOTIONAL")

    def exchange_info(self) -> dict[str, object]:
        """This symbol's entry in ``/api/v3/exchangeInfo``."""
        s = self.spec
        return {
            "symbol": self.id,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "amendAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(self.min_price, self.pd),
                    "maxPrice": fmt(self.max_price, self.pd),
                    "tickSize": fmt(self.tick, self.pd),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(self.min_qty, self.qd),
                    "maxQty": fmt(self.max_qty, self.qd),
                    "stepSize": fmt(self.step, self.qd),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": f"{s.min_notional:.8f}",
                    "applyMinToMarket": True,
                    "maxNotional": f"{s.max_notional:.8f}",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER"],
        }
