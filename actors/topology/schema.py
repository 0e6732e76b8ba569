"""The shape of a topology file: venues, symbols, strategies, limits, supervision.

Every section refuses keys it does not know, so a typo is an error naming the key, never a
silently ignored setting. Values are converted by msgspec; ``load.py`` turns its errors into
messages that name the file and the key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from actors.testing.plan import FaultPlan
from actors.trading.risk import RiskLimits

# Declared ranges (msgspec checks them while converting; ``numbers.py`` holds every number,
# declared or not, to finiteness and a range after conversion).
Seconds = Annotated[float, Meta(ge=0, le=86_400)]
"""A duration of at most a day; 0 allowed."""
PositiveSeconds = Annotated[float, Meta(gt=0, le=86_400)]
Port = Annotated[int, Meta(ge=0, le=65_535)]
Count = Annotated[int, Meta(ge=0, le=1_000_000)]


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section."""


class BackoffSection(Section):
    """Restart backoff: ``min(maximum, initial * multiplier**n)``, jittered; a key left out
    falls back to ``[supervision.backoff]``, then to the group's built-in default."""

    initial: Seconds | None = None
    maximum: Seconds | None = None
    multiplier: Annotated[float, Meta(ge=1, le=100)] | None = None
    jitter: Annotated[float, Meta(ge=0, lt=1)] | None = None
    reset_after: Seconds | None = None


class ActorGroupSection(Section):
    """Supervision of a group that is one actor under the root (venues, journal, risk,
    router): its backoff and grace. Its restarts count against the root's intensity."""

    shutdown_grace: Annotated[float, Meta(ge=0, le=3_600)] | None = None
    backoff: BackoffSection = BackoffSection()


class GroupSection(ActorGroupSection):
    """Supervision of a group with a supervisor of its own (market, exec, books,
    consolidated, strategies): its children's backoff and grace, and its restart intensity.

    ``give_up``: ``escalate`` (past ``max_restarts`` within ``within`` the group stops and
    fails to the root, which restarts it within its own intensity) or ``stop_child`` (each
    child is counted on its own; one past the limit is stopped for good and reported, its
    siblings go on).
    """

    max_restarts: Count | None = None
    within: PositiveSeconds | None = None
    give_up: Literal["escalate", "stop_child"] | None = None


class SupervisionSection(Section):
    """The root's restart intensity, defaults for every group, and each group's own table.

    ``max_restarts``/``within`` are the root's: past them the desk stops (exit 1).
    ``shutdown_grace`` and ``backoff`` here apply to every group that does not set its own;
    ``[supervision.<group>]`` tables override per group (``actors check`` prints the
    effective values).
    """

    max_restarts: Count = 10
    within: PositiveSeconds = 60.0
    shutdown_grace: Annotated[float, Meta(ge=0, le=3_600)] | None = None
    backoff: BackoffSection = BackoffSection()
    blocked_after: float = 0.5
    """Seconds a handler may hold the event loop without a checkpoint before it is reported
    with its stack (0: no monitor)."""
    venues: ActorGroupSection = ActorGroupSection()
    journal: ActorGroupSection = ActorGroupSection()
    risk: ActorGroupSection = ActorGroupSection()
    router: ActorGroupSection = ActorGroupSection()
    consolidated: GroupSection = GroupSection()
    books: GroupSection = GroupSection()
    exec: GroupSection = GroupSection()
    strategies: GroupSection = GroupSection()
    market: GroupSection = GroupSection()


class EmbeddedSection(Section):
    """Settings of an embedded (simulated) venue started inside the process."""

    protocol: Literal["binance", "okx"] = "binance"
    """Wire protocol the venue speaks (Binance spot or OKX v5); the desk uses that ccxt class."""
    port: Port = 0
    """0 picks a free port."""
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 1
    rate_hz: Annotated[float, Meta(ge=0, le=10_000)] = 20.0
    """Book changes per second per symbol from the synthetic participants."""
    api_key: str | None = None
    """Credentials the venue accepts (default: generated for each run and logged at start,
    so keys published in a repository never work against a running paper desk)."""
    secret: str | None = None
    balances: dict[str, Decimal] | None = None
    maker_fee: Annotated[float, Meta(ge=0, le=0.1)] = 0.001
    """Fee of a maker fill, as a fraction of its cost (0.001: 10 bps)."""
    taker_fee: Annotated[float, Meta(ge=0, le=0.1)] = 0.001
    """Fee of a taker fill, as a fraction of its cost."""


class VenueSection(Section):
    """One venue the desk trades on."""

    name: str
    symbols: list[str]
    kind: Literal["embedded", "exchange"] = "embedded"
    """``embedded``: the simulated venue in this process; ``exchange``: a real ccxt exchange."""
    exchange: str | None = None
    """ccxt id of a real exchange (``kind = "exchange"``; default ``binance``). An embedded
    venue names its protocol in ``embedded.protocol`` instead."""
    sandbox: bool = False
    """A real exchange's test environment (ccxt's sandbox mode: Binance's spot testnet, OKX's
    demo trading)."""
    api_key_env: str | None = None
    """Environment variable holding the API key of a real exchange (never the key itself)."""
    secret_env: str | None = None
    password_env: str | None = None
    """Environment variable holding the API passphrase (ccxt's ``password``: OKX, KuCoin...)."""
    options: dict[str, Any] = {}
    """Extra ccxt constructor options."""
    stall_after: PositiveSeconds = 10.0
    """Seconds without a market-data message, while connected, that count as a stalled feed."""
    watch_trades: bool = True
    watch_tickers: bool = False
    """Also stream 24h tickers to the strategies (``Strategy.on_ticker``)."""
    user_streams: bool = True
    """Orders, fills and balances over the websocket; false: REST only, the router polls."""
    liveness_interval: Seconds = 10.0
    """Seconds between checks that a quiet user stream is still alive (0: no checks)."""
    submit_timeout: Annotated[float, Meta(gt=0, le=600)] = 5.0
    """An order submit with no answer within this long is UNKNOWN and gets reconciled."""
    order_entry: Literal["ws", "rest"] | None = None
    """``ws``: orders and cancels over the exchange's websocket API (ccxt's
    ``createOrderWs``), REST while that socket is down; ``rest``: always REST. Default: ``ws``
    where the exchange has it (both embedded protocols do), else ``rest``."""
    rate: Annotated[float, Meta(gt=0, le=100_000)] = 20.0
    """REST requests per second to this venue, shared by all its connections."""
    burst: Annotated[int, Meta(ge=1, le=100_000)] = 10
    book_depth: Annotated[int, Meta(ge=1, le=5_000)] = 20
    embedded: EmbeddedSection = EmbeddedSection()


class StrategySection(Section):
    """A strategy actor: a class loaded by dotted path, with its parameters."""

    name: str
    class_: str = msgspec.field(name="class")
    """``package.module:Class`` or ``package.module.Class``."""
    symbols: list[str] = []
    venues: list[str] = []
    """Venues it trades on (empty: all venues)."""
    params: dict[str, Any] = {}


class DeskSection(Section):
    """The desk as a whole."""

    name: str = "desk"
    journal: str = "var/journal.sqlite"
    """SQLite journal path (relative paths are taken from the current directory)."""
    cancel_on_shutdown: bool = True
    book_stale_after: PositiveSeconds = 3.0
    """A book without an update this long marks itself stale (risk refuses orders against
    it); a quiet market needs more."""
    orphans: Literal["adopt", "cancel", "ignore"] = "adopt"
    """Open venue orders with this desk's client-id prefix that the journal does not know:
    adopt them (tracked, given to their strategy), cancel them, or only log them."""
    resume: bool = False
    """Continue a journal of earlier embedded-venue sessions (their positions and trading
    state) instead of moving it aside for a fresh one (``actors run --resume``)."""
    snapshot_every: Annotated[int, Meta(ge=0, le=100_000_000)] = 10_000
    """Journal records between snapshots of the desk's state; start-up replays at most about
    this many records after the newest snapshot (0: no snapshots)."""
    retention: Annotated[float, Meta(ge=0, le=365 * 86_400)] = 3600.0
    """Seconds a finished order stays in the desk's state; then its records move to the
    journal's archive (``<journal>.archive``)."""
    retain_orders: Annotated[int, Meta(ge=0, le=10_000_000)] = 10_000
    """At most this many finished orders stay in the desk's state (the newest)."""


class JournalSection(Section):
    """How durable the journal's commits are (see :mod:`actors.trading.journal`)."""

    sync: Literal["normal", "full"] = "normal"
    """``normal``: a commit survives any crash of the process (SIGKILL included), and a power
    loss is covered by the venue through durable client-id leases; ``full``: every commit
    is fsync'd before the order leaves (slower, survives a power loss on its own)."""
    id_block: Annotated[int, Meta(ge=1, le=4096)] = 16
    """Client order ids per durable lease (one fsync per block; at start-up at most about
    this many ids per strategy are looked up at the venues)."""


class ObserveSection(Section):
    """What the process tells about itself while it runs."""

    status_interval: Seconds = 10.0
    """Seconds between status lines in the log (0: none)."""
    metrics_port: Port | None = None
    """Port of the metrics endpoint on 127.0.0.1 (None: no endpoint, 0: a free port)."""
    poll_interval: PositiveSeconds = 1.0
    """Seconds between looks at books, orders and risk for the view, metrics and ``ctl``."""
    control: bool = True
    """Serve the control endpoint of ``actors ctl`` on a free 127.0.0.1 port."""
    control_file: str = ""
    """Where the desk writes the control endpoint's URL and token ("": beside the journal)."""


class ClusterSection(Section):
    """Where the nodes of a split desk meet: a NATS server with JetStream (README: "Beyond
    one process"). Used only when ``[nodes]`` are declared."""

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    name: str = ""
    """Cluster name in every subject ("": the desk's name)."""
    heartbeat: PositiveSeconds = 1.0
    """Seconds between a node's heartbeats."""
    node_timeout: PositiveSeconds = 5.0
    """Seconds of silence after which the other nodes call a node down."""
    lease_ttl: PositiveSeconds = 10.0
    """Seconds an execution node keeps a venue account's lease without renewing it."""
    ack_wait: PositiveSeconds = 10.0
    """Seconds JetStream waits for a node's ack before it redelivers a durable message."""


class NodeSection(Section):
    """One node (process) of a split desk: the actor groups it runs."""

    groups: list[str] = []
    """Top-level groups: venues, journal, risk, consolidated, books, exec, router,
    strategies, market (journal, risk, router and exec go together)."""
    market_data: list[str] = []
    """Venues whose market data this node runs: each one's feed (``/market/<venue>``) and
    books (``/books/<venue>/...``), instead of the whole ``market`` and ``books`` groups."""


class Topology(Section):
    """A whole topology file."""

    venues: list[VenueSection]
    desk: DeskSection = DeskSection()
    journal: JournalSection = JournalSection()
    supervision: SupervisionSection = SupervisionSection()
    risk: RiskLimits = RiskLimits()
    cluster: ClusterSection = ClusterSection()
    nodes: dict[str, NodeSection] = {}
    """Placement of the groups on nodes; none: everything in one process."""
    strategies: list[StrategySection] = []
    observe: ObserveSection = ObserveSection()
    faults: FaultPlan | None = None
    """Chaos mode: faults to inject while the desk runs (``actors.testing.plan``)."""

    def resumed(self) -> Topology:
        """This topology with ``desk.resume`` set (``actors run --resume``)."""
        return msgspec.structs.replace(self, desk=msgspec.structs.replace(self.desk, resume=True))
