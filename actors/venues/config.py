"""Frozen configuration values for an embedded venue and its symbols."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Trading rules and simulation parameters of one spot symbol.

    Example: ``SymbolSpec("BTC/USDT", price=Decimal("60000"), tick_size=Decimal("0.01"))``
    """

    symbol: str
    price: Decimal = Decimal("100")
    tick_size: Decimal = Decimal("0.01")
    step_size: Decimal = Decimal("0.001")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal("9000")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    # how far makers quote from fair value, and how much fair value moves
    depth_bps: float = 5.0
    vol_bps_per_sqrt_s: float = 2.0
    maker_qty: Decimal = Decimal("0.5")

    @property
    def base(self) -> str:
        """Base asset code."""
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        """Quote asset code."""
        return self.symbol.split("/")[1]

    @property
    def market_id(self) -> str:
        """Binance market id, e.g. ``BTCUSDT``."""
        return self.base + self.quote


KNOWN_SYMBOLS: dict[str, SymbolSpec] = {
    "BTC/USDT": SymbolSpec(
        "BTC/USDT",
        price=Decimal("60000"),
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.00001"),
        min_qty=Decimal("0.00001"),
        max_qty=Decimal("9000"),
        maker_qty=Decimal("0.05"),
    ),
    "ETH/USDT": SymbolSpec(
        "ETH/USDT",
        price=Decimal("3000"),
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.0001"),
        min_qty=Decimal("0.0001"),
        max_qty=Decimal("9000"),
        maker_qty=Decimal("1"),
    ),
    "ETH/BTC": SymbolSpec(
        "ETH/BTC",
        price=Decimal("0.05"),
        tick_size=Decimal("0.00001"),
        step_size=Decimal("0.0001"),
        min_qty=Decimal("0.0001"),
        min_price=Decimal("0.00001"),
        max_price=Decimal("1000"),
        min_notional=Decimal("0.0001"),
        max_notional=Decimal("9000"),
        maker_qty=Decimal("1"),
    ),
}


def symbol_spec(symbol: str) -> SymbolSpec:
    """Return the spec of a known symbol, or generic rules for any ``BASE/QUOTE``."""
    if symbol in KNOWN_SYMBOLS:
        return KNOWN_SYMBOLS[symbol]
    parts = symbol.split("/")
    if len(parts) != 2 or not all(p.isalnum() and p.isupper() for p in parts):
        raise ValueError(f"symbol must look like BASE/QUOTE, got {symbol!r}")
    return SymbolSpec(symbol)


@dataclass(frozen=True, slots=True)
class StartupFaults:
    """Faults active from start-up; the same knobs exist at run time on ``Venue.faults``."""

    latency_s: float = 0.0
    clock_skew_ms: int = 0
    refuse_connections_s: float = 0.0
    rate_limit_next: int = 0
    stall_streams_s: float = 0.0


DEFAULT_BALANCES: dict[str, Decimal] = {
    "USDT": Decimal("100000"),
    "BTC": Decimal("1"),
    "ETH": Decimal("10"),
}


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """Everything needed to start one simulated Binance-spot venue.

    Example: ``VenueConfig(name="sim-a", symbols=("BTC/USDT",), seed=7, rate_hz=200.0)``
    """

    name: str = "sim"
    host: str = "127.0.0.1"
    port: int = 0
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    seed: int = 1
    rate_hz: float = 50.0
    api_key: str = "sim-api-key"
    secret: str = "sim-secret"
    balances: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    # Binance's spot limits: 6000 weight per minute per IP, 50 orders per 10 s
    weight_limit_1m: int = 6000
    order_limit_10s: int = 50
    ban_after_429s: int = 3
    ban_seconds: float = 10.0
    depth_interval_s: float = 0.1
    ping_interval_s: float = 20.0
    max_resting_per_side: int = 150
    market: bool = True
    faults: StartupFaults = field(default_factory=StartupFaults)

    def __post_init__(self) -> None:
        """Refuse anything that is not loopback or not a valid symbol list."""
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"the embedded venue listens on loopback only, not {self.host!r}")
        if not self.symbols:
            raise ValueError("at least one symbol is required")
        for s in self.symbols:
            symbol_spec(s)
        if self.rate_hz < 0:
            raise ValueError("rate_hz must be >= 0")

    def specs(self) -> list[SymbolSpec]:
        """Specs of this venue's symbols, in order."""
        return [symbol_spec(s) for s in self.symbols]
