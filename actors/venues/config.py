"""Frozen configuration values for an embedded venue and its symbols."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
"""Where a venue may listen. IPv6 loopback is refused: the listener is IPv4 only."""
PROTOCOLS = ("binance", "okx")
Protocol = Literal["binance", "okx"]
MAX_RATE_HZ = 1_000_000.0
"""Upper bound of the synthetic event rate (events per second per symbol)."""


def check_host(host: str) -> None:
    """Refuse anything but IPv4 loopback, with a message that says what to use instead."""
    if host == "::1" or host.startswith("["):
        raise ValueError(f"IPv6 is not supported: the venue listens on 127.0.0.1, not {host!r}")
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the embedded venue listens on loopback only, not {host!r}")


def check_rate(rate_hz: object) -> float:
    """A synthetic event rate as a float in [0, MAX_RATE_HZ], else ValueError saying why."""
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float)):
        raise ValueError(f"rate_hz must be a number, got {rate_hz!r}")
    rate = float(rate_hz)
    if not math.isfinite(rate) or not 0 <= rate <= MAX_RATE_HZ:
        raise ValueError(f"rate_hz must be a number in [0, {MAX_RATE_HZ:g}], got {rate_hz!r}")
    return rate


def generated_key() -> str:
    """A fresh random API key (hex), for credentials generated per run."""
    return secrets.token_hex(16)


def generated_secret() -> str:
    """A fresh random API secret."""
    return secrets.token_hex(32)


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
    # how far makers quote from fair value (mean, exponential), how far synthetic takers may
    # reach through it, and how much fair value moves
    depth_bps: float = 5.0
    taker_band_bps: float = 10.0
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
    """Everything needed to start one simulated venue speaking ``protocol``.

    Credentials: ``None`` generates a fresh random value for this run (what ``actors
    sim-exchange`` does, printing them); the defaults are fixed, well-known test credentials
    for in-process tests. ``control_token`` guards the ``/_sim`` control endpoint (``None``:
    generated per run). ``tls`` serves https/wss with a self-signed certificate generated at
    start-up (see ``tls.py``).

    Example: ``VenueConfig(name="sim-a", protocol="okx", symbols=("BTC/USDT",), seed=7)``
    """

    name: str = "sim"
    host: str = "127.0.0.1"
    port: int = 0
    protocol: Protocol = "binance"
    symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")
    seed: int = 1
    rate_hz: float = 50.0
    api_key: str | None = "sim-api-key"
    secret: str | None = "sim-secret"
    passphrase: str | None = "sim-passphrase"
    control_token: str | None = None
    tls: bool = False
    balances: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    # Binance's spot limits: 6000 weight per minute per IP, 50 orders per 10 s
    weight_limit_1m: int = 6000
    order_limit_10s: int = 50
    ban_after_429s: int = 3
    ban_seconds: float = 10.0
    # OKX's limits are per endpoint per 2 s; this scales its table (1.0: OKX's own figures)
    okx_limit_scale: float = 1.0
    depth_interval_s: float = 0.1
    ping_interval_s: float = 20.0
    max_resting_per_side: int = 150
    default_stp: str = "EXPIRE_MAKER"
    """Binance's ``defaultSelfTradePreventionMode`` for orders that name none (OKX always
    prevents self-trades, ``cancel_maker`` unless the order says otherwise)."""
    market: bool = True
    faults: StartupFaults = field(default_factory=StartupFaults)

    def __post_init__(self) -> None:
        """Refuse anything that is not loopback, a known protocol or a valid symbol list;
        fill in credentials left ``None`` with values generated for this run."""
        check_host(self.host)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {self.protocol!r}")
        if not self.symbols:
            raise ValueError("at least one symbol is required")
        for s in self.symbols:
            symbol_spec(s)
        check_rate(self.rate_hz)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.default_stp not in ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"):
            raise ValueError(f"default_stp: unknown self-trade prevention {self.default_stp!r}")
        generated = {
            "api_key": generated_key,
            "secret": generated_secret,
            "passphrase": lambda: secrets.token_urlsafe(12),
            "control_token": lambda: secrets.token_urlsafe(24),
        }
        for name, make in generated.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, make())

    def specs(self) -> list[SymbolSpec]:
        """Specs of this venue's symbols, in order."""
        return [symbol_spec(s) for s in self.symbols]
