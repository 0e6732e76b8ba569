"""Prometheus metrics, ``/health`` and ``/ready`` of a running desk, on 127.0.0.1.

A custom ``prometheus_client`` collector turns, at scrape time, ``System.stats()`` and the
latest ``DeskSnapshot`` into metric families (the exposition format and its parser are the
library's). ``/health`` answers 200 while the process runs; ``/ready`` answers 200 when every
book is fresh and every private session is up, else 503 with the reasons.

Trading figures come from the snapshot: orders by state, fills, positions and PnL per symbol
(risk's, FIFO) and per strategy (realised and unrealised, from its orders' fills), book age,
risk rejections by reason, and ``actors_tick_to_order_seconds``: the router's histogram of the
time from the arrival of the book a decision answered (``OrderIntent.book_at``) to the
submit's send (``bench/tick_to_order.py`` measures the whole round trip from outside).

>>> # port = await nursery.start(serve_metrics, system, 0, observer)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.observe.collect import DeskObserver
from actors.observe.http import serve_local
from actors.runtime import System
from actors.testing.faultlog import FaultLog
from actors.trading.messages import OrderStatus, TradingState
from actors.trading.protocol import LatencyHistogram

if TYPE_CHECKING:
    from actors.remote import Node

log = logging.getLogger("actors.metrics")

_ACTOR_COUNTERS = (
    ("received", "received", "messages offered to the mailbox"),
    ("processed", "processed", "messages handled"),
    ("dropped", "dropped", "messages discarded by the overflow policy"),
    ("dead_letters", "dead_letters", "messages nobody will handle"),
    ("restarts", "restarts", "restarts scheduled"),
)
_MAILBOX_GAUGES = (
    ("depth", "messages waiting"),
    ("high_water", "greatest mailbox depth seen"),
    ("capacity", "mailbox capacity"),
)


class DeskCollector(Collector):
    """Reads the system and the observer's latest snapshot at every scrape."""

    def __init__(self, system: System, observer: DeskObserver | None = None) -> None:
        self.system = system
        self.observer = observer

    def collect(self) -> Iterator[Metric]:
        """Every metric family, actors first, then trading."""
        stats = self.system.stats()
        for field, name, help_text in _ACTOR_COUNTERS:
            family = CounterMetricFamily(f"actors_{name}", help_text, labels=["path"])
            for path, s in stats.items():
                family.add_metric([path], getattr(s, field))
            yield family
        for field, help_text in _MAILBOX_GAUGES:
            family = GaugeMetricFamily(f"actors_mailbox_{field}", help_text, labels=["path"])
            for path, s in stats.items():
                family.add_metric([path], getattr(s, field))
            yield family
        up = GaugeMetricFamily("actors_up", "1 if the actor is running", labels=["path"])
        for path, s in stats.items():
            up.add_metric([path], int(s.state == "running"))
        yield up
        yield CounterMetricFamily(
            "actors_system_dead_letters", "dead letters of the whole tree", self.system.dead_letters
        )
        snapshot = self.observer.snapshot if self.observer is not None else None
        if snapshot is not None:
            yield from _trading(snapshot)


def _trading(snapshot: Any) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "actors_ready", "1 when books are fresh and sessions up", snapshot.ready
    )
    orders = GaugeMetricFamily(
        "actors_orders", "orders the router knows, by state", labels=["state"]
    )
    counts = snapshot.orders_by_state()
    for state in OrderStatus:
        orders.add_metric([state.value], counts.get(state.value, 0))
    yield orders
    filled = CounterMetricFamily(
        "actors_filled_base",
        "filled base quantity of the router's orders",
        labels=["strategy", "symbol", "side"],
    )
    totals: dict[tuple[str, str, str], float] = {}
    for o in snapshot.orders:
        if o.filled:
            key = (o.strategy, o.symbol, o.side)
            totals[key] = totals.get(key, 0.0) + float(o.filled)
    for key, value in sorted(totals.items()):
        filled.add_metric(list(key), value)
    yield filled
    filled_orders = GaugeMetricFamily(
        "actors_filled_orders", "orders with at least one fill", labels=["strategy"]
    )
    open_orders = GaugeMetricFamily(
        "actors_open_orders", "orders possibly live at a venue", labels=["strategy"]
    )
    strategy_position = GaugeMetricFamily(
        "actors_strategy_position",
        "net filled base quantity of a strategy's orders",
        labels=["strategy", "symbol"],
    )
    fills = CounterMetricFamily(
        "actors_strategy_fills", "executions of a strategy's orders", labels=["strategy"]
    )
    pnl = GaugeMetricFamily(
        "actors_strategy_pnl",
        "a strategy's PnL (quote, gross of fees): realised, or unrealised at the books' mids",
        labels=["strategy", "kind"],
    )
    for line in snapshot.strategies:
        filled_orders.add_metric([line.name], line.filled_orders)
        open_orders.add_metric([line.name], line.open_orders)
        fills.add_metric([line.name], line.fills)
        pnl.add_metric([line.name, "realised"], float(line.realised))
        if line.unrealised is not None:
            pnl.add_metric([line.name, "unrealised"], float(line.unrealised))
        for symbol, qty in line.positions.items():
            strategy_position.add_metric([line.name, symbol], float(qty))
    yield filled_orders
    yield open_orders
    yield strategy_position
    yield fills
    yield pnl
    stats = snapshot.order_stats
    if stats is not None:
        yield CounterMetricFamily("actors_orders_submitted", "submits sent", stats.submitted)
        yield CounterMetricFamily("actors_fills", "executions of the desk's orders", stats.fills)
        yield _histogram(
            "actors_tick_to_order_seconds",
            "from the arrival of the book a decision answered to the submit's send",
            stats.tick_to_order,
        )
    age = GaugeMetricFamily(
        "actors_book_age_seconds",
        "seconds since the book's last snapshot",
        labels=["venue", "symbol"],
    )
    stale = GaugeMetricFamily(
        "actors_book_stale", "1 if the book is stale", labels=["venue", "symbol"]
    )
    for b in snapshot.books:
        if b.age is not None:
            age.add_metric([b.venue, b.symbol], b.age)
        stale.add_metric([b.venue, b.symbol], int(b.stale))
    yield age
    yield stale
    risk = snapshot.risk
    if risk is None:
        return
    position = GaugeMetricFamily(
        "actors_position", "net base quantity of the desk", labels=["symbol"]
    )
    for symbol, qty in risk.positions.items():
        position.add_metric([symbol], float(qty))
    yield position
    yield GaugeMetricFamily(
        "actors_pnl", "desk PnL: net realised plus unrealised (quote)", float(risk.total_pnl)
    )
    symbol_pnl = GaugeMetricFamily(
        "actors_symbol_pnl",
        "the desk's PnL per symbol (quote): realised, unrealised, fees",
        labels=["symbol", "kind"],
    )
    for symbol, figures in sorted(risk.pnl.items()):
        symbol_pnl.add_metric([symbol, "realised"], float(figures.realised))
        symbol_pnl.add_metric([symbol, "fees"], float(figures.fees))
        if figures.unrealised is not None:
            symbol_pnl.add_metric([symbol, "unrealised"], float(figures.unrealised))
    yield symbol_pnl
    rejections = CounterMetricFamily(
        "actors_risk_rejections", "intents refused by risk, by reason", labels=["reason"]
    )
    for reason, count in sorted(risk.rejected.items()):
        rejections.add_metric([reason], count)
    yield rejections
    yield CounterMetricFamily("actors_risk_approved", "intents approved by risk", risk.approved)
    state = GaugeMetricFamily("actors_trading_state", "1 for the current state", labels=["state"])
    for value in TradingState:
        state.add_metric([value.value], int(risk.state == value))
    yield state


class NodeCollector(Collector):
    """A split desk's node: its peers' liveness and its transport counters."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        """``actors_node_peer_up{node,peer}``, ``actors_node_transport_total{node,counter}``."""
        name = self.node.name
        up = GaugeMetricFamily(
            "actors_node_peer_up", "1 if the peer node is up", labels=["node", "peer"]
        )
        for peer, state in self.node.peers().items():
            up.add_metric([name, peer], int(state == "up"))
        yield up
        transport = CounterMetricFamily(
            "actors_node_transport",
            "the node's NATS transport counters (actors.remote.stats)",
            labels=["node", "counter"],
        )
        for counter, value in self.node.counters().items():
            transport.add_metric([name, counter], value)
        yield transport


def _histogram(name: str, help_text: str, hist: LatencyHistogram) -> HistogramMetricFamily:
    """A ``LatencyHistogram`` (counts per bucket) as Prometheus' cumulative buckets."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*hist.bounds, math.inf), hist.buckets, strict=True):
        running += count
        buckets.append(("+Inf" if bound == math.inf else repr(bound), running))
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=hist.sum)


class FaultCollector(Collector):
    """Faults injected by a fault plan (chaos mode), by kind, and those not applied."""

    def __init__(self, faults: FaultLog) -> None:
        self.faults = faults

    def collect(self) -> Iterator[Metric]:
        """``actors_faults_injected_total{kind}``, ``actors_faults_failed_total{kind}``."""
        for name, counts, help_text in (
            ("injected", self.faults.counts(), "faults injected by the fault plan"),
            ("failed", self.faults.failed(), "faults the fault plan could not apply"),
        ):
            family = CounterMetricFamily(f"actors_faults_{name}", help_text, labels=["kind"])
            for kind, n in counts.items():
                family.add_metric([kind], n)
            yield family


def metrics_app(
    system: System,
    observer: DeskObserver | None = None,
    faults: FaultLog | None = None,
    node: Node | None = None,
) -> Starlette:
    """The ASGI app: ``GET /metrics``, ``/health``, ``/ready``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeskCollector(system, observer))
    if faults is not None:
        registry.register(FaultCollector(faults))
    if node is not None:
        registry.register(NodeCollector(node))

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def health(_: Request) -> Response:
        return JSONResponse({"alive": True, "actors": len(system.paths())})

    async def ready(_: Request) -> Response:
        snapshot = observer.snapshot if observer is not None else None
        if snapshot is None:
            return JSONResponse({"ready": False, "problems": ["no snapshot yet"]}, 503)
        return JSONResponse(
            {"ready": snapshot.ready, "problems": snapshot.problems},
            200 if snapshot.ready else 503,
        )

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/health", health),
            Route("/ready", ready),
        ]
    )


async def serve_metrics(
    system: System,
    port: int = 0,
    observer: DeskObserver | None = None,
    faults: FaultLog | None = None,
    node: Node | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/metrics``, ``/health``, ``/ready`` on 127.0.0.1:``port``; reports the port.

    >>> # port = await nursery.start(serve_metrics, system, 0, observer)
    """

    class _Announce:
        def started(self, bound: int) -> None:
            log.info("metrics on http://127.0.0.1:%d/metrics (/health, /ready)", bound)
            task_status.started(bound)

    await serve_local(metrics_app(system, observer, faults, node), port, task_status=_Announce())  # type: ignore[arg-type]
