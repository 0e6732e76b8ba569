"""What a wire protocol adds to the shared venue core, and the registry of protocols.

The core (``server.Venue``: engine, accounts, synthetic market, faults, websocket hub) knows
no wire format. A protocol (``binance/``, ``okx/``, one folder each, one file per role as
Hummingbot lays out its connectors) serves routes and turns the core's events into its own
frames. Adding a protocol is a folder with a ``VenueProtocol`` subclass, registered below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from actors.venues.accounts import Account
    from actors.venues.engine import Book, DepthDiff, Fill, Order
    from actors.venues.hub import Conn
    from actors.venues.rules import Market
    from actors.venues.server import Venue


class VenueProtocol:
    """Base class of a protocol; every hook is called on the venue's trio thread, must be
    quick and must not raise (they run inside matching)."""

    name = "?"
    orders: Any
    """The protocol's order service (``venue.orders``): place/cancel/query with its own
    parameter names, e.g. Binance's ``place(account, {"symbol": "BTCUSDT", ...})``."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def routes(self) -> list[BaseRoute]:
        """REST and websocket routes of this protocol."""
        raise NotImplementedError

    def on_trade(self, fill: Fill) -> None:
        """A public trade happened."""

    def on_match_done(self, book: Book, taker: Order, fills: list[Fill]) -> None:
        """An incoming order finished matching (aggregated trade streams)."""

    def on_order_event(self, order: Order, exec_type: str, fill: Fill | None) -> None:
        """An account's order changed; funds were already settled or released."""

    def on_top_change(self, book: Book) -> None:
        """The best bid or ask changed."""

    def on_balances(self, account: Account, assets: list[str]) -> None:
        """Balances of ``assets`` changed (once per order request or market step)."""

    def publish_depth(self, market: Market, diff: DepthDiff | None, now_ms: int) -> bool:
        """One depth tick for ``market`` (``diff`` None: nothing changed); True if a book
        update went out to at least one subscriber."""
        return False

    def malformed_frame(self, kind: str) -> str:
        """A frame of this protocol broken in the way ``kind`` names."""
        raise NotImplementedError

    def forget(self, conn: Conn) -> None:
        """A connection closed."""


def make_protocol(venue: Venue) -> VenueProtocol:
    """The protocol object named by ``venue.config.protocol``."""
    name = venue.config.protocol
    if name == "binance":
        from actors.venues.binance import BinanceProtocol

        return BinanceProtocol(venue)
    if name == "okx":
        from actors.venues.okx import OkxProtocol

        return OkxProtocol(venue)
    raise ValueError(f"unknown protocol {name!r}")
