"""The market-data connection of one venue: one ccxt.pro instance, one watch loop per stream.

Each ``watch_order_book`` result is copied into a :class:`BookSnapshot` (ccxt hands out a live,
mutating object) and sent to the book actor at ``/books/<venue>/<BASE-QUOTE>``; public trades
go there too as :class:`TradeTick` and are fanned out with the books. Failure is a crash on
purpose, so the supervisor restarts the connection with backoff and it resubscribes
everything: a ``NetworkError`` (dropped socket), a desync (ccxt's ``InvalidNonce`` /
``ChecksumError``) or a stall (no book message within ``stall_after`` seconds while
connected). On the way down, also after a crash, the books are told their feed is down
(they go stale, so risk refuses orders against them) and the exchange is closed.

>>> # ChildSpec("sim", lambda: MarketDataConnection(venue_spec, budget), backoff=...)
"""

from __future__ import annotations

from typing import Any

import trio

from actors.runtime import Actor, Ref
from actors.trading.ccxt_bridge import (
    aio,
    close_exchange,
    make_exchange,
    snapshot_of,
    trade_tick_of,
)
from actors.trading.config import VenueSpec, book_path
from actors.trading.messages import FeedStatus
from actors.trading.ratelimit import VenueBudget


class FeedStalled(Exception):
    """A market stream sent nothing for ``stall_after`` seconds while connected."""

    def __init__(self, venue: str, stream: str, seconds: float) -> None:
        super().__init__(f"{venue} {stream}: no message for {seconds:g}s while connected")
        self.venue = venue
        self.stream = stream


class MarketDataConnection(Actor):
    """Order books and trades of ``venue.symbols`` from ``venue``, into the book actors."""

    def __init__(
        self, venue: VenueSpec, budget: VenueBudget | None = None, depth: int = 20
    ) -> None:
        self.venue = venue
        self.budget = budget
        self.depth = depth
        self.exchange: Any = None
        self.snapshots = 0
        self._books: dict[str, Ref] = {}
        self._scopes: list[trio.CancelScope] = []

    def _spawn(self, fn: Any, *args: Any) -> None:
        """Run a stream loop that ``on_stop`` can cancel before the exchange closes."""
        scope = trio.CancelScope()
        self._scopes.append(scope)

        async def run() -> None:
            with scope:
                await fn(*args)

        self.ctx.start_soon(run)

    async def on_start(self) -> None:
        """Create the exchange, load markets, start one watch loop per stream."""
        self.exchange = make_exchange(self.venue.exchange, self.venue.ccxt, self.budget)
        await aio(self.exchange.load_markets)()
        for symbol in self.venue.symbols:
            ref = self.ctx.lookup(book_path(self.venue.name, symbol))
            if ref is None:
                raise RuntimeError(f"no book actor at {book_path(self.venue.name, symbol)}")
            self._books[symbol] = ref
            self._spawn(self._book_loop, symbol, ref)
            if self.venue.watch_trades:
                self._spawn(self._trade_loop, symbol, ref)

    async def _book_loop(self, symbol: str, ref: Ref) -> None:
        watch = aio(self.exchange.watch_order_book)
        stall_after = self.venue.stall_after
        venue = self.venue.name
        depth = self.depth
        last_nonce: object = None
        while True:
            book = None
            with trio.move_on_after(stall_after):
                book = await watch(symbol)
            if book is None:
                raise FeedStalled(venue, f"order book {symbol}", stall_after)
            nonce = book.get("nonce")
            if nonce is not None and nonce == last_nonce:
                continue  # ccxt woke us without a new update: nothing to copy
            last_nonce = nonce
            self.snapshots += 1
            # The copy happens here, before anything yields: ccxt mutates `book` in place.
            ref.send_nowait(snapshot_of(venue, symbol, book, depth, trio.current_time()))
            await trio.lowlevel.checkpoint()

    async def _trade_loop(self, symbol: str, ref: Ref) -> None:
        watch = aio(self.exchange.watch_trades)
        venue = self.venue.name
        while True:
            trades = await watch(symbol)
            now = trio.current_time()
            for trade in trades:
                ref.send_nowait(trade_tick_of(venue, trade, now))

    async def handle(self, message: Any) -> Any:
        """Answers ``"stats"`` with counters (snapshots, malformed frames)."""
        if message == "stats":
            budget = self.budget
            return {
                "snapshots": self.snapshots,
                "malformed_frames": budget.malformed_frames if budget else 0,
                "incarnation": self.ctx.incarnation,
            }
        return await super().handle(message)

    async def on_stop(self) -> None:
        """Tell the books their feed is down, then close the exchange (also after a crash)."""
        for scope in self._scopes:
            scope.cancel()
        now = trio.current_time()
        for symbol in self.venue.symbols:
            ref = self._books.get(symbol) or self.ctx.lookup(book_path(self.venue.name, symbol))
            if ref is not None:
                ref.send_nowait(
                    FeedStatus(
                        venue=self.venue.name,
                        symbol=symbol,
                        live=False,
                        reason=f"feed {self.ctx.path} down",
                        at=now,
                    )
                )
        if self.exchange is not None:
            exchange, self.exchange = self.exchange, None
            await close_exchange(exchange)
