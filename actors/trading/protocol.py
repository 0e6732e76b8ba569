"""Requests and replies between the trading actors (not journaled, but serialisable).

The journaled domain messages live in :mod:`actors.trading.messages`; this module holds the
plumbing around them: journal appends, book and order queries, venue commands of the router
to a private session, and session notices. All are frozen ``msgspec.Struct``s, so a remote
transport can carry them like any other message.

>>> Append(events=(), durable=False).durable
False
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from actors.trading.messages import (
    BookSnapshot,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    Side,
    SubmitOrder,
    TradingState,
)


class Request(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Base of the actor-to-actor requests of the trading wing."""


# --- journal -------------------------------------------------------------------------------


class Append(Request, frozen=True, kw_only=True):
    """Append ``events`` in one transaction; ``durable=True`` commits before the reply.

    ``durable=False`` only queues them: they are committed with the next durable append
    (same transaction, same order) or by the journal's flush timer, whichever comes first.
    """

    events: tuple[Message, ...]
    durable: bool = True


class ReadJournal(Request, frozen=True, kw_only=True):
    """Ask for every journaled message still in the journal, oldest first (records that
    compaction moved to the archive are not among them)."""


class ReadState(Request, frozen=True, kw_only=True):
    """Ask for the desk's state as the journal has it now (a ``DeskState``: orders,
    positions, trading state), to start from: the router and risk rebuild from it."""


class Flush(Request, frozen=True, kw_only=True):
    """Commit whatever non-durable appends are queued."""


class IdLease(Request, frozen=True, kw_only=True):
    """Counters ``first`` up to (not including) ``end`` of the client-id stem ``stem``, leased
    to ``strategy`` by run ``run``: on disk before any of its ids is used
    (:mod:`actors.trading.leases`)."""

    seq: int
    run: str
    strategy: str
    stem: str
    first: int
    end: int
    venues: tuple[str, ...] = ()
    """Where its ids may be used (empty: every venue of the desk)."""
    symbols: tuple[str, ...] = ()
    """Which symbols (empty: every symbol of those venues)."""


class LeaseIds(Request, frozen=True, kw_only=True):
    """Ask the journal for the next ``count`` ids of ``stem`` (an ``IdLease``, fsync'd first).

    Asked, the reply is the lease; sent with ``reply_to`` (a path), the journal writes it on
    a worker thread and sends the ``IdLease`` there, its mailbox never waiting for the fsync.
    """

    strategy: str
    stem: str
    count: int
    venues: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    reply_to: str | None = None


class ReadLeases(Request, frozen=True, kw_only=True):
    """Ask the journal for the leases of earlier runs not settled yet (``OutstandingLease``s,
    oldest first)."""


class OutstandingLease(Request, frozen=True, kw_only=True):
    """A lease of an earlier run and those of its ids the journal has no record of: each
    may be an order the venue holds whose records a power loss took (look it up)."""

    lease: IdLease
    unknown: tuple[str, ...]


class SettleLeases(Request, frozen=True, kw_only=True):
    """Every id of these leases is accounted for (journaled, or looked up at the venues)."""

    seqs: tuple[int, ...]


# --- books ---------------------------------------------------------------------------------


class GetBook(Request, frozen=True, kw_only=True):
    """Ask a book actor for its current book (a ``BookView``)."""


class BookView(Request, frozen=True, kw_only=True):
    """A book actor's state: its last accepted snapshot, staleness and counters."""

    snapshot: BookSnapshot | None
    stale: bool
    stale_reason: str | None
    updates: int
    rejected: int
    stale_episodes: int = 0
    """How often the book went from fresh to stale (a test can wait for the count, not the
    moment)."""


class GetConsolidated(Request, frozen=True, kw_only=True):
    """Ask a consolidated-BBO actor for its current ``ConsolidatedTop`` (or None)."""


# --- router <-> private session -------------------------------------------------------------


class PlaceOrder(Request, frozen=True, kw_only=True):
    """Router -> session: send this (already journaled) submit to the venue."""

    submit: SubmitOrder


class CancelAtVenue(Request, frozen=True, kw_only=True):
    """Router -> session: cancel an order by client order id.

    Asked: the reply is the outcome (``OrderUpdate`` or ``CancelRejected``). With
    ``notify=True`` (sent): the session cancels in a task of its own, so several cancels are
    in flight at once, and sends the outcome to the router.
    """

    client_order_id: str
    symbol: str
    notify: bool = False


class FetchOrder(Request, frozen=True, kw_only=True):
    """Router -> session (ask): the venue's view of one order, or None if unknown there."""

    client_order_id: str
    symbol: str
    amount: Decimal | None = None


class LookupOrder(Request, frozen=True, kw_only=True):
    """Find an order of ours the journal may not know, by client order id, on any of
    ``symbols``: the ``VenueOrder`` (with its side, amount and price), or None."""

    client_order_id: str
    symbols: tuple[str, ...]


class FetchOpenOrders(Request, frozen=True, kw_only=True):
    """Router -> session (ask): every open order of the account on the given symbols."""

    symbols: tuple[str, ...]


class FetchFills(Request, frozen=True, kw_only=True):
    """Router -> session (ask): the account's fills of one symbol (for catch-up).

    With ``venue_order_id``, the fills of that order only, every page of them.
    """

    symbol: str
    venue_order_id: str | None = None


class GetMarkets(Request, frozen=True, kw_only=True):
    """Ask a private session for its venue's ``Markets`` (precision and limits per symbol)."""


class FetchBalances(Request, frozen=True, kw_only=True):
    """Router -> session (ask): the account's balances as ``Balances``."""


class VenueOrder(Request, frozen=True, kw_only=True):
    """An order as the venue reports it, with what is needed to adopt or compare it."""

    client_order_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal | None
    update: OrderUpdate


class Balances(Request, frozen=True, kw_only=True):
    """Free and total balance per asset of one venue account."""

    venue: str
    free: dict[str, float]
    total: dict[str, float]
    at: float = 0.0


class SessionUp(Request, frozen=True, kw_only=True):
    """A private session (re)connected: the router reconciles that venue."""

    venue: str
    incarnation: int


class ReconcileVenue(Request, frozen=True, kw_only=True):
    """Ask the router to reconcile one venue (None: all) now; replies with a summary."""

    venue: str | None = None


# --- queries -------------------------------------------------------------------------------


class GetOrders(Request, frozen=True, kw_only=True):
    """Ask the router for its orders (a tuple of ``OrderView``), all or some of them.

    ``active_only``: only possibly-live ones; ``strategy``: only that strategy's; ``since``:
    only those changed at or after this time of the router's clock (an ``OrderView``'s
    ``updated_at``), so a poller gets what changed instead of every order each time.
    """

    active_only: bool = False
    strategy: str | None = None
    since: float | None = None


class GetBalances(Request, frozen=True, kw_only=True):
    """Ask the router for the latest ``Balances`` of ``venue`` it has heard (None: none yet);
    the sessions push them as they change, so asking costs the venue nothing."""

    venue: str


class GetOrderStats(Request, frozen=True, kw_only=True):
    """Ask the router for its order counters (an ``OrderStatsView``)."""


class LatencyHistogram(Request, frozen=True, kw_only=True):
    """Counts of values (seconds) per bucket: ``buckets[i]`` counts values <= ``bounds[i]``
    and above the bound before; the last bucket is beyond every bound."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    count: int
    sum: float


class OrderStatsView(Request, frozen=True, kw_only=True):
    """The router's order counters: submits, executions, tick-to-order latency."""

    submitted: int
    fills: int
    tick_to_order: LatencyHistogram
    """Seconds from the arrival of the book a decision answered to the submit's send."""


class CancelAll(Request, frozen=True, kw_only=True):
    """Operator -> router (ask): cancel every open order (of ``venue`` / ``symbol`` if given).

    Replies with the number of orders a cancel was started for.
    """

    reason: str = "operator"
    venue: str | None = None
    symbol: str | None = None


class OrderView(Request, frozen=True, kw_only=True):
    """The router's view of one order."""

    client_order_id: str
    strategy: str
    venue: str | None
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal | None
    status: OrderStatus
    filled: Decimal
    venue_order_id: str | None
    reason: str = ""
    average_price: Decimal | None = None
    """Volume-weighted price of its fills (None: not filled)."""
    fills: int = 0
    """How many executions it had."""
    updated_at: float = 0.0
    """When it last changed (the router's trio clock; see ``GetOrders.since``)."""


class Adopted(Request, frozen=True, kw_only=True):
    """Router -> risk: a venue order the journal did not know is now the desk's (count it)."""

    intent: OrderIntent
    remaining: Decimal


class ReleaseOrder(Request, frozen=True, kw_only=True):
    """Router -> risk: stop counting an order that ended without a venue update."""

    client_order_id: str


class ReconcileOrder(Request, frozen=True, kw_only=True):
    """Router -> itself: ask the venue about one in-flight order by client order id."""

    client_order_id: str


class ParkedExpired(Request, frozen=True, kw_only=True):
    """Router -> itself: an order parked behind self-trade-prevention cancels waited too long."""

    client_order_id: str


class VenueFill(Request, frozen=True, kw_only=True):
    """A fill as the venue's trade history reports it (by venue order id, no client id)."""

    venue_order_id: str
    fill: Fill


class GetRiskState(Request, frozen=True, kw_only=True):
    """Ask the risk actor for a ``RiskView``."""


class SymbolPnL(Request, frozen=True, kw_only=True):
    """PnL of one symbol over every venue (quote currency)."""

    realised: Decimal
    """Realised on closed quantity, gross of fees (FIFO lots)."""
    unrealised: Decimal | None
    """The open position valued at the latest mid (None: open but no mark yet)."""
    fees: Decimal
    average_price: Decimal | None = None
    """Average entry price of the open position (None when flat)."""

    @property
    def total(self) -> Decimal:
        """Realised minus fees plus unrealised (an unmarked position counts 0)."""
        return self.realised - self.fees + (self.unrealised or 0)


class RiskView(Request, frozen=True, kw_only=True):
    """Trading state, positions (net base quantity per symbol) and counters of the risk actor."""

    state: TradingState
    reason: str
    positions: dict[str, Decimal]
    open_orders: int
    approved: int
    rejected: dict[str, int]
    total_pnl: Decimal
    pnl: dict[str, SymbolPnL] = {}
    """PnL per symbol traded, realised and unrealised apart."""


# --- shutdown ------------------------------------------------------------------------------


class Drain(Request, frozen=True, kw_only=True):
    """Shutdown -> router (ask): take no new orders; cancel open ones (``cancel``); the reply
    is how many cancels went out. Outcomes keep arriving as usual until the router stops."""

    cancel: bool = True


class Quiesce(Request, frozen=True, kw_only=True):
    """Shutdown -> private session (ask): stop the user-data streams; nothing more is sent to
    the router, which is about to stop. The reply is None."""
