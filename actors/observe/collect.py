"""What the operator sees, gathered from a running desk: one ``DeskSnapshot`` per poll.

:class:`DeskObserver` asks the trading actors the queries they already answer (``GetBook`` of
every ``/books/<venue>/<SYMBOL>``, ``GetOrders`` of ``/router``, ``GetRiskState`` of ``/risk``),
reads ``System.stats()`` and the lifecycle events, and keeps the latest snapshot plus a short
list of events for the live view, the status lines, the metrics and ``actors ctl``. Turning
views into a snapshot and two snapshots into events are plain functions (tested alone).

Orders are polled by what changed: the router answers ``GetOrders(since=...)`` with the
orders changed since the newest change the observer has seen (every ``FULL_EVERY`` polls, all
of them), and :class:`OrderFigures` folds each change into what the orders add up to per
strategy: orders, open orders, fills, volume, and PnL. Per symbol, the desk's PnL (realised,
unrealised, fees; FIFO lots) is risk's (``RiskView.pnl``); per strategy it is replayed from
the orders' fill deltas (an order's filled quantity and average price) into a
:class:`Portfolio` per strategy, valued at the books' mids: exact in total, gross of fees
(an order view carries no fees; the run summary, read from the journal, nets them).

>>> # observer = DeskObserver(system); await nursery.start(observer.run)
>>> # observer.snapshot.books[0].bid
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import trio

from actors.runtime import ActorError, Crashed, GaveUp, RestartScheduled, System
from actors.runtime.events import EventStream
from actors.runtime.stats import ActorStats
from actors.trading.messages import Fill, OrderStatus
from actors.trading.orders import ACTIVE
from actors.trading.positions import Portfolio, PositionError
from actors.trading.protocol import (
    BookView,
    GetBook,
    GetOrders,
    GetOrderStats,
    GetRiskState,
    OrderStatsView,
    OrderView,
    RiskView,
)

log = logging.getLogger("actors.observe")

ZERO = Decimal(0)
FULL_EVERY = 60
"""Every this many polls the observer asks for every order, not only the changed ones (a
router on another node whose clock restarted is then caught up)."""
KEEP_ENDED = 20_000
"""Ended orders the observer keeps views of (the figures count every one, kept or not)."""


@dataclass(frozen=True, slots=True)
class ActorLine:
    """One actor of the tree: state, restarts, mailbox and message rate."""

    path: str
    state: str
    restarts: int
    depth: int
    capacity: int
    processed: int
    rate: float
    """Messages handled per second since the previous poll."""
    last_crash: str | None


@dataclass(frozen=True, slots=True)
class BookLine:
    """One venue's book of one symbol."""

    venue: str
    symbol: str
    bid: float | None
    ask: float | None
    age: float | None
    """Seconds since the last accepted snapshot (None: none yet)."""
    stale: bool
    reason: str
    """Why it is stale (or why it could not be asked)."""

    @property
    def spread(self) -> float | None:
        """Ask minus bid, None when a side is empty."""
        return None if self.bid is None or self.ask is None else self.ask - self.bid

    @property
    def mid(self) -> float | None:
        """Midpoint, None when a side is empty."""
        return None if self.bid is None or self.ask is None else (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class StrategyLine:
    """What one strategy's orders add up to (from the router's order views)."""

    name: str
    positions: dict[str, Decimal]
    """Net filled base quantity per symbol (buys minus sells) of this strategy's orders."""
    open_orders: int
    orders: int
    filled_orders: int
    """Orders with any fill."""
    volume: dict[str, Decimal]
    """Filled base quantity per symbol, both sides."""
    fills: int = 0
    """Executions of its orders."""
    realised: Decimal = ZERO
    """PnL on closed quantity (FIFO, gross of fees)."""
    unrealised: Decimal | None = ZERO
    """Its open positions valued at the books' mids (None: a position without a mark)."""

    @property
    def pnl(self) -> Decimal:
        """Realised plus unrealised (an unmarked position counts 0)."""
        return self.realised + (self.unrealised or ZERO)


@dataclass(frozen=True, slots=True)
class EventLine:
    """Something the operator should notice, newest last in ``DeskSnapshot.events``."""

    wall: float
    """Epoch seconds."""
    kind: str
    """fill, order, reject, state, book, crash, restart, gave_up."""
    text: str


@dataclass(frozen=True, slots=True)
class DeskSnapshot:
    """The desk at one moment."""

    at: float
    """trio clock seconds."""
    wall: float
    actors: list[ActorLine]
    books: list[BookLine]
    risk: RiskView | None
    orders: tuple[OrderView, ...]
    strategies: list[StrategyLine]
    sessions: dict[str, str]
    """State of each venue's private session (``/exec/<venue>``), by venue."""
    problems: list[str]
    """Why the desk is not ready (empty: ready)."""
    events: list[EventLine] = field(default_factory=list)
    order_stats: OrderStatsView | None = None
    """The router's counters: submits, fills, tick-to-order latency."""

    @property
    def fills(self) -> int:
        """Executions of the desk's orders (as the order views count them)."""
        return sum(s.fills for s in self.strategies)

    @property
    def ready(self) -> bool:
        """Books fresh and private sessions up."""
        return not self.problems

    def orders_by_state(self) -> Counter[str]:
        """Number of orders in each state."""
        return Counter(o.status.value for o in self.orders)

    def open_orders(self) -> list[OrderView]:
        """Orders that may still be live at a venue."""
        return [o for o in self.orders if o.status in ACTIVE]

    def marks(self) -> dict[tuple[str, str], float]:
        """Mid price per (venue, symbol) where both sides are known."""
        return {(b.venue, b.symbol): m for b in self.books if (m := b.mid) is not None}


# --- pure parts ----------------------------------------------------------------------------


def actor_lines(
    stats: Mapping[str, ActorStats], previous: Mapping[str, int], elapsed: float
) -> list[ActorLine]:
    """Actor lines with message rates from ``previous`` processed counts over ``elapsed`` s."""
    lines = []
    for path, s in stats.items():
        if path == "/":
            continue
        before = previous.get(path, s.processed)
        rate = max(0, s.processed - before) / elapsed if elapsed > 0 else 0.0
        lines.append(
            ActorLine(
                path, s.state, s.restarts, s.depth, s.capacity, s.processed, rate, s.last_crash
            )
        )
    return lines


def book_line(venue: str, symbol: str, view: BookView | None, now: float, error: str) -> BookLine:
    """A ``BookLine`` from a book actor's answer (``view=None``: it did not answer)."""
    if view is None:
        return BookLine(venue, symbol, None, None, None, True, error or "no answer")
    snap = view.snapshot
    bid = snap.bids[0][0] if snap is not None and snap.bids else None
    ask = snap.asks[0][0] if snap is not None and snap.asks else None
    age = now - snap.received_at if snap is not None else None
    reason = (view.stale_reason or "stale") if view.stale else ""
    if snap is None:
        reason = reason or "no snapshot yet"
    return BookLine(venue, symbol, bid, ask, age, view.stale or snap is None, reason)


def strategy_lines(orders: Iterable[OrderView], names: Iterable[str] = ()) -> list[StrategyLine]:
    """Per strategy (those of ``names`` too, without orders): position, volume, orders."""
    figures = OrderFigures()
    figures.apply(orders)
    return figures.lines(names, {})


def readiness(books: Iterable[BookLine], sessions: Mapping[str, str]) -> list[str]:
    """Why the desk is not ready: stale books and private sessions that are not running."""
    problems = [f"book {b.venue} {b.symbol} stale: {b.reason}" for b in books if b.stale]
    problems += [f"session {v} {state}" for v, state in sessions.items() if state != "running"]
    return problems


def changes(
    old: DeskSnapshot | None,
    new: DeskSnapshot,
    changed: Iterable[tuple[OrderView | None, OrderView]] | None = None,
) -> list[EventLine]:
    """Events between two snapshots: fills, ended orders, risk rejections, state, books.

    ``changed``: the orders that changed as (before, after) pairs, when the caller knows
    them (the observer does); else every order of ``new`` is compared with ``old``.
    """
    if old is None:
        return []
    out: list[EventLine] = []
    wall = new.wall

    def add(kind: str, text: str) -> None:
        out.append(EventLine(wall, kind, text))

    if changed is None:
        before = {o.client_order_id: o for o in old.orders}
        changed = ((before.get(o.client_order_id), o) for o in new.orders)
    for prev, o in changed:
        filled_before = prev.filled if prev is not None else ZERO
        if o.filled > filled_before:
            price = f" limit {o.price}" if o.price is not None else " market"
            add(
                "fill",
                f"{o.strategy} {o.side} {o.filled - filled_before} {o.symbol} on {o.venue}"
                f" ({o.filled}/{o.amount}{price}, {o.client_order_id})",
            )
        ended = o.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED)
        if ended and (prev is None or prev.status != o.status):
            add(
                "order",
                f"{o.strategy} {o.client_order_id} {o.status.value}"
                + (f": {o.reason}" if o.reason else ""),
            )
    if old.risk is not None and new.risk is not None:
        for reason, count in sorted(new.risk.rejected.items()):
            more = count - old.risk.rejected.get(reason, 0)
            if more > 0:
                add("reject", f"risk rejected {more} order{'s' * (more > 1)}: {reason}")
        if new.risk.state != old.risk.state:
            add("state", f"trading {old.risk.state} -> {new.risk.state}: {new.risk.reason}")
    stale_before = {(b.venue, b.symbol): b.stale for b in old.books}
    for b in new.books:
        was = stale_before.get((b.venue, b.symbol))
        if was is not None and was != b.stale:
            add(
                "book",
                f"book {b.venue} {b.symbol} " + (f"stale: {b.reason}" if b.stale else "fresh"),
            )
    return out


def lifecycle_line(event: object) -> EventLine | None:
    """An ``EventLine`` for a crash, a scheduled restart or a supervisor giving up."""
    wall = time.time()
    if isinstance(event, Crashed):
        return EventLine(wall, "crash", f"{event.path} crashed: {event.reason}")
    if isinstance(event, RestartScheduled):
        return EventLine(
            wall,
            "restart",
            f"{event.path} restarts in {event.delay:.2f}s (attempt {event.attempt})",
        )
    if isinstance(event, GaveUp):
        return EventLine(wall, "gave_up", f"{event.path} gave up: {event.error}")
    return None


class _Figures:
    """What one strategy's orders add up to."""

    __slots__ = ("filled_orders", "fills", "open", "orders", "portfolio", "positions", "volume")

    def __init__(self) -> None:
        self.orders = 0
        self.open: set[str] = set()
        self.filled_orders = 0
        self.fills = 0
        self.volume: dict[str, Decimal] = {}
        self.positions: dict[str, Decimal] = {}
        self.portfolio = Portfolio()
        """Its fills (one per change of an order's filled quantity), for PnL."""


class OrderFigures:
    """The orders as the observer knows them, kept up to date from the views that changed.

    ``apply`` takes views (all of them, or those changed since ``since``) and folds what
    changed into per-strategy figures; ``lines`` turns those into ``StrategyLine``s valued
    at the given marks. Views of ended orders are kept up to ``keep_ended`` (the figures count
    every order ever seen, kept or not).

    >>> figures = OrderFigures()
    >>> figures.lines(["mm"], {})[0].orders
    0
    """

    def __init__(self, keep_ended: int = KEEP_ENDED) -> None:
        self.views: dict[str, OrderView] = {}
        self.since: float | None = None
        """The newest ``updated_at`` seen: ask the router for what changed from then on."""
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._keep = keep_ended
        self._strategies: dict[str, _Figures] = {}

    def apply(self, views: Iterable[OrderView]) -> list[tuple[OrderView | None, OrderView]]:
        """Fold ``views`` in; the (before, after) pairs of those that changed."""
        changed = []
        for view in views:
            cid = view.client_order_id
            prev = self.views.get(cid)
            if prev == view:
                continue
            self.views[cid] = view
            self._account(prev, view)
            changed.append((prev, view))
            if self.since is None or view.updated_at > self.since:
                self.since = view.updated_at
            if view.status not in ACTIVE:
                self._ended[cid] = None
                self._ended.move_to_end(cid)
        while len(self._ended) > self._keep:
            cid, _ = self._ended.popitem(last=False)
            if (view := self.views.get(cid)) is not None and view.status not in ACTIVE:
                del self.views[cid]
        return changed

    def _account(self, prev: OrderView | None, view: OrderView) -> None:
        fig = self._strategies.get(view.strategy)
        if fig is None:
            fig = self._strategies[view.strategy] = _Figures()
        if prev is None:
            fig.orders += 1
        if view.status in ACTIVE:
            fig.open.add(view.client_order_id)
        else:
            fig.open.discard(view.client_order_id)
        fig.fills += max(0, view.fills - (prev.fills if prev is not None else 0))
        before = prev.filled if prev is not None else ZERO
        if view.filled <= before:
            return
        if not before:
            fig.filled_orders += 1
        amount = view.filled - before
        fig.volume[view.symbol] = fig.volume.get(view.symbol, ZERO) + amount
        signed = amount if view.side == "buy" else -amount
        fig.positions[view.symbol] = fig.positions.get(view.symbol, ZERO) + signed
        # The new fills' price: the change of filled notional over the change of quantity.
        notional = view.filled * (view.average_price or ZERO) - before * (
            (prev.average_price if prev is not None else None) or ZERO
        )
        if notional <= 0:
            return  # a view without fill prices (an older router): quantity only
        try:
            fig.portfolio.apply_fill(
                Fill(
                    client_order_id=view.client_order_id,
                    venue=view.venue or "",
                    symbol=view.symbol,
                    side=view.side,
                    price=notional / amount,
                    amount=amount,
                    trade_id=f"{view.client_order_id}:{view.filled}",
                )
            )
        except PositionError as exc:
            log.debug("not counted in the strategy's PnL: %s", exc)

    def lines(
        self, names: Iterable[str], marks: Mapping[tuple[str, str], float]
    ) -> list[StrategyLine]:
        """A ``StrategyLine`` per strategy (those of ``names`` too, without orders)."""
        for name in names:
            self._strategies.setdefault(name, _Figures())
        out = []
        for name, fig in sorted(self._strategies.items()):
            portfolio = fig.portfolio
            for (venue, symbol), mid in marks.items():
                portfolio.mark(symbol, mid, venue)
            unrealised: Decimal | None = ZERO
            for pos in portfolio.positions():
                u = portfolio.unrealized_pnl(pos.venue, pos.symbol)
                unrealised = None if u is None or unrealised is None else unrealised + u
            out.append(
                StrategyLine(
                    name,
                    {symbol: q for symbol, q in fig.positions.items() if q},
                    len(fig.open),
                    fig.orders,
                    fig.filled_orders,
                    dict(fig.volume),
                    fills=fig.fills,
                    realised=sum((p.realized_pnl for p in portfolio.positions()), ZERO),
                    unrealised=unrealised,
                )
            )
        return out


# --- the poller ----------------------------------------------------------------------------


class DeskObserver:
    """Polls a running desk every ``interval`` seconds and keeps the latest ``DeskSnapshot``.

    ``counts`` accumulates event kinds over the run (fills seen, rejections, crashes...) for
    the metrics; ``changed`` is a condition a waiter can use to see the next snapshot.
    """

    def __init__(self, system: System, *, interval: float = 1.0, keep: int = 40) -> None:
        self.system = system
        self.interval = interval
        self.snapshot: DeskSnapshot | None = None
        self.events: deque[EventLine] = deque(maxlen=keep)
        self.polls = 0
        self.marks: dict[tuple[str, str], float] = {}
        """Latest mid per (venue, symbol) ever seen: still there once books have stopped."""
        self.figures = OrderFigures()
        self._processed: dict[str, int] = {}
        self._polled_at: float | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled; the first snapshot is taken before ``task_status.started``."""
        with self.system.subscribe(capacity=256) as stream:
            await self.poll(stream)
            task_status.started()
            while True:
                await trio.sleep(self.interval)
                await self.poll(stream)

    async def poll(self, stream: EventStream | None = None) -> DeskSnapshot:
        """Take a snapshot now (and fold in pending lifecycle events from ``stream``)."""
        system = self.system
        now = trio.current_time()
        stats = system.stats()
        elapsed = now - self._polled_at if self._polled_at is not None else 0.0
        actors = actor_lines(stats, self._processed, elapsed)
        self._processed = {a.path: a.processed for a in actors}
        self._polled_at = now
        books = []
        for path in sorted(stats):
            parts = path.split("/")
            if len(parts) == 4 and parts[1] == "books":
                view, error = await self._ask(path, GetBook())
                books.append(
                    book_line(
                        parts[2], parts[3].replace("-", "/"), view, trio.current_time(), error
                    )
                )
        sessions = {
            path.split("/")[2]: s.state
            for path, s in stats.items()
            if path.startswith("/exec/") and path.count("/") == 2
        }
        risk = (await self._ask("/risk", GetRiskState()))[0]
        figures = self.figures
        since = None if self.polls % FULL_EVERY == 0 else figures.since
        # What changed since the last poll (None: the router is restarting; keep what we have).
        views = (await self._ask("/router", GetOrders(since=since)))[0]
        changed = figures.apply(views or ())
        order_stats = (await self._ask("/router", GetOrderStats()))[0]
        orders = tuple(figures.views.values())
        if risk is None and self.snapshot is not None:
            risk = self.snapshot.risk
        if order_stats is None and self.snapshot is not None:
            order_stats = self.snapshot.order_stats
        self.marks.update({(b.venue, b.symbol): m for b in books if (m := b.mid) is not None})
        snapshot = DeskSnapshot(
            at=now,
            wall=time.time(),
            actors=actors,
            books=books,
            risk=risk,
            orders=orders,
            strategies=figures.lines(
                (p.split("/")[2] for p in stats if p.startswith("/strategies/")), self.marks
            ),
            sessions=sessions,
            problems=readiness(books, sessions) if system.ready.is_set() else ["starting"],
            order_stats=order_stats,
        )
        fresh = changes(self.snapshot, snapshot, changed)
        if stream is not None:
            fresh += [line for e in stream.pending() if (line := lifecycle_line(e)) is not None]
        self.events.extend(fresh)
        self.snapshot = replace(snapshot, events=list(self.events))
        self.polls += 1
        return self.snapshot

    async def _ask(self, path: str, request: object) -> tuple[Any, str]:
        ref = self.system.lookup(path)
        if ref is None:
            return None, f"no actor at {path}"
        try:
            return await ref.ask(request, timeout=max(2.0, self.interval)), ""
        except ActorError as exc:
            return None, f"{type(exc).__name__}"
