"""The order state machine and the order table (no I/O, no clock of its own).

An :class:`Order` moves through :class:`OrderStatus` only along :data:`TRANSITIONS`; any other
move raises :class:`InvalidTransition` naming the order, the current and the requested status,
and leaves the order untouched. Terminal states (FILLED, CANCELLED, REJECTED, EXPIRED) are never
left.

Quantities are split on purpose:

* ``filled`` / ``average_price`` come only from :class:`Fill` events, deduplicated by
  ``trade_id``, so they are exact and each execution counts once;
* ``venue_filled`` is the highest cumulative quantity the venue reported in an
  :class:`OrderUpdate`. A venue may say FILLED (or CANCELLED after a partial fill) before its
  fill messages arrive, so fills are still accepted in a terminal state as long as they only
  catch up to ``venue_filled``. A fill beyond the amount is always an error (overfill).

Reconciliation rule for an order whose submit outcome is unknown (SUBMITTING or UNKNOWN):
if the venue does not know the client order id, the submit may still be in flight, so the order
stays where it is until ``unknown_grace`` seconds after the submit was sent; after that it is
REJECTED with reason "never reached venue". The verdict is computed live by
:meth:`OrderTable.reconcile` (which reads the clock) and recorded in the
:class:`ReconcileResult`, so replaying the journal reaches the same state without a clock.

Every change goes through :meth:`OrderTable.apply`, which takes the same messages the journal
stores; rebuilding from the journal is therefore the same sequence of calls.

>>> from decimal import Decimal
>>> table = OrderTable()
>>> intent = OrderIntent(client_order_id="c1", strategy="s", venue="sim", symbol="BTC/USDT",
...     side="buy", order_type="limit", amount=Decimal("2"), price=Decimal("10"), created_at=0)
>>> _ = table.apply(intent, now=0.0)
>>> _ = table.apply(SubmitOrder(intent=intent, venue="sim"), now=0.1)
>>> _ = table.apply(Fill(client_order_id="c1", venue="sim", symbol="BTC/USDT", side="buy",
...     price=Decimal("10"), amount=Decimal("0.5"), trade_id="t1"), now=0.2)
>>> order = table.get("c1"); (order.status, order.filled, order.remaining)
(<OrderStatus.PARTIALLY_FILLED: 'PARTIALLY_FILLED'>, Decimal('0.5'), Decimal('1.5'))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from actors.trading.messages import (
    CancelOrder,
    CancelRejected,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileResult,
    ReconcileVerdict,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    SubmitUnknown,
    validate_intent,
)

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "TRANSITIONS",
    "InvalidTransition",
    "Order",
    "OrderError",
    "OrderStatus",
    "OrderTable",
    "replay",
]

S = OrderStatus
TERMINAL: frozenset[OrderStatus] = frozenset({S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED})
"""States an order never leaves."""
ACTIVE: frozenset[OrderStatus] = frozenset(
    {S.SUBMITTING, S.OPEN, S.PARTIALLY_FILLED, S.CANCELLING, S.UNKNOWN}
)
"""States in which the order may be (or may become) live on a venue."""
IN_FLIGHT: frozenset[OrderStatus] = frozenset({S.SUBMITTING, S.UNKNOWN})
"""States in which we do not know whether the venue has the order."""

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # NEW -> CANCELLED: cancelled locally before it was ever sent.
    S.NEW: frozenset({S.SUBMITTING, S.REJECTED, S.CANCELLED}),
    # Fills may arrive before the ack (IOC/market orders); cancel by client id is allowed
    # before the ack too.
    S.SUBMITTING: frozenset(
        {
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLING,
            S.CANCELLED,
            S.REJECTED,
            S.EXPIRED,
            S.UNKNOWN,
        }
    ),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLING, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.CANCELLING, S.CANCELLED, S.EXPIRED}
    ),
    # CANCELLING -> OPEN/PARTIALLY_FILLED: the venue refused the cancel.
    S.CANCELLING: frozenset(
        {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.CANCELLING}
    ),
    # UNKNOWN is left only by evidence: an ack, a fill, a venue status, or reconciliation.
    S.UNKNOWN: frozenset(
        {
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.CANCELLING,
            S.CANCELLED,
            S.REJECTED,
            S.EXPIRED,
        }
    ),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

NEVER_REACHED_VENUE = "never reached venue"


class OrderError(Exception):
    """Bad input for an order (wrong fill, overfill, mismatched venue id...)."""

    def __init__(self, client_order_id: str, message: str) -> None:
        super().__init__(f"order {client_order_id}: {message}")
        self.client_order_id = client_order_id


class InvalidTransition(OrderError):
    """A status change that :data:`TRANSITIONS` does not allow."""

    def __init__(
        self, client_order_id: str, current: OrderStatus, target: OrderStatus, event: str
    ) -> None:
        super().__init__(
            client_order_id,
            f"illegal transition {current.value} -> {target.value} on {event}",
        )
        self.current = current
        self.target = target
        self.event = event


class Order:
    """One order's state. Mutated only through its event methods, each validating first."""

    __slots__ = (
        "_fill_notional",
        "cancel_reason",
        "created_at",
        "filled",
        "intent",
        "reason",
        "status",
        "submitted_at",
        "submitted_wall",
        "trade_ids",
        "updated_at",
        "venue",
        "venue_filled",
        "venue_order_id",
    )

    def __init__(self, intent: OrderIntent, now: float) -> None:
        problem = validate_intent(intent)
        if problem:
            raise OrderError(intent.client_order_id, problem)
        self.intent = intent
        self.status = S.NEW
        self.venue: str | None = intent.venue
        self.venue_order_id: str | None = None
        self.filled = Decimal(0)
        self._fill_notional = Decimal(0)
        self.venue_filled = Decimal(0)
        self.trade_ids: set[str] = set()
        self.reason = ""
        self.cancel_reason = ""
        self.created_at = now
        self.submitted_at: float | None = None
        self.submitted_wall = 0.0
        self.updated_at = now

    # --- derived -------------------------------------------------------------------------

    @property
    def client_order_id(self) -> str:
        return self.intent.client_order_id

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def side(self) -> str:
        return self.intent.side

    @property
    def amount(self) -> Decimal:
        return self.intent.amount

    @property
    def remaining(self) -> Decimal:
        """``amount - filled`` by our own fills (exact)."""
        return self.amount - self.filled

    @property
    def open_quantity(self) -> Decimal:
        """Quantity that may still execute: 0 once terminal, else what neither we nor the
        venue have seen filled."""
        if self.status in TERMINAL:
            return Decimal(0)
        return self.amount - max(self.filled, self.venue_filled)

    @property
    def average_price(self) -> Decimal | None:
        """Exact volume-weighted fill price (Decimal division at context precision)."""
        if not self.filled:
            return None
        return self._fill_notional / self.filled

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fill_notional(self) -> Decimal:
        """Sum of ``amount * price`` over our fills (exact)."""
        return self._fill_notional

    @classmethod
    def restore(
        cls,
        intent: OrderIntent,
        now: float,
        *,
        status: OrderStatus,
        venue: str | None,
        venue_order_id: str | None,
        filled: Decimal,
        fill_notional: Decimal,
        venue_filled: Decimal,
        trade_ids: Iterable[str],
        reason: str = "",
        cancel_reason: str = "",
        submitted_wall: float = 0.0,
    ) -> Order:
        """An order as a journal snapshot recorded it (clock fields restart at ``now``).

        The values are taken as they were recorded: they were reached through the
        transitions when the order was live, and the snapshot's digest vouches for them.
        """
        order = cls.__new__(cls)
        order.intent = intent
        order.status = status
        order.venue = venue
        order.venue_order_id = venue_order_id
        order.filled = filled
        order._fill_notional = fill_notional
        order.venue_filled = venue_filled
        order.trade_ids = set(trade_ids)
        order.reason = reason
        order.cancel_reason = cancel_reason
        order.created_at = now
        order.submitted_at = None if status is S.NEW else now
        order.submitted_wall = submitted_wall
        order.updated_at = now
        return order

    def snapshot(self) -> tuple[object, ...]:
        """Clock-free comparable state (used to check journal rebuild == live state)."""
        return (
            self.client_order_id,
            self.status,
            self.venue,
            self.venue_order_id,
            self.filled,
            self.venue_filled,
            self._fill_notional,
            frozenset(self.trade_ids),
            self.reason,
        )

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id} {self.status.value} {self.side} {self.amount} "
            f"{self.symbol}@{self.venue} filled={self.filled})"
        )

    # --- the transition primitive --------------------------------------------------------

    def _check(self, target: OrderStatus, event: str) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransition(self.client_order_id, self.status, target, event)

    def _move(self, target: OrderStatus, event: str, now: float) -> None:
        self._check(target, event)
        self.status = target
        self.updated_at = now

    def can_move(self, target: OrderStatus) -> bool:
        return target in TRANSITIONS[self.status]

    # --- events --------------------------------------------------------------------------

    def submit_sent(self, venue: str, now: float, wall: float = 0.0) -> None:
        """The router sent the order to ``venue``."""
        if self.intent.venue is not None and venue != self.intent.venue:
            raise OrderError(
                self.client_order_id,
                f"submit to venue {venue!r} but the intent names venue {self.intent.venue!r}",
            )
        self._move(S.SUBMITTING, "submit_sent", now)
        self.venue = venue
        self.submitted_at = now
        self.submitted_wall = wall

    def risk_rejected(self, reason: str, now: float) -> None:
        """Risk refused the intent: it never leaves the process."""
        self._move(S.REJECTED, "risk_rejected", now)
        self.reason = reason

    def acked(self, venue_order_id: str | None, now: float) -> None:
        """The venue accepted the order. Late or repeated acks only record the venue id."""
        if self.status in (S.NEW, S.REJECTED):
            # An ack for an order we never sent, or that we concluded never reached the venue,
            # means our view is wrong: refuse loudly rather than paper over it.
            raise InvalidTransition(self.client_order_id, self.status, S.OPEN, "acked")
        self._check_venue_order_id(venue_order_id)
        if self.status in IN_FLIGHT:
            self._move(S.OPEN, "acked", now)
        # Any later state: the ack raced with later events; its only news is the venue id.
        self._set_venue_order_id(venue_order_id)

    def rejected(self, reason: str, now: float) -> None:
        """The venue refused the order."""
        self._move(S.REJECTED, "rejected", now)
        self.reason = reason

    def submit_unknown(self, reason: str, now: float) -> None:
        """The submit timed out or got a 5xx: the venue may or may not have it."""
        self._move(S.UNKNOWN, "submit_unknown", now)
        self.reason = reason

    def cancel_requested(self, reason: str, now: float) -> None:
        """We asked the venue to cancel (an unsent NEW order is cancelled locally)."""
        if self.status is S.NEW:
            self._move(S.CANCELLED, "cancel_requested", now)
        else:
            self._move(S.CANCELLING, "cancel_requested", now)
        self.cancel_reason = reason

    def cancel_rejected(self, reason: str, now: float) -> None:
        """The venue refused our cancel: back to the live state the fills imply."""
        if self.status is not S.CANCELLING:
            if self.status in TERMINAL:
                return  # the order finished first: exactly why the cancel was refused
            raise InvalidTransition(self.client_order_id, self.status, S.OPEN, "cancel_rejected")
        target = S.PARTIALLY_FILLED if self.filled or self.venue_filled else S.OPEN
        self._move(target, "cancel_rejected", now)
        self.reason = reason

    def cancelled(self, now: float) -> None:
        self._move(S.CANCELLED, "cancelled", now)

    def expired(self, now: float) -> None:
        self._move(S.EXPIRED, "expired", now)

    def fill(self, fill: Fill, now: float) -> bool:
        """Apply an execution; returns False when this trade_id was already counted."""
        cid = self.client_order_id
        if fill.trade_id in self.trade_ids:
            return False
        if fill.symbol != self.symbol or fill.side != self.side:
            raise OrderError(
                cid,
                f"fill {fill.trade_id} is {fill.side} {fill.symbol} "
                f"but the order is {self.side} {self.symbol}",
            )
        if self.venue is not None and fill.venue != self.venue:
            raise OrderError(
                cid, f"fill {fill.trade_id} from venue {fill.venue!r}, order is on {self.venue!r}"
            )
        if not (fill.amount.is_finite() and fill.amount > 0):
            raise OrderError(cid, f"fill {fill.trade_id} amount must be > 0, got {fill.amount}")
        if not (fill.price.is_finite() and fill.price > 0):
            raise OrderError(cid, f"fill {fill.trade_id} price must be > 0, got {fill.price}")
        new_filled = self.filled + fill.amount
        if new_filled > self.amount:
            raise OrderError(
                cid,
                f"overfill: fill {fill.trade_id} of {fill.amount} brings filled to "
                f"{new_filled} > amount {self.amount}",
            )
        if self.status is S.NEW or self.status is S.REJECTED:
            raise InvalidTransition(cid, self.status, S.PARTIALLY_FILLED, "fill")
        if self.status in TERMINAL:
            # Catch-up fills for what the venue already reported as executed.
            if new_filled > self.venue_filled:
                raise OrderError(
                    cid,
                    f"fill {fill.trade_id} in terminal {self.status.value} brings filled to "
                    f"{new_filled} beyond the venue-reported {self.venue_filled}",
                )
        elif new_filled == self.amount:
            self._move(S.FILLED, "fill", now)
        elif self.status is not S.CANCELLING:
            # A partial fill while cancelling keeps the cancel pending.
            self._move(S.PARTIALLY_FILLED, "fill", now)
        self.filled = new_filled
        self._fill_notional += fill.amount * fill.price
        self.trade_ids.add(fill.trade_id)
        self.updated_at = now
        return True

    def venue_update(self, update: OrderUpdate, now: float) -> None:
        """Apply the venue's view (status + cumulative filled) of this order.

        All checks run before anything changes, so a refused update leaves the order intact.
        """
        cid = self.client_order_id
        status = update.status
        if self.venue is not None and update.venue != self.venue:
            raise OrderError(cid, f"update from venue {update.venue!r}, order is on {self.venue!r}")
        if not update.filled.is_finite() or update.filled < 0 or update.filled > self.amount:
            raise OrderError(
                cid, f"update reports filled={update.filled}, order amount is {self.amount}"
            )
        if status is S.FILLED and update.filled != self.amount:
            raise OrderError(
                cid, f"update says FILLED with filled={update.filled} != amount {self.amount}"
            )
        if status is S.OPEN:
            self.acked(update.venue_order_id, now)
            self.venue_filled = max(self.venue_filled, update.filled)
            return
        target = self._update_target(status)
        if self.status in (S.NEW, S.REJECTED) and status is not S.REJECTED:
            raise InvalidTransition(cid, self.status, status, "venue_update")
        if target is not None:
            self._check(target, "venue_update")
        self._check_venue_order_id(update.venue_order_id)
        # --- nothing below can fail ---
        if target is not None:
            self._move(target, "venue_update", now)
        self._set_venue_order_id(update.venue_order_id)
        if status is S.REJECTED:
            self.reason = update.reason or self.reason
        self.venue_filled = max(self.venue_filled, update.filled)
        self.updated_at = now

    def _update_target(self, status: OrderStatus) -> OrderStatus | None:
        """The status a venue report moves us to; None when it brings no status news."""
        if status is S.PARTIALLY_FILLED:
            # While cancelling, or once terminal, a partial report is old news.
            return S.PARTIALLY_FILLED if self.status in (*IN_FLIGHT, S.OPEN) else None
        if status in (S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED):
            return None if self.status is status else status
        raise OrderError(self.client_order_id, f"venue cannot report status {status.value}")

    def reconcile(self, result: ReconcileResult, now: float) -> None:
        """Apply a reconciliation verdict (see the module docstring for the rule)."""
        if result.verdict is ReconcileVerdict.FOUND:
            if result.update is None:
                raise OrderError(self.client_order_id, "reconcile FOUND without an update")
            self.venue_update(result.update, now)
        elif result.verdict is ReconcileVerdict.NEVER_REACHED_VENUE:
            if self.status not in IN_FLIGHT:
                raise InvalidTransition(
                    self.client_order_id, self.status, S.REJECTED, "reconcile never_reached_venue"
                )
            self._move(S.REJECTED, "reconcile", now)
            self.reason = NEVER_REACHED_VENUE
        # NOT_FOUND_IN_GRACE: nothing learned yet.

    def _check_venue_order_id(self, venue_order_id: str | None) -> None:
        if (
            venue_order_id is not None
            and self.venue_order_id is not None
            and self.venue_order_id != venue_order_id
        ):
            raise OrderError(
                self.client_order_id,
                f"venue order id changed from {self.venue_order_id!r} to {venue_order_id!r}",
            )

    def _set_venue_order_id(self, venue_order_id: str | None) -> None:
        self._check_venue_order_id(venue_order_id)
        if venue_order_id is not None:
            self.venue_order_id = venue_order_id


class OrderTable:
    """All orders of the process keyed by client order id, with venue-id and open lookups.

    ``unknown_grace`` is how long (seconds) after a submit an order the venue does not know
    may still be in flight (see module docstring).
    """

    def __init__(self, unknown_grace: float = 30.0) -> None:
        if unknown_grace < 0:
            raise ValueError(f"unknown_grace must be >= 0, got {unknown_grace}")
        self.unknown_grace = unknown_grace
        self._orders: dict[str, Order] = {}
        self._by_venue_id: dict[tuple[str, str], Order] = {}

    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self._orders

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def __getitem__(self, client_order_id: str) -> Order:
        try:
            return self._orders[client_order_id]
        except KeyError:
            raise KeyError(f"no order with client order id {client_order_id!r}") from None

    def by_venue_order_id(self, venue: str, venue_order_id: str) -> Order | None:
        return self._by_venue_id.get((venue, venue_order_id))

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        """Active (possibly live) orders, optionally filtered by venue and symbol."""
        return [
            o
            for o in self._orders.values()
            if o.status in ACTIVE
            and (venue is None or o.venue == venue)
            and (symbol is None or o.symbol == symbol)
        ]

    def in_flight(self) -> list[Order]:
        """Orders whose submit outcome is not known (need reconciliation)."""
        return [o for o in self._orders.values() if o.status in IN_FLIGHT]

    def snapshot(self) -> dict[str, tuple[object, ...]]:
        """Clock-free state of every order, for comparisons."""
        return {cid: o.snapshot() for cid, o in self._orders.items()}

    def insert(self, order: Order) -> None:
        """Register an order restored from a snapshot (see :meth:`Order.restore`)."""
        if order.client_order_id in self._orders:
            raise OrderError(order.client_order_id, "duplicate client order id")
        self._orders[order.client_order_id] = order
        if order.venue_order_id is not None and order.venue is not None:
            self._by_venue_id[(order.venue, order.venue_order_id)] = order

    def remove(self, client_order_id: str) -> Order | None:
        """Forget an order (a terminal one past the journal's retention); the order or None."""
        order = self._orders.pop(client_order_id, None)
        if order is not None and order.venue is not None and order.venue_order_id is not None:
            key = (order.venue, order.venue_order_id)
            if self._by_venue_id.get(key) is order:
                del self._by_venue_id[key]
        return order

    def add(self, intent: OrderIntent, now: float) -> Order:
        """Register a new order; a reused client order id is an error."""
        if intent.client_order_id in self._orders:
            raise OrderError(intent.client_order_id, "duplicate client order id")
        order = Order(intent, now)
        self._orders[intent.client_order_id] = order
        return order

    def apply(self, msg: Message, now: float) -> Order | None:
        """Apply one order message; returns the order it concerned (None if not order-related).

        Raises :class:`OrderError` (or its subclass :class:`InvalidTransition`) on bad input,
        leaving the order as it was.
        """
        if isinstance(msg, OrderIntent):
            return self.add(msg, now)
        cid = getattr(msg, "client_order_id", None)
        if cid is None:
            return None
        order = self._orders.get(cid)
        if order is None:
            raise OrderError(cid, f"{type(msg).__name__} for an unknown client order id")
        if isinstance(msg, RiskApproved):
            if order.status is not S.NEW:
                raise InvalidTransition(cid, order.status, S.NEW, "risk_approved")
        elif isinstance(msg, RiskRejected):
            order.risk_rejected(f"{msg.reason.value}: {msg.detail}", now)
        elif isinstance(msg, SubmitOrder):
            order.submit_sent(msg.venue, now, msg.sent_wall)
        elif isinstance(msg, SubmitUnknown):
            order.submit_unknown(msg.reason, now)
        elif isinstance(msg, CancelOrder):
            order.cancel_requested(msg.reason, now)
        elif isinstance(msg, CancelRejected):
            order.cancel_rejected(msg.reason, now)
        elif isinstance(msg, OrderUpdate):
            order.venue_update(msg, now)
        elif isinstance(msg, Fill):
            order.fill(msg, now)
        elif isinstance(msg, ReconcileResult):
            order.reconcile(msg, now)
        else:
            raise OrderError(cid, f"{type(msg).__name__} is not an order event")
        if order.venue_order_id is not None and order.venue is not None:
            self._by_venue_id[(order.venue, order.venue_order_id)] = order
        return order

    def reconcile(
        self, client_order_id: str, found: OrderUpdate | None, now: float
    ) -> ReconcileResult:
        """Decide the verdict for what the venue said (``found=None``: not known there).

        Reads ``now`` against the order's submit time; apply the returned message (and
        journal it) to act on it.
        """
        order = self[client_order_id]
        venue = order.venue or ""
        if found is not None:
            return ReconcileResult(
                client_order_id=client_order_id,
                venue=found.venue,
                verdict=ReconcileVerdict.FOUND,
                update=found,
                at=now,
            )
        sent = order.submitted_at
        if order.status in IN_FLIGHT and (sent is None or now - sent >= self.unknown_grace):
            verdict = ReconcileVerdict.NEVER_REACHED_VENUE
        else:
            verdict = ReconcileVerdict.NOT_FOUND_IN_GRACE
        return ReconcileResult(
            client_order_id=client_order_id, venue=venue, verdict=verdict, at=now
        )

    def rebase_clock(self, now: float, wall_now: float | None = None) -> None:
        """After a restart (trio's clock has a new origin), place in-flight submits on it.

        With ``wall_now``, a submit whose wall-clock send time is known keeps its age (a
        submit sent a minute before a crash is a minute old, not new again at every boot);
        otherwise its grace period restarts at ``now``.
        """
        for order in self._orders.values():
            if order.status in IN_FLIGHT:
                age = 0.0
                if wall_now is not None and order.submitted_wall > 0:
                    age = max(0.0, wall_now - order.submitted_wall)
                order.submitted_at = now - age


def replay(
    messages: Iterable[Message],
    now: float = 0.0,
    unknown_grace: float = 30.0,
    *,
    strict: bool = True,
    on_error: Callable[[OrderError], object] | None = None,
    wall_now: float | None = None,
) -> OrderTable:
    """Rebuild an :class:`OrderTable` from journaled messages (non-order messages skipped).

    The in-memory twin of :meth:`actors.trading.journal.Journal.rebuild`, for actors that read
    the journal through the journal actor; in-flight grace timers restart at ``now``.
    ``strict=False`` skips events that do not apply instead of raising :class:`OrderError`
    (``on_error`` is told about each).
    """
    table = OrderTable(unknown_grace=unknown_grace)
    for msg in messages:
        if getattr(msg, "client_order_id", None) is None and not isinstance(msg, OrderIntent):
            continue
        try:
            table.apply(msg, now)
        except OrderError as exc:
            if strict:
                raise
            if on_error is not None:
                on_error(exc)
    table.rebase_clock(now, wall_now)
    return table
