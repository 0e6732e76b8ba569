"""What a journal replays into, and the snapshot of it that bounds start-up time.

:class:`Replay` applies journal records one at a time, by the same rules at start-up, in the
journal's background snapshots and in a full replay: order events go through the
:class:`~actors.trading.orders.OrderTable`, fills also into the
:class:`~actors.trading.positions.Portfolio`, trading-state changes set the trading state. A
record that does not apply raises and changes nothing (the journal quarantines it).

:class:`DeskState` is that state as one immutable, serialisable value: what a snapshot stores
(msgpack, with a blake2b digest that :func:`decode_snapshot` checks) and what the router and
risk rebuild from at start-up (:meth:`DeskState.order_table`, :meth:`DeskState.portfolio`),
instead of replaying the history each. Terminal orders past the retention window are pruned
from the state before it is snapshotted (:meth:`Replay.prune`); open orders never are.

Hand-written because it is the desk's own domain: which state a restart needs, and in what
shape. msgspec does the encoding.

>>> replay = Replay()
>>> replay.apply(1, 0.0, SetTradingState(state=TradingState.HALTED, reason="x"))
>>> state = replay.state()
>>> decode_snapshot(*encode_snapshot(state)).trading_state
<TradingState.HALTED: 'HALTED'>
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from actors.trading.messages import (
    AnyMessage,
    CancelOrder,
    CancelRejected,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    ReconcileResult,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    SubmitOrder,
    SubmitUnknown,
    TradingState,
    TradingStateChanged,
)
from actors.trading.orders import Order, OrderTable
from actors.trading.positions import Lot, Portfolio, Position

SNAPSHOT_FORMAT = 1
"""Version of the snapshot body; a snapshot of another format is not used (full replay)."""

ORDER_EVENTS = (
    OrderIntent,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    SubmitUnknown,
    CancelOrder,
    CancelRejected,
    OrderUpdate,
    Fill,
    ReconcileResult,
)
"""Journal messages that the order table applies."""


class SnapshotCorrupt(Exception):
    """A snapshot body that cannot be used (digest mismatch, undecodable, unknown format)."""


class OrderRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One order as a snapshot keeps it (clock fields are not kept: they restart)."""

    intent: OrderIntent
    status: OrderStatus
    venue: str | None
    venue_order_id: str | None
    filled: Decimal
    fill_notional: Decimal
    venue_filled: Decimal
    trade_ids: tuple[str, ...]
    reason: str
    cancel_reason: str
    submitted_wall: float
    last_at: float
    """Wall-clock time of the order's last journal record (for the retention window)."""

    @classmethod
    def of(cls, order: Order, last_at: float) -> OrderRecord:
        return cls(
            order.intent,
            order.status,
            order.venue,
            order.venue_order_id,
            order.filled,
            order.fill_notional,
            order.venue_filled,
            tuple(sorted(order.trade_ids)),
            order.reason,
            order.cancel_reason,
            order.submitted_wall,
            last_at,
        )

    def order(self, now: float) -> Order:
        """The live order (clock fields at ``now``)."""
        return Order.restore(
            self.intent,
            now,
            status=self.status,
            venue=self.venue,
            venue_order_id=self.venue_order_id,
            filled=self.filled,
            fill_notional=self.fill_notional,
            venue_filled=self.venue_filled,
            trade_ids=self.trade_ids,
            reason=self.reason,
            cancel_reason=self.cancel_reason,
            submitted_wall=self.submitted_wall,
        )


class PositionRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One position (venue, symbol) with its open FIFO lots."""

    venue: str
    symbol: str
    lots: tuple[tuple[Decimal, Decimal], ...]
    """(signed quantity, price), oldest first."""
    realized_pnl: Decimal
    fees: Decimal
    other_fees: dict[str, Decimal]
    bought: Decimal
    sold: Decimal
    cash_flow: Decimal
    fill_count: int

    @classmethod
    def of(cls, pos: Position) -> PositionRecord:
        return cls(
            pos.venue,
            pos.symbol,
            tuple((lot.quantity, lot.price) for lot in pos.lots),
            pos.realized_pnl,
            pos.fees,
            dict(pos.other_fees),
            pos.bought,
            pos.sold,
            pos.cash_flow,
            pos.fill_count,
        )

    def position(self) -> Position:
        return Position(
            self.venue,
            self.symbol,
            deque(Lot(q, p) for q, p in self.lots),
            self.realized_pnl,
            self.fees,
            dict(self.other_fees),
            self.bought,
            self.sold,
            self.cash_flow,
            self.fill_count,
        )


class DeskState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The desk's state after journal record ``seq``: orders, positions, trading state.

    The router and risk rebuild their own (mutable, private) objects from it at start-up.
    """

    seq: int
    trading_state: TradingState | None = None
    orders: tuple[OrderRecord, ...] = ()
    positions: tuple[PositionRecord, ...] = ()
    format: int = SNAPSHOT_FORMAT

    def order_table(
        self, now: float, unknown_grace: float = 30.0, wall_now: float | None = None
    ) -> OrderTable:
        """A fresh order table; in-flight submits placed on ``now``'s clock (see
        :meth:`OrderTable.rebase_clock`: with ``wall_now`` they keep their age)."""
        table = OrderTable(unknown_grace=unknown_grace)
        for record in self.orders:
            table.insert(record.order(now))
        table.rebase_clock(now, wall_now)
        return table

    def portfolio(self) -> Portfolio:
        """A fresh portfolio with every position, remembering the fills of the kept orders."""
        return Portfolio.restore((p.position() for p in self.positions), trade_keys_of(self.orders))


def trade_keys_of(orders: Iterable[OrderRecord]) -> set[tuple[str, str, str]]:
    """(venue, symbol, trade_id) of every fill of ``orders``, as the portfolio counts them."""
    return {
        (o.venue, o.intent.symbol, t) for o in orders if o.venue is not None for t in o.trade_ids
    }


class Replay:
    """The state a journal's records build, one record at a time.

    ``now`` is the clock value every replayed event gets (trio's clock of the replaying
    process; old clock values mean nothing in a new process).
    """

    def __init__(self, unknown_grace: float = 30.0, now: float = 0.0) -> None:
        self.table = OrderTable(unknown_grace=unknown_grace)
        self.portfolio = Portfolio()
        self.trading_state: TradingState | None = None
        self.seq = 0
        """The last record applied (or set aside)."""
        self.last_at: dict[str, float] = {}
        """Wall-clock time of each order's last record."""
        self.now = now

    @classmethod
    def of_state(cls, state: DeskState, unknown_grace: float = 30.0, now: float = 0.0) -> Replay:
        """Continue from a snapshot's state."""
        replay = cls(unknown_grace, now)
        replay.table = state.order_table(now, unknown_grace)
        replay.portfolio = state.portfolio()
        replay.trading_state = state.trading_state
        replay.seq = state.seq
        replay.last_at = {o.intent.client_order_id: o.last_at for o in state.orders}
        return replay

    def apply(self, seq: int, at: float, msg: AnyMessage) -> None:
        """Apply record ``seq`` (appended at wall time ``at``); raises if it does not apply,
        leaving the state as it was."""
        self.seq = max(self.seq, seq)
        if isinstance(msg, Fill):
            Portfolio.check_fill(msg)  # before the order table: all or nothing
        if isinstance(msg, ORDER_EVENTS):
            order = self.table.apply(msg, self.now)
            if order is not None:
                self.last_at[order.client_order_id] = at
        if isinstance(msg, Fill):
            self.portfolio.apply_fill(msg)
        elif isinstance(msg, (SetTradingState, TradingStateChanged)):
            self.trading_state = msg.state

    def prune(self, wall_now: float, retention: float, retain_orders: int) -> set[str]:
        """Forget terminal orders whose last record is older than ``retention`` seconds, and
        the oldest terminal ones beyond ``retain_orders``; their client ids. Open orders
        (anything not terminal) are always kept."""
        terminal = sorted(
            (self.last_at.get(o.client_order_id, 0.0), o.client_order_id)
            for o in self.table
            if o.is_terminal
        )
        horizon = wall_now - retention
        excess = len(terminal) - retain_orders
        gone = {cid for i, (at, cid) in enumerate(terminal) if at < horizon or i < excess}
        keys = []
        for cid in gone:
            order = self.table.remove(cid)
            self.last_at.pop(cid, None)
            if order is not None and order.venue is not None:
                keys += [(order.venue, order.symbol, t) for t in order.trade_ids]
        self.portfolio.forget_trades(keys)
        return gone

    def state(self) -> DeskState:
        """The current state as an immutable value."""
        return DeskState(
            seq=self.seq,
            trading_state=self.trading_state,
            orders=tuple(
                OrderRecord.of(o, self.last_at.get(o.client_order_id, 0.0)) for o in self.table
            ),
            positions=tuple(PositionRecord.of(p) for p in self.portfolio.positions()),
        )


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(DeskState)


def digest_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def encode_snapshot(state: DeskState) -> tuple[bytes, str]:
    """The snapshot body of ``state`` and its digest."""
    body = _encoder.encode(state)
    return body, digest_of(body)


def decode_snapshot(body: bytes, digest: str) -> DeskState:
    """The state a snapshot body holds; :class:`SnapshotCorrupt` if it cannot be trusted."""
    if not isinstance(body, bytes) or digest_of(body) != digest:
        raise SnapshotCorrupt("digest mismatch (the body is not what was written)")
    try:
        state = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise SnapshotCorrupt(f"undecodable ({exc})") from None
    if state.format != SNAPSHOT_FORMAT:
        raise SnapshotCorrupt(f"format {state.format}, this program reads {SNAPSHOT_FORMAT}")
    return state
