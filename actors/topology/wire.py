"""How the desk's messages travel between nodes (``actors.remote``): one registry, declared.

Every trading message (``messages.Message``) and request (``protocol.Request``) is registered
under its msgspec tag (the class name), so a desk split across processes speaks one codec.
The delivery class of each type is declared here, never guessed:

- market data is stamped with the receiving node's clock on arrival (``ARRIVAL``) and is
  latest-wins, keyed as the in-process conflating mailboxes key it (kind,
  venue, symbol; consolidated tops by symbol; feed status by venue and symbol): a slow
  strategy on another node sees the newest book, not a backlog. Trade prints are events,
  not states: direct (at most once), as in-process where they are never conflated.
- the order flow that can cross nodes is durable (JetStream), with an id that names the one
  logical message, so a retried publish is stored once: an intent's approval or rejection by
  its client order id, a fill by venue, symbol and trade id, an order update by the state it
  reports, a cancel request by the moment it was made.
- everything else (queries, replies, requests between actors that always share a node) is
  direct; asks are request/reply whatever the class.

Which actors may live apart is the topology's business (``[nodes]``): the journal, risk,
router, sessions and shutdown share the execution node, so ``Append`` (whose events field
holds any message) never crosses. It lives here, not in ``trading/``, because the trading
wing imports the runtime only; the topology joins trading and transport.

>>> registry = desk_registry()
>>> registry.entry_of(Fill).name
'Fill'
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import msgspec
import trio

from actors.remote import Durable, Latest, Registry
from actors.trading.markets import Markets
from actors.trading.messages import (
    BookSnapshot,
    CancelOrder,
    CancelRejected,
    ConsolidatedTop,
    FeedStatus,
    Fill,
    Message,
    OrderIntent,
    OrderUpdate,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
    SubmitUnknown,
    Ticker,
    TopOfBook,
    TradeTick,
    TradingStateChanged,
)
from actors.trading.protocol import BookView, PlaceOrder, Request, VenueFill


def _venue_symbol(message: Any) -> Hashable:
    return (type(message).__name__, message.venue, message.symbol)


def _received_now(message: Any) -> Any:
    return msgspec.structs.replace(message, received_at=trio.current_time())


def _at_now(message: Any) -> Any:
    return msgspec.structs.replace(message, at=trio.current_time())


def _snapshot_now(view: BookView) -> BookView:
    if view.snapshot is None:
        return view
    return msgspec.structs.replace(view, snapshot=_received_now(view.snapshot))


def _intent_now(intent: OrderIntent) -> OrderIntent:
    # The strategy's decision time (book arrival -> intent) is kept; the hop is not counted.
    now = trio.current_time()
    book_at = intent.book_at
    if book_at is not None:
        book_at = now - max(0.0, intent.created_at - book_at)
    return msgspec.structs.replace(intent, created_at=now, book_at=book_at)


ARRIVAL: dict[type, Callable[[Any], Any]] = {
    OrderIntent: _intent_now,
    BookSnapshot: _received_now,
    TopOfBook: _received_now,
    TradeTick: _received_now,
    Ticker: _received_now,
    FeedStatus: _at_now,
    BookView: _snapshot_now,
}
"""Market data is stamped with the receiving node's clock as it arrives: its times are on the
sender's trio clock, and each process's trio clock has an origin of its own (risk would find
a fresh book 100,000 s old). A book's age on another node so counts from its arrival there.
An intent's ``created_at`` and ``book_at`` move to the receiving clock too, their gap kept, so
the router's tick-to-order histogram stays meaningful (without the strategy node's hop)."""


LATEST: dict[type, Callable[[Any], Hashable]] = {
    BookSnapshot: _venue_symbol,
    TopOfBook: _venue_symbol,
    Ticker: _venue_symbol,
    FeedStatus: _venue_symbol,
    ConsolidatedTop: lambda m: ("ConsolidatedTop", m.symbol),
    Markets: lambda m: ("Markets", m.venue),
}
"""Latest-wins market data and its key."""

DURABLE: dict[type, Callable[[Any], str]] = {
    RiskApproved: lambda m: m.client_order_id,
    RiskRejected: lambda m: m.client_order_id,
    SubmitOrder: lambda m: f"{m.client_order_id}@{m.venue}",
    PlaceOrder: lambda m: f"{m.submit.client_order_id}@{m.submit.venue}",
    SubmitUnknown: lambda m: f"{m.client_order_id}@{m.venue}:{m.at!r}",
    CancelOrder: lambda m: f"{m.client_order_id}:{m.at!r}",
    CancelRejected: lambda m: f"{m.client_order_id}@{m.venue}:{m.at!r}",
    OrderUpdate: lambda m: (
        f"{m.client_order_id}@{m.venue}:{m.status}:{m.filled}:{m.remaining}:{m.venue_order_id}"
    ),
    Fill: lambda m: f"{m.venue}:{m.symbol}:{m.trade_id}",
    VenueFill: lambda m: f"{m.fill.venue}:{m.fill.symbol}:{m.fill.trade_id}",
    TradingStateChanged: lambda m: f"{m.previous}->{m.state}:{m.at!r}",
}
"""Order flow on JetStream and the id of each message (the client order id at its core)."""


def _subclasses(base: type) -> list[type]:
    found: list[type] = []
    for cls in base.__subclasses__():
        found.append(cls)
        found.extend(_subclasses(cls))
    return found


def desk_registry() -> Registry:
    """A registry of every trading message and request, with its delivery class."""
    registry = Registry()
    # Markets is a state a session pushes to strategies, neither a Message nor a Request.
    for cls in [*_subclasses(Message), *_subclasses(Request), Markets]:
        if cls.__name__.startswith("_"):
            continue  # abstract bases (``_AboutIntent``) are never sent themselves
        arrival = ARRIVAL.get(cls)
        if cls in LATEST:
            registry.register(cls, delivery=Latest(key=LATEST[cls]), arrival=arrival)
        elif cls in DURABLE:
            registry.register(cls, delivery=Durable(id=DURABLE[cls]), arrival=arrival)
        else:
            registry.register(cls, arrival=arrival)
    return registry
