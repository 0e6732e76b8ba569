"""The order lifecycle in the log, and the router's order counters, from one hook.

The router calls :func:`order_event` once for each order event it has applied (the submit as
it leaves, then what the venue and reconciliation report): submitted, acknowledged, partially
filled / filled (from each execution), cancelled, expired, rejected, unknown. Each is one INFO
line on the ``actors.orders`` logger (a submit whose outcome is unknown is a WARNING) with
venue, symbol, client id, side, price and quantity; the same figures travel as ``extra=``
fields, so ``--log-format json`` carries them as keys (``order_event``, ``venue``,
``symbol``, ``client_order_id``, ``side``, ``price``, ``quantity``, ``filled``...).

The hook also counts what the operator's figures need and the order messages do not carry:
executions, and the tick-to-order latency (from the arrival of the book a decision answered,
``OrderIntent.book_at``, to the submit's send) in a fixed-bucket histogram, cheap enough for
the order path (one bisect); ``GetOrderStats`` asks the router for both.

>>> stats = OrderStats()
>>> stats.tick_to_order.observe(0.003); stats.tick_to_order.count
1
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from decimal import Decimal
from typing import Any

from actors.trading.messages import (
    CancelRejected,
    Fill,
    Message,
    OrderStatus,
    OrderUpdate,
    ReconcileResult,
    ReconcileVerdict,
    SubmitOrder,
    SubmitUnknown,
)
from actors.trading.orders import Order
from actors.trading.protocol import LatencyHistogram

log = logging.getLogger("actors.orders")

TICK_TO_ORDER_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip
"""Upper bounds (seconds) of the tick-to-order histogram's buckets."""

_UPDATE_EVENTS = {
    OrderStatus.OPEN: "acknowledged",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "rejected",
}
"""Venue reports worth a line; fills are told from the executions themselves."""


class Histogram:
    """Counts per bucket (upper bounds), their sum and count: what Prometheus exposes."""

    __slots__ = ("bounds", "buckets", "count", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one value (seconds)."""
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def view(self) -> LatencyHistogram:
        """A copy that can cross an actor boundary."""
        return LatencyHistogram(
            bounds=self.bounds, buckets=tuple(self.buckets), count=self.count, sum=self.sum
        )


class OrderStats:
    """The router's order counters (kept by :func:`order_event`)."""

    __slots__ = ("fills", "submitted", "tick_to_order")

    def __init__(self) -> None:
        self.fills = 0
        """Executions of our orders applied (each trade once)."""
        self.submitted = 0
        self.tick_to_order = Histogram(TICK_TO_ORDER_BUCKETS)
        """Seconds from the arrival of the book a decision answered to the submit's send."""


def order_event(order: Order, event: Message, stats: OrderStats, now: float = 0.0) -> None:
    """Count and log one applied event of ``order`` (``now``: trio time of a submit's send)."""
    kind = type(event)
    if kind is SubmitOrder:
        stats.submitted += 1
        book_at = order.intent.book_at
        if book_at is not None and now >= book_at:
            stats.tick_to_order.observe(now - book_at)
        what = "submitted"
    elif kind is Fill:
        stats.fills += 1
        what = "filled" if order.status is OrderStatus.FILLED else "partially_filled"
    elif kind is OrderUpdate or kind is ReconcileResult:
        update = event.update if kind is ReconcileResult else event  # type: ignore[attr-defined]
        if update is None:
            if event.verdict is not ReconcileVerdict.NEVER_REACHED_VENUE:  # type: ignore[attr-defined]
                return
            what = "rejected"
        else:
            found = _UPDATE_EVENTS.get(update.status)
            if found is None:
                return
            what = found
    elif kind is SubmitUnknown:
        what = "unknown"
    elif kind is CancelRejected:
        what = "cancel_refused"
    else:
        return  # a cancel request: its outcome is what counts
    level = logging.WARNING if what == "unknown" else logging.INFO
    if log.isEnabledFor(level):
        _log(level, what, order, event)


def _log(level: int, what: str, order: Order, event: Message) -> None:
    intent = order.intent
    fields: dict[str, Any] = {
        "event": "order",
        "order_event": what,
        "venue": order.venue or intent.venue,
        "symbol": intent.symbol,
        "client_order_id": intent.client_order_id,
        "strategy": intent.strategy,
        "side": intent.side,
        "price": intent.price,
        "quantity": intent.amount,
        "filled": order.filled,
        "amount": intent.amount,
        "order_type": intent.order_type,
        "time_in_force": intent.time_in_force,
        "status": order.status.value,
    }
    if type(event) is Fill:
        fields.update(
            price=event.price, quantity=event.amount, fee=event.fee, trade_id=event.trade_id
        )
    reason = getattr(event, "reason", "") or (
        order.reason if what == "rejected" else order.cancel_reason if what == "cancelled" else ""
    )
    if reason:
        fields["reason"] = reason
    if order.venue_order_id:
        fields["venue_order_id"] = order.venue_order_id
    at = "market" if fields["price"] is None else f"@ {_num(fields['price'])}"
    text = (
        f"order {what.replace('_', ' ')}: {fields['venue']} {intent.symbol} {intent.side} "
        f"{_num(fields['quantity'])} {at}"
    )
    if type(event) is Fill or what in ("cancelled", "expired"):
        text += f" ({_num(order.filled)}/{_num(intent.amount)} filled)"
    elif what == "submitted":
        text += f" {intent.time_in_force}"
    text += f" [{intent.client_order_id} {intent.strategy}]"
    if reason:
        text += f": {reason}"
    log.log(level, "%s", text, extra=fields)


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
