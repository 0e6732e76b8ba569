"""What a fault plan and the invariants need of a venue, in this process or next door.

:class:`LocalVenue` wraps an embedded venue of this process (``actors.venues.Venue``): its
fault knobs are called directly and its ledger (every order and fill of the desk's account)
is read from its matching engine, exactly. :class:`RemoteVenue` drives a venue in another
process (``actors sim-exchange``) through its ``/_sim`` control endpoint (``VenueControl``);
it has no ledger (``actors verify`` reads one over the exchange's REST API instead).

>>> # handle = LocalVenue(venue); await handle.fault("drop_websockets")
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from actors.testing.faults import VenueControl
from actors.trading.messages import OrderStatus

if TYPE_CHECKING:
    from actors.venues import Venue

VENUE_STATUS = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "REJECTED": OrderStatus.REJECTED,
}
"""Binance's order statuses (the embedded engine's) as the desk's."""

OKX_STATE = {
    "live": OrderStatus.OPEN,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
}
"""OKX's order states as the desk's (OKX has no "expired": an IOC's rest is "canceled")."""


def status_at(venue: Venue, order: Any) -> OrderStatus:
    """The status of an engine order as the venue's protocol shows it to the desk."""
    if venue.config.protocol == "okx":
        from actors.venues.okx.shapes import state

        return OKX_STATE.get(state(order), OrderStatus.UNKNOWN)
    return VENUE_STATUS.get(order.status, OrderStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class LedgerOrder:
    """One order of the account as the venue has it."""

    client_order_id: str
    symbol: str
    status: OrderStatus
    filled: Decimal
    fills: int
    """Trades the order took part in."""


@dataclass(slots=True)
class Ledger:
    """Every order and the net traded quantity of one account at one venue."""

    venue: str
    orders: list[LedgerOrder] = field(default_factory=list)
    traded: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Signed base quantity bought minus sold, per symbol, from the venue's trades."""

    def placed(self) -> Counter[str]:
        """How many orders the venue holds per client order id."""
        return Counter(o.client_order_id for o in self.orders)


class VenueHandle(Protocol):
    """A venue as a fault plan and the invariants use it."""

    name: str

    async def fault(self, action: str, **kwargs: Any) -> Any:
        """Apply one of the venue's fault knobs (``drop_websockets``, ``add_latency``...)."""

    async def pause_market(self) -> None:
        """Freeze the synthetic market (books hold still)."""

    async def resume_market(self) -> None:
        """Let the synthetic market move again."""

    async def book(self, symbol: str, depth: int) -> dict[str, Any]:
        """The venue's own book: ``bids``, ``asks``, ``lastUpdateId``, ``publishedUpdateId``."""

    def ledger(self, prefix: str) -> Ledger | None:
        """Orders and trades of the desk's account with client ids starting ``prefix``."""


class LocalVenue:
    """An embedded venue of this process, for faults, market control and its ledger."""

    def __init__(self, venue: Venue, api_key: str | None = None) -> None:
        self.venue = venue
        self.name = venue.config.name
        self.api_key = api_key if api_key is not None else venue.config.api_key

    async def fault(self, action: str, **kwargs: Any) -> Any:
        return getattr(self.venue.faults, action)(**kwargs)

    async def pause_market(self) -> None:
        self.venue.pause_market()

    async def resume_market(self) -> None:
        self.venue.resume_market()

    async def book(self, symbol: str, depth: int) -> dict[str, Any]:
        return self.venue.book(symbol, limit=depth)

    def ledger(self, prefix: str) -> Ledger:
        """Read from the matching engine: every order of the account, its trades."""
        engine = self.venue.engine
        ledger = Ledger(self.name)
        mine = {
            o.order_id
            for o in engine.account_orders.values()
            if o.account == self.api_key and o.client_id.startswith(prefix)
        }
        fills: Counter[int] = Counter()
        for user_fill in self.venue.user_fills.get(self.api_key, []):
            order = user_fill.order
            if order.order_id not in mine:
                continue
            fills[order.order_id] += 1
            m = engine.markets[order.symbol]
            qty = m.qty_dec(user_fill.fill.qty)
            ledger.traded[m.symbol] += qty if order.is_buy else -qty
        for order_id in sorted(mine):
            o = engine.account_orders[order_id]
            m = engine.markets[o.symbol]
            ledger.orders.append(
                LedgerOrder(
                    o.client_id,
                    m.symbol,
                    status_at(self.venue, o),
                    m.qty_dec(o.executed),
                    fills[order_id],
                )
            )
        return ledger


class RemoteVenue:
    """A venue in another process, driven through its control endpoint (no ledger)."""

    def __init__(self, name: str, control: VenueControl) -> None:
        self.name = name
        self.control = control

    async def fault(self, action: str, **kwargs: Any) -> Any:
        return (await self.control.fault(action, **kwargs)).get("result")

    async def pause_market(self) -> None:
        await self.control.pause_market()

    async def resume_market(self) -> None:
        await self.control.resume_market()

    async def book(self, symbol: str, depth: int) -> dict[str, Any]:
        book = await self.control.book(symbol)
        return {**book, "bids": book["bids"][:depth], "asks": book["asks"][:depth]}

    def ledger(self, prefix: str) -> None:
        return None
