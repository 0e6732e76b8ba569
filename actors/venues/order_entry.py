"""Order entry shared by every protocol: funds, duplicates, post-only, cancel, amend.

Protocols parse their own parameters into prices and quantities (``rules.Market``) and call
these; the rules here (what is reserved, when a client id counts as a duplicate, how an amend
moves locked funds) are the venue's, the same whatever the wire format.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Literal

from actors.venues.accounts import Account
from actors.venues.engine import LIMIT_MAKER, MARKET, Fill, Order
from actors.venues.rejects import Reason, Rejected
from actors.venues.rules import Market

if TYPE_CHECKING:
    from actors.venues.server import Venue

Transport = Literal["rest", "ws"]


class OrderEntry:
    """Place, cancel, amend and find an account's orders on the venue's engine.

    Example::

        order, fills = venue.entry.place(acct, m, side="BUY", type="LIMIT", tif="GTC",
                                         price=p, qty=q, client_id="c1")
    """

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.requests: Counter[str] = Counter()
        """Order requests by ``transport.operation`` (``ws.place``, ``rest.cancel``...), as
        they arrived, whatever their outcome: which path served a client's orders."""

    def count(self, transport: Transport, operation: str, n: int = 1) -> None:
        """Count ``n`` order requests of ``operation`` (place, cancel, amend) over ``transport``."""
        self.requests[f"{transport}.{operation}"] += n

    def received(self, api_key: str, client_id: object) -> None:
        """Tell the ``on_order_received`` observer an order request arrived (benchmarks)."""
        observer = self.venue.on_order_received
        if observer is not None:
            cid = None if client_id in (None, "") else str(client_id)
            observer(api_key, cid, time.perf_counter())

    def place(
        self,
        account: Account,
        m: Market,
        *,
        side: str,
        type: str,
        tif: str,
        price: int = 0,
        qty: int = 0,
        quote_qty: int = 0,
        client_id: str,
        stp: str = "NONE",
        reject_post_only_taker: bool = True,
    ) -> tuple[Order, list[Fill]]:
        """Reserve funds and submit; a post-only order that would take is refused
        (``reject_post_only_taker``, Binance's LIMIT_MAKER) or accepted then expired (OKX)."""
        engine = self.venue.engine
        existing = engine.client_ids.get((account.api_key, m.id, client_id))
        if client_id and existing is not None and existing.order_id in engine.live:
            raise Rejected(Reason.DUPLICATE_ORDER, "clientOrderId")
        order = engine.new_order(
            symbol=m.id,
            side=side,
            type=type,
            tif=tif if type != MARKET else "GTC",
            price=price,
            qty=qty,
            account=account.api_key,
            client_id=client_id,
            quote_qty=quote_qty,
            stp=stp,
        )
        book = engine.books[m.id]
        if type == LIMIT_MAKER and reject_post_only_taker and book.would_take(order):
            raise Rejected(Reason.WOULD_TAKE)
        self._reserve(account, m, order)
        fills = engine.submit(order)
        self.venue.flush_user_events()
        return order, fills

    def _reserve(self, account: Account, m: Market, o: Order) -> None:
        book = self.venue.engine.books[m.id]
        if o.type != MARKET:
            if o.is_buy:
                account.lock(m.quote, m.notional_dec(o.price * o.qty))
            else:
                account.lock(m.base, m.qty_dec(o.qty))
        elif o.is_buy:
            if o.quote_qty:
                need = m.notional_dec(o.quote_qty)
            else:
                _, cost = book.sweep_cost(o.qty)
                need = m.notional_dec(cost)
            if need > account.free[m.quote]:
                raise Rejected(Reason.INSUFFICIENT_FUNDS, m.quote)
        elif m.qty_dec(o.qty) > account.free[m.base]:
            raise Rejected(Reason.INSUFFICIENT_FUNDS, m.base)

    def find(
        self, account: Account, m: Market, order_id: int | None, client_id: str | None
    ) -> Order:
        """An account's order by id or client id, or ``Rejected(UNKNOWN_ORDER)``."""
        o = self.venue.engine.find(account.api_key, m.id, order_id, client_id)
        if o is None:
            raise Rejected(Reason.UNKNOWN_ORDER)
        return o

    def cancel(self, order: Order, cancel_client_id: str = "") -> None:
        """Cancel a working order, or ``Rejected(ORDER_CLOSED)`` if it no longer works."""
        engine = self.venue.engine
        if order.order_id not in engine.live:
            raise Rejected(Reason.ORDER_CLOSED)
        engine.cancel(order, cancel_client_id)
        self.venue.flush_user_events()

    def amend(self, account: Account, m: Market, order: Order, price: int, qty: int) -> list[Fill]:
        """New price and/or total quantity for a working limit order; locked funds follow.

        ``qty`` must exceed what already filled (``Rejected(QTY_RANGE)``); a buy needing more
        quote than is free is refused and the order stays as it was.
        """
        engine = self.venue.engine
        if order.order_id not in engine.live:
            raise Rejected(Reason.ORDER_CLOSED)
        if qty <= order.executed:
            raise Rejected(Reason.QTY_RANGE, "newSz", "new size must exceed the filled size")
        remaining = qty - order.executed
        if order.is_buy:
            old = m.notional_dec(order.price * order.remaining)
            new = m.notional_dec(price * remaining)
            if new > old:
                account.lock(m.quote, new - old)
            else:
                account.unlock(m.quote, old - new)
        else:
            old_q, new_q = m.qty_dec(order.remaining), m.qty_dec(remaining)
            if new_q > old_q:
                account.lock(m.base, new_q - old_q)
            else:
                account.unlock(m.base, old_q - new_q)
        fills = engine.amend(order, price, qty)
        self.venue.flush_user_events()
        return fills
