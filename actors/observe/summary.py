"""What a run did, printed when it ends: trading first, then the actors.

The trading figures come from the journal once the desk has stopped (exact: the final state
of every order after the shutdown cancels, every fill with its price and fee), or, for a
desk without a journal file, from the last ``DeskSnapshot`` taken while it ran. Order,
fill and rejection counts cover this run; positions and PnL cover the whole journal (the
desk's positions carry over from run to run), valued at the last mid prices seen.

>>> figures = TradingFigures(source="none")
>>> figures.as_dict()["orders_by_state"]
{}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from actors.observe.collect import DeskSnapshot
from actors.observe.logs import plain
from actors.runtime.stats import ActorStats
from actors.trading.messages import (
    Fill,
    Message,
    OrderIntent,
    RiskRejected,
    TradingStateChanged,
)
from actors.trading.orders import ACTIVE, replay
from actors.trading.positions import Portfolio, PositionError
from actors.trading.protocol import LatencyHistogram

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PnL:
    """Position and PnL of one symbol or one strategy (quote currency, fees apart)."""

    position: dict[str, Decimal]
    """Net base quantity per symbol."""
    realized: Decimal
    unrealized: Decimal | None
    """None when a position has no mark."""
    fees: Decimal

    @property
    def total(self) -> Decimal | None:
        """Realised minus fees plus unrealised."""
        return None if self.unrealized is None else self.realized - self.fees + self.unrealized


@dataclass(frozen=True, slots=True)
class TradingFigures:
    """The trading side of a run."""

    source: str
    """``journal``, ``snapshot`` or ``none``."""
    orders_by_state: dict[str, int] = field(default_factory=dict)
    """Orders that passed risk in this run, by final state."""
    fills: int = 0
    volume: dict[str, Decimal] = field(default_factory=dict)
    """Filled base quantity per symbol in this run."""
    rejections: dict[str, int] = field(default_factory=dict)
    """Risk rejections by reason in this run."""
    by_symbol: dict[str, PnL] = field(default_factory=dict)
    by_strategy: dict[str, PnL] = field(default_factory=dict)
    total_pnl: Decimal | None = None
    trading_state: str = ""
    open_orders: list[str] = field(default_factory=list)
    """Client ids of orders still possibly live at a venue when the desk stopped."""
    tick_to_order: dict[str, float] | None = None
    """From book arrival to the submit's send, as the router last counted it
    (:func:`latency_summary`); None when no order answered a book."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (Decimals as strings)."""
        return plain(asdict(self))


def _pnl(portfolio: Portfolio, marks: Mapping[tuple[str, str], float]) -> PnL:
    for (venue, symbol), mid in marks.items():
        portfolio.mark(symbol, mid, venue)
    position: dict[str, Decimal] = {}
    realized = fees = ZERO
    unrealized: Decimal | None = ZERO
    for symbol in portfolio.symbols():
        s = portfolio.summary(symbol)
        position[symbol] = s.quantity
        realized += s.realized_pnl
        fees += s.fees
        unrealized = (
            None
            if s.unrealized_pnl is None or unrealized is None
            else (unrealized + s.unrealized_pnl)
        )
    return PnL(position, realized, unrealized, fees)


def figures_from_journal(
    events: Iterable[tuple[float, Message]],
    since: float,
    marks: Mapping[tuple[str, str], float],
) -> TradingFigures:
    """Figures from journaled ``(wall time, message)`` pairs; counts from ``since`` (epoch s)."""
    messages: list[Message] = []
    owner: dict[str, str] = {}
    desk = Portfolio()
    strategies: dict[str, Portfolio] = {}
    symbols: dict[str, Portfolio] = {}
    this_run: set[str] = set()
    fills = 0
    volume: Counter[str] = Counter()
    rejections: Counter[str] = Counter()
    state = ""
    for at, msg in events:
        messages.append(msg)
        kind = type(msg)
        if kind is TradingStateChanged:
            state = msg.state.value  # type: ignore[attr-defined]
        if kind is OrderIntent:
            owner[msg.client_order_id] = msg.strategy  # type: ignore[attr-defined]
            if at >= since:
                this_run.add(msg.client_order_id)  # type: ignore[attr-defined]
        elif kind is RiskRejected and at >= since:
            rejections[msg.reason.value] += 1  # type: ignore[attr-defined]
            this_run.discard(msg.client_order_id)  # type: ignore[attr-defined]
        if kind is Fill:
            fill: Fill = msg  # type: ignore[assignment]
            try:
                fresh = desk.apply_fill(fill)
                name = owner.get(fill.client_order_id, "(unknown)")
                strategies.setdefault(name, Portfolio()).apply_fill(fill)
                symbols.setdefault(fill.symbol, Portfolio()).apply_fill(fill)
            except PositionError:
                fresh = False
            if fresh and at >= since:
                fills += 1
                volume[fill.symbol] += fill.amount
    table = replay(messages, strict=False)
    orders = [o for o in table if o.client_order_id in this_run]
    by_symbol = {s: _pnl(p, marks) for s, p in sorted(symbols.items())}
    total = _pnl(desk, marks).total
    return TradingFigures(
        source="journal",
        orders_by_state=dict(Counter(o.status.value for o in orders)),
        fills=fills,
        volume=dict(volume),
        rejections=dict(rejections),
        by_symbol=by_symbol,
        by_strategy={s: _pnl(p, marks) for s, p in sorted(strategies.items())},
        total_pnl=total,
        trading_state=state or "ACTIVE",
        open_orders=sorted(o.client_order_id for o in table if o.is_active),
    )


def figures_from_snapshot(snapshot: DeskSnapshot) -> TradingFigures:
    """Figures from the last poll of a running desk (no fill prices: PnL is the desk's)."""
    risk = snapshot.risk
    volume: Counter[str] = Counter()
    for line in snapshot.strategies:
        volume.update(line.volume)
    return TradingFigures(
        source="snapshot",
        orders_by_state=dict(snapshot.orders_by_state()),
        fills=sum(line.filled_orders for line in snapshot.strategies),
        volume=dict(volume),
        rejections=dict(risk.rejected) if risk else {},
        by_symbol={
            s: PnL({s: q}, ZERO, None, ZERO) for s, q in (risk.positions if risk else {}).items()
        },
        total_pnl=risk.total_pnl if risk else None,
        trading_state=risk.state.value if risk else "",
        open_orders=sorted(o.client_order_id for o in snapshot.orders if o.status in ACTIVE),
    )


def latency_summary(hist: LatencyHistogram | None) -> dict[str, float] | None:
    """Count, mean and p50/p90/p99 of a histogram (each quantile as its bucket's upper
    bound, seconds; ``inf`` beyond the last one); None when it is empty.

    >>> from actors.trading.protocol import LatencyHistogram
    >>> latency_summary(LatencyHistogram(bounds=(0.001, 0.01), buckets=(9, 1, 0), count=10,
    ...     sum=0.02))["p99"]
    0.01
    """
    if hist is None or not hist.count:
        return None
    out: dict[str, float] = {"count": hist.count, "mean": hist.sum / hist.count}
    bounds = (*hist.bounds, math.inf)
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        seen = 0
        for bound, n in zip(bounds, hist.buckets, strict=True):
            seen += n
            if seen >= q * hist.count:
                out[name] = bound
                break
    return out


def _ms(seconds: float) -> str:
    return "beyond the last bucket" if math.isinf(seconds) else f"{seconds * 1000:g} ms"


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def trading_lines(figures: TradingFigures) -> list[str]:
    """The trading part of the summary, one fact per line."""
    if figures.source == "none":
        return ["trading: no figures (the desk never answered)"]
    states = ", ".join(f"{k} {v}" for k, v in sorted(figures.orders_by_state.items())) or "none"
    lines = [f"orders: {sum(figures.orders_by_state.values())} ({states})"]
    volume = ", ".join(f"{s} {q}" for s, q in sorted(figures.volume.items()))
    lines.append(f"fills: {figures.fills}" + (f" ({volume})" if volume else ""))
    rejected = ", ".join(f"{r} {n}" for r, n in sorted(figures.rejections.items()))
    lines.append(
        f"risk rejections: {sum(figures.rejections.values())}"
        + (f" ({rejected})" if rejected else "")
    )
    lines.append(f"PnL: {_money(figures.total_pnl)} (trading state {figures.trading_state})")
    for symbol, p in figures.by_symbol.items():
        qty = p.position.get(symbol, ZERO)
        if figures.source == "snapshot":
            lines.append(f"  {symbol}: position {qty}")
        else:
            lines.append(
                f"  {symbol}: position {qty}, realised {_money(p.realized)}, "
                f"unrealised {_money(p.unrealized)}, fees {_money(p.fees)}"
            )
    for name, p in figures.by_strategy.items():
        where = ", ".join(f"{s} {q}" for s, q in p.position.items() if q) or "flat"
        lines.append(f"  strategy {name}: {where}, PnL {_money(p.total)}")
    latency = figures.tick_to_order
    if latency is not None:
        lines.append(
            f"tick-to-order: {latency['count']:g} orders answered a book, mean "
            f"{_ms(latency['mean'])}, p50 <= {_ms(latency['p50'])}, p99 <= {_ms(latency['p99'])}"
        )
    if figures.open_orders:
        lines.append(
            f"open orders left at stop: {len(figures.open_orders)} "
            f"({', '.join(figures.open_orders[:5])}{' ...' * (len(figures.open_orders) > 5)})"
        )
    return lines


def per_venue_line(label: str, counts: Mapping[str, int] | None) -> list[str]:
    """``label: venue n, ...`` over the venues with a count (none has one: no line).

    >>> per_venue_line("dropped sockets resubscribed in place", {"b": 0, "a": 2})
    ['dropped sockets resubscribed in place: a 2']
    """
    some = [f"{venue} {n}" for venue, n in sorted((counts or {}).items()) if n]
    return [f"{label}: {', '.join(some)}"] if some else []


def recovery_lines(lookups: int, adopted: int) -> list[str]:
    """What start-up recovered of a lost journal tail (nothing looked up: no line).

    >>> recovery_lines(14, 2)[0][:60]
    'lost journal tail: 14 leased client ids of earlier runs look'
    """
    if not lookups:
        return []
    return [
        f"lost journal tail: {lookups} leased client ids of earlier runs looked up at the "
        f"venues, {adopted} orders adopted"
    ]


def run_summary(stats: dict[str, ActorStats], elapsed: float) -> str:
    """A short report: totals, then every actor that crashed, dropped or dead-lettered."""
    lines = [
        f"ran {elapsed:.1f}s: {len(stats)} actors, "
        f"{sum(s.processed for s in stats.values())} messages handled, "
        f"{sum(s.restarts for s in stats.values())} restarts, "
        f"{sum(s.dropped for s in stats.values())} dropped by policy, "
        f"{sum(s.dead_letters for s in stats.values())} dead letters"
    ]
    for s in sorted(stats.values(), key=lambda s: s.path):
        if s.restarts or s.dropped or s.dead_letters:
            lines.append(
                f"  {s.path}: restarts {s.restarts}, dropped {s.dropped}, "
                f"dead letters {s.dead_letters}, mailbox high-water {s.high_water}/{s.capacity}"
                + (f", last crash {s.last_crash}" if s.last_crash else "")
            )
    return "\n".join(lines)


def summary_dict(
    figures: TradingFigures, stats: dict[str, ActorStats], elapsed: float
) -> dict[str, Any]:
    """The whole summary as JSON-able data (``--summary-json``)."""
    return {
        "elapsed": round(elapsed, 3),
        "trading": figures.as_dict(),
        "restarts": sum(s.restarts for s in stats.values()),
        "faults": {
            s.path: {"restarts": s.restarts, "last_crash": s.last_crash}
            for s in sorted(stats.values(), key=lambda s: s.path)
            if s.restarts or s.last_crash
        },
        "actors": {
            "count": len(stats),
            "messages": sum(s.processed for s in stats.values()),
            "dropped": sum(s.dropped for s in stats.values()),
            "dead_letters": sum(s.dead_letters for s in stats.values()),
        },
    }
