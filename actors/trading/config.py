"""Frozen configuration values of a desk, and the actor paths derived from them.

Every trading actor takes plain values or these frozen objects and finds its peers by path
(see :func:`book_path` and friends), so a topology builder can wire a desk from a TOML file.

>>> book_path("sim", "BTC/USDT")
'/books/sim/BTC-USDT'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from actors.runtime.backoff import Backoff
from actors.runtime.spec import GiveUp

FEED_BACKOFF = Backoff(initial=0.2, maximum=10.0, multiplier=2.0, jitter=0.2, reset_after=30.0)
"""Default restart backoff of venue-facing actors: a flapping venue is retried gently."""
CORE_BACKOFF = Backoff(initial=0.05, maximum=2.0, multiplier=2.0, jitter=0.1, reset_after=30.0)
"""Default restart backoff of in-process actors: back quickly, they hold no connection."""


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """How one group of the desk is supervised.

    ``backoff`` and ``shutdown_grace`` apply to each actor of the group. The restart
    intensity (``max_restarts`` within ``within`` seconds) and ``give_up`` apply to the
    group's own supervisor; a group that is a single actor under the root (journal, risk,
    router) counts against the root's intensity instead.

    >>> GroupPolicy(CORE_BACKOFF, max_restarts=5, within=60.0).give_up.value
    'escalate'
    """

    backoff: Backoff
    shutdown_grace: float = 5.0
    max_restarts: int = 10
    within: float = 10.0
    give_up: GiveUp = GiveUp.ESCALATE


SINGLE_ACTOR_GROUPS = ("venues", "journal", "risk", "router")
"""Groups that are one actor directly under the root."""
SUPERVISED_GROUPS = ("consolidated", "books", "exec", "strategies", "market")
"""Groups with a supervisor of their own."""

DEFAULT_GROUPS: Mapping[str, GroupPolicy] = {
    "venues": GroupPolicy(FEED_BACKOFF),
    "journal": GroupPolicy(CORE_BACKOFF),
    "risk": GroupPolicy(CORE_BACKOFF),
    "consolidated": GroupPolicy(CORE_BACKOFF, max_restarts=10, within=10.0),
    "books": GroupPolicy(CORE_BACKOFF, max_restarts=10, within=10.0),
    # A venue that is down is retried for as long as it takes: with this backoff a feed
    # restarts at most about 9 times a minute, well inside 30 within 60 s.
    "exec": GroupPolicy(FEED_BACKOFF, max_restarts=30, within=60.0),
    # The router may cancel open orders and wait for their outcomes as it stops.
    "router": GroupPolicy(CORE_BACKOFF, shutdown_grace=15.0),
    # A strategy that crashes on every message is a bug, not weather: after 5 restarts in a
    # minute it alone is stopped for good and reported, and the other strategies go on.
    "strategies": GroupPolicy(CORE_BACKOFF, max_restarts=5, within=60.0, give_up=GiveUp.STOP_CHILD),
    "market": GroupPolicy(FEED_BACKOFF, max_restarts=30, within=60.0),
}
"""Built-in supervision of every group; a topology overrides any of it per group."""

JOURNAL = "/journal"
RISK = "/risk"
ROUTER = "/router"


def symbol_tag(symbol: str) -> str:
    """'BTC-USDT' for 'BTC/USDT' ('/' is not allowed in actor names)."""
    return symbol.replace("/", "-").replace(":", "_")


def book_path(venue: str, symbol: str) -> str:
    """Path of the order-book actor of ``venue`` and ``symbol``."""
    return f"/books/{venue}/{symbol_tag(symbol)}"


def consolidated_path(symbol: str) -> str:
    """Path of the consolidated best bid/offer actor of ``symbol``."""
    return f"/consolidated/{symbol_tag(symbol)}"


def market_path(venue: str) -> str:
    """Path of the market-data connection of ``venue``."""
    return f"/market/{venue}"


def exec_path(venue: str) -> str:
    """Path of the private session (orders, fills, balances) of ``venue``."""
    return f"/exec/{venue}"


def strategy_path(name: str) -> str:
    """Path of the strategy actor called ``name``."""
    return f"/strategies/{name}"


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """One venue of the desk: its ccxt options and the symbols traded there.

    >>> VenueSpec("sim", {"apiKey": "k"}, ("BTC/USDT",)).exchange
    'binance'
    """

    name: str
    ccxt: Mapping[str, Any]
    symbols: tuple[str, ...]
    exchange: str = "binance"
    """ccxt.pro class name (an embedded venue: its protocol); also names its dialect."""
    stall_after: float = 5.0
    """A market stream silent this long while connected counts as a crash."""
    watch_trades: bool = True
    rate: float = 20.0
    """Desk-wide REST requests per second to this venue (shared by its connections)."""
    burst: int = 10
    submit_timeout: float = 5.0
    """ccxt's REST time-out of the private session; a submit that overruns it is UNKNOWN."""
    user_streams: bool = True
    """Watch orders/fills/balances over the websocket; False: REST only, the router polls
    open orders every ``DeskOptions.reconcile_interval`` (venues without a user stream)."""
    watch_tickers: bool = False
    """Also watch each symbol's 24h ticker (``watch_ticker``) and publish ``Ticker`` messages
    to the strategies. Off by default: one more stream per symbol that not every venue has."""
    liveness_interval: float = 10.0
    """Seconds between the private session's liveness checks while user streams are on: it
    compares the venue's open orders (REST) with the router's view; a failed check or a
    difference seen on two checks in a row means the user stream missed something, and the
    session crashes (restart, resubscribe, reconcile). A quiet account passes. 0 disables."""
    self_trade_mode: str | None = None
    """The desk's self-trade policy (``RiskLimits.self_trade``: reject, cancel_resting,
    cancel_both) that the exchange backs up with its own prevention, where its dialect knows
    the parameter (Binance ``selfTradePreventionMode``, OKX ``stpMode``); None sends nothing."""
    order_entry: Literal["ws", "rest"] = "ws"
    """``ws``: orders and cancels over the exchange's websocket API where its dialect and
    ccxt have it (``createOrderWs``), REST while that socket is down; ``rest``: always REST."""
    sandbox: bool = False
    """Use the exchange's test environment (ccxt's sandbox mode: Binance spot testnet, OKX
    demo trading)."""
    identity: Literal["session", "account"] | None = None
    """How the journal recognises this venue (see :mod:`actors.trading.journal_session`):
    ``session``, an embedded venue, by the session id it serves (a journal of another session
    is moved aside for a fresh one); ``account``, a real exchange, by the fingerprint of its
    API key (a journal of another account is refused); None: not checked."""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"venue name must be non-empty without '/', got {self.name!r}")
        if not self.symbols:
            raise ValueError(f"venue {self.name}: at least one symbol is required")
        if self.stall_after <= 0 or self.submit_timeout <= 0:
            raise ValueError(f"venue {self.name}: stall_after and submit_timeout must be > 0")
        interval = self.liveness_interval
        if (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or not (0 <= interval < float("inf"))
        ):
            raise ValueError(
                f"venue {self.name}: liveness_interval must be a finite number >= 0 "
                f"(0 disables), got {self.liveness_interval!r}"
            )


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy to load by dotted path (``pkg.mod:Class`` or ``pkg.mod.Class``) with params.

    >>> StrategySpec("mm", "actors.trading.strategies.market_maker:MarketMaker").name
    'mm'
    """

    name: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeskOptions:
    """Desk-wide knobs of books, router and journal."""

    journal_path: str = "journal.sqlite"
    book_depth: int = 20
    book_stale_after: float = 3.0
    """A book without an update this long marks itself stale."""
    cancel_on_shutdown: bool = False
    unknown_grace: float = 30.0
    """An in-flight order the venue does not know is REJECTED only after this long."""
    unknown_retry: float = 0.5
    """Seconds between reconciliation attempts of an UNKNOWN order."""
    reconcile_interval: float = 2.0
    """How often the router looks for submits that never got an answer."""
    orphans: str = "adopt"
    """A venue order carrying this desk's client-id prefix that the journal does not know
    (a lost journal tail, an older journal): ``adopt`` it (journaled, tracked, given to its
    strategy), ``cancel`` it (adopted, then cancelled), or ``ignore`` it (logged)."""
    client_id_prefix: str = "ax"
    """The start of this desk's client order ids (see :mod:`actors.trading.ids`)."""
    journal_sync: str = "normal"
    """``normal`` (SQLite ``synchronous=NORMAL``: survives a process crash; a power loss is
    covered by the client-id leases) or ``full`` (every commit fsync'd)."""
    client_id_block: int = 16
    """Client order ids per durable lease (:mod:`actors.trading.leases`)."""
    journal_flush_interval: float = 0.05
    """Non-durable journal appends are committed at most this late."""
    desk_name: str | None = None
    """Recorded in the journal (a journal written by another desk is reported)."""
    resume: bool = False
    """Continue a journal of other embedded-venue sessions instead of starting a fresh one."""
    snapshot_every: int = 10_000
    """Journal records between snapshots of the desk's state (start-up replays at most about
    this many records after the newest snapshot); 0: no snapshots."""
    retention: float = 3600.0
    """Seconds a terminal order stays in the state after its last record; older ones leave
    the snapshots, and their records move to the journal's archive."""
    retain_orders: int = 10_000
    """At most this many terminal orders are kept in the state (the newest)."""
    groups: Mapping[str, GroupPolicy] = field(default_factory=lambda: dict(DEFAULT_GROUPS))
    """Supervision of each group, by name (see ``DEFAULT_GROUPS``); missing groups get the
    built-in policy."""

    def policy(self, group: str) -> GroupPolicy:
        """The supervision policy of ``group``."""
        found = self.groups.get(group)
        return found if found is not None else DEFAULT_GROUPS[group]
