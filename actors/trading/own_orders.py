"""What a strategy knows of its own orders: which are open, and the position they add up to.

A plain class the :class:`~actors.trading.strategy.Strategy` base keeps up to date from what
it already receives: the intents risk approved (``submitted``), and the router's forwarded
:class:`OrderUpdate`s and :class:`Fill`s. At start it is seeded with the router's views of the
strategy's orders, so a restarted strategy knows its open orders and position again.

Counting is idempotent, so a fill the router forwards and the venue's cumulative figure in a
later update never add up twice: an order's filled quantity is the larger of the sum of its
fills (deduplicated by trade id) and the cumulative ``filled`` of its latest update. An order
seeded from a view counts further fills only through its updates' cumulative figure (a fill
that waited in the mailbox across the restart is already in the view's ``filled``).

>>> from decimal import Decimal as D
>>> own = OwnOrders()
>>> own.submitted(OrderIntent(client_order_id="c1", strategy="s", venue="v", symbol="BTC/USDT",
...     side="buy", order_type="limit", amount=D("2"), price=D("10"), created_at=0.0))
>>> own.fill(Fill(client_order_id="c1", venue="v", symbol="BTC/USDT", side="buy",
...     price=D("10"), amount=D("0.5"), trade_id="t1"))
>>> own.position("BTC/USDT"), [o.client_order_id for o in own.open_orders()]
(Decimal('0.5'), ['c1'])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from actors.trading.messages import Fill, OrderIntent, OrderStatus, OrderUpdate
from actors.trading.orders import ACTIVE
from actors.trading.protocol import OrderView

ZERO = Decimal(0)
KEEP_ENDED = 2048
"""Ended orders remembered (a fill can arrive after its order's final update)."""


@dataclass(slots=True)
class _Own:
    view: OrderView
    seeded: bool = False
    fills: Decimal = ZERO
    """Sum of the fills seen (deduplicated by trade id)."""
    reported: Decimal = ZERO
    """Cumulative filled quantity of the latest update (or of the view it was seeded from)."""
    trade_ids: set[str] = field(default_factory=set)

    @property
    def filled(self) -> Decimal:
        return self.reported if self.seeded else max(self.fills, self.reported)


class OwnOrders:
    """One strategy's orders by client order id, its open ones, and its positions."""

    def __init__(self, keep_ended: int = KEEP_ENDED) -> None:
        self._orders: OrderedDict[str, _Own] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._keep = keep_ended
        self._positions: dict[tuple[str, str], Decimal] = {}
        self.fill_count = 0
        """Fills seen in this incarnation."""

    # --- what comes in -----------------------------------------------------------------------

    def seed(self, views: Iterable[OrderView]) -> None:
        """Orders the router already had (at start): open ones, and the position of all."""
        for view in views:
            own = _Own(view, seeded=True, reported=view.filled)
            self._orders[view.client_order_id] = own
            self._move(view, view.filled)
            if view.status not in ACTIVE:
                self._ended_now(view.client_order_id)

    def submitted(self, intent: OrderIntent) -> None:
        """Risk approved ``intent``: an order on its way (SUBMITTING)."""
        view = OrderView(
            client_order_id=intent.client_order_id,
            strategy=intent.strategy,
            venue=intent.venue,
            symbol=intent.symbol,
            side=intent.side,
            amount=intent.amount,
            price=intent.price,
            status=OrderStatus.SUBMITTING,
            filled=ZERO,
            venue_order_id=None,
        )
        self._orders[intent.client_order_id] = _Own(view)

    def update(self, update: OrderUpdate) -> None:
        """The venue's news of one of our orders (ignored if it is not one we know)."""
        own = self._orders.get(update.client_order_id)
        if own is None:
            return
        before = own.filled
        own.reported = max(own.reported, update.filled)
        own.view = _replace(
            own.view,
            venue=update.venue or own.view.venue,
            status=update.status,
            venue_order_id=update.venue_order_id or own.view.venue_order_id,
            reason=update.reason or own.view.reason,
            average_price=update.average_price or own.view.average_price,
        )
        self._settle(own, before)
        if update.status not in ACTIVE:
            self._ended_now(update.client_order_id)

    def fill(self, fill: Fill) -> None:
        """One execution of one of our orders (a repeated trade id is ignored)."""
        own = self._orders.get(fill.client_order_id)
        if own is None or fill.trade_id in own.trade_ids:
            return
        own.trade_ids.add(fill.trade_id)
        self.fill_count += 1
        before = own.filled
        own.fills += fill.amount
        if own.view.venue is None:
            own.view = _replace(own.view, venue=fill.venue)
        self._settle(own, before)

    # --- what a strategy asks ----------------------------------------------------------------

    def open_orders(self, symbol: str | None = None, venue: str | None = None) -> list[OrderView]:
        """Orders that may still be live at a venue, oldest first (of ``symbol``/``venue``)."""
        return [
            own.view
            for own in self._orders.values()
            if own.view.status in ACTIVE
            and (symbol is None or own.view.symbol == symbol)
            and (venue is None or own.view.venue == venue)
        ]

    def get(self, client_order_id: str) -> OrderView | None:
        """One of our orders as we last heard of it (ended ones for a while), or None."""
        own = self._orders.get(client_order_id)
        return own.view if own is not None else None

    def position(self, symbol: str, venue: str | None = None) -> Decimal:
        """Net filled base quantity (buys minus sells) of ``symbol``, on ``venue`` or all."""
        return sum(
            (q for (v, s), q in self._positions.items() if s == symbol and venue in (None, v)),
            ZERO,
        )

    def positions(self) -> dict[tuple[str, str], Decimal]:
        """Net filled base quantity per (venue, symbol), flat ones left out."""
        return {key: q for key, q in self._positions.items() if q}

    # --- inside ------------------------------------------------------------------------------

    def _settle(self, own: _Own, before: Decimal) -> None:
        after = own.filled
        if after != before:
            own.view = _replace(own.view, filled=after)
            self._move(own.view, after - before)

    def _move(self, view: OrderView, quantity: Decimal) -> None:
        if not quantity:
            return
        key = (view.venue or "", view.symbol)
        signed = quantity if view.side == "buy" else -quantity
        self._positions[key] = self._positions.get(key, ZERO) + signed

    def _ended_now(self, cid: str) -> None:
        self._ended[cid] = None
        self._ended.move_to_end(cid)
        while len(self._ended) > self._keep:
            old, _ = self._ended.popitem(last=False)
            own = self._orders.get(old)
            if own is not None and own.view.status not in ACTIVE:
                del self._orders[old]


def _replace(view: OrderView, **changes: object) -> OrderView:
    return msgspec.structs.replace(view, **changes)
