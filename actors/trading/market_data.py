"""The market-data connection of one venue: one ccxt.pro instance, one watch loop per stream.

Each ``watch_order_book`` result is copied into a :class:`BookSnapshot` (ccxt hands out a live,
mutating object) and sent to the book actor at ``/books/<venue>/<BASE-QUOTE>``; public trades
go there too as :class:`TradeTick` and are fanned out with the books. With
``VenueSpec.watch_tickers`` each symbol's 24h ticker is copied into a :class:`Ticker` and sent
straight to the strategies (``ticker_subscribers``; books need no ticker).

A dropped socket is resubscribed in place: the stream tells its book the feed is down (stale:
risk refuses orders against it) and calls ``watch_*`` again, on which ccxt reconnects,
resubscribes and resynchronises the book from a fresh REST snapshot (:class:`Resubscriber`
says when that is allowed). A restart of the whole connection would add the supervisor's
backoff, a new ccxt instance and its start-up to every drop (BENCHMARKS.md "Recovery").
Anything else is a crash on purpose, so the supervisor restarts the connection with backoff
and it resubscribes everything: a socket that drops again before the stream delivered or
within ``RESUBSCRIBE_SPACING``, a dial the venue refuses, a desync (ccxt's ``InvalidNonce``
/ ``ChecksumError``) or a stall (no book message within ``stall_after`` seconds while
connected). The venue's markets survive restarts (:class:`LoadedMarkets`). On the way down,
also after a crash, the books are told their feed is down and the exchange is closed.

>>> # ChildSpec("sim", lambda: MarketDataConnection(venue_spec, budget), backoff=...)
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import trio

from actors.runtime import Actor, Ref
from actors.trading.book_actor import Fanout
from actors.trading.ccxt_bridge import (
    LoadedMarkets,
    aio,
    close_exchange,
    make_exchange,
    snapshot_of,
    trade_tick_of,
)
from actors.trading.config import VenueSpec, book_path
from actors.trading.dialects import dialect_for
from actors.trading.messages import FeedStatus, Ticker
from actors.trading.ratelimit import VenueBudget
from actors.trading.resubscribe import Resubscriber

CREDENTIALS = frozenset({"apiKey", "secret", "password", "uid", "privateKey", "token"})
"""ccxt constructor options that are credentials (kept from the market-data connection)."""


INITIAL_SYNC = 60.0
"""Seconds a stream may take to deliver its first book before it counts as stalled (later
books: the venue's ``stall_after``)."""


class MalformedBook(Exception):
    """ccxt's book of a symbol holds an impossible level (a NaN, a negative amount) that a
    frame put there: the feed restarts and resynchronises from a snapshot."""


class FeedStalled(Exception):
    """A market stream sent nothing for ``stall_after`` seconds while connected."""

    def __init__(self, venue: str, stream: str, seconds: float) -> None:
        super().__init__(f"{venue} {stream}: no message for {seconds:g}s while connected")
        self.venue = venue
        self.stream = stream


class MarketDataConnection(Actor):
    """Order books and trades of ``venue.symbols`` from ``venue``, into the book actors."""

    def __init__(
        self,
        venue: VenueSpec,
        budget: VenueBudget | None = None,
        depth: int = 20,
        *,
        ticker_subscribers: tuple[str, ...] = (),
        markets: LoadedMarkets | None = None,
    ) -> None:
        self.ticker_subscribers = ticker_subscribers
        self.markets = markets if markets is not None else LoadedMarkets()
        """The venue's markets, kept across restarts when the factory hands the same one."""
        self.venue = venue
        self.budget = budget
        self.depth = depth
        self.exchange: Any = None
        self.snapshots = 0
        self.resubscribes = 0
        """Streams resubscribed in place after a dropped socket."""
        self._books: dict[str, Ref] = {}
        self._scopes: list[trio.CancelScope] = []

    def _spawn(self, fn: Any, *args: Any) -> None:
        """Run a stream loop that ``on_stop`` can cancel before the exchange closes."""
        self._scopes.append(self.ctx.start_soon(fn, *args))

    async def on_start(self) -> None:
        """Create the exchange, load markets, start one watch loop per stream."""
        # Market data is public: without keys, ccxt never signs a request here (okx's
        # load_markets would, and wrong keys would then stop the market data too).
        public = {k: v for k, v in self.venue.ccxt.items() if k not in CREDENTIALS}
        self.exchange = make_exchange(
            self.venue.exchange, public, self.budget, sandbox=self.venue.sandbox
        )
        await self.markets.load(self.exchange)
        for symbol in self.venue.symbols:
            ref = self.ctx.lookup(book_path(self.venue.name, symbol))
            if ref is None:
                raise RuntimeError(f"no book actor at {book_path(self.venue.name, symbol)}")
            self._books[symbol] = ref
            self._spawn(self._book_loop, symbol, ref)
            if self.venue.watch_trades:
                self._spawn(self._trade_loop, symbol, ref)
            if self.venue.watch_tickers:
                self._spawn(self._ticker_loop, symbol)

    async def _book_loop(self, symbol: str, ref: Ref) -> None:
        """Run the stream's asyncio pump (one crossing for its whole life) and its stall watch.

        The pump lives on the asyncio side and puts each copied snapshot straight into the
        book actor's mailbox. One ``aio_as_trio`` call per update would cost an asyncio task,
        its done-callback and a trio reschedule each time (three scheduler passes under
        trio-asyncio) before the book actor even hears of the update.
        """
        # Until its first book, ccxt waits for a REST snapshot that its own request-weight
        # throttle queues with every other symbol's (50 symbols of Binance depth at weight
        # 50: two minutes' worth of weight), which is no silent stream: the first book gets
        # INITIAL_SYNC; the book stays stale (risk refuses orders on it) meanwhile.
        last = [trio.current_time() + max(0.0, INITIAL_SYNC - self.venue.stall_after)]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._stall_watch, symbol, last)
            await aio(self._pump_books)(symbol, ref, last)

    async def _pump_books(self, symbol: str, ref: Ref, last: list[float]) -> None:
        """asyncio side: ``watch_order_book`` forever, each new book copied into the mailbox.

        Safe from here: trio-asyncio runs asyncio callbacks inside a trio task on the trio
        thread, and ``Ref.send_nowait`` only appends and, if the book actor sleeps, reschedules
        it (``ParkingLot.unpark``), which needs no particular trio task. Errors (ccxt's
        ``NetworkError``, ``InvalidNonce``, ...) propagate through ``aio`` and crash the actor.
        """
        watch = self.exchange.watch_order_book
        send = ref.send_nowait
        clock = trio.current_time
        venue = self.venue.name
        depth = self.depth
        last_nonce: object = None
        retry = Resubscriber()
        while True:
            try:
                book = await watch(symbol)
            except Exception as exc:
                if not retry.allow(exc, clock()):
                    raise
                self._dropped(f"order book {symbol}", exc, symbol)
                last_nonce = None  # the resynchronised book is new even if nothing changed
                continue
            now = last[0] = clock()
            if not retry.delivered:
                self._resynced(f"order book {symbol}", retry, now)
            nonce = book.get("nonce")
            if nonce is not None and nonce == last_nonce:
                continue  # ccxt woke us without a new update: nothing to copy
            last_nonce = nonce
            self.snapshots += 1
            # The copy happens here, before anything yields: ccxt mutates `book` in place.
            try:
                snapshot = snapshot_of(venue, symbol, book, depth, now)
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                # ccxt's book now holds what a frame put there: drop it, count it, and
                # resynchronise from a fresh snapshot (the restart does that).
                self._malformed("book", exc)
                raise MalformedBook(f"{venue} {symbol}: {exc}") from exc
            send(snapshot)
            # Yield first, so the book actor (just woken) is not kept waiting behind the work
            # ccxt's next watch call does before it suspends: update -> strategy ~0.06 ms
            # sooner in bench/tick_to_order.py. Under trio-asyncio this is one scheduler pass.
            await asyncio.sleep(0)

    async def _stall_watch(self, symbol: str, last: list[float]) -> None:
        """Crash with ``FeedStalled`` once the pump saw no book for ``stall_after`` seconds."""
        stall_after = self.venue.stall_after
        while True:
            # At most stall_after at a time: before the first book last[0] lies ahead (its
            # INITIAL_SYNC), and the first book must bring the ordinary deadline in at once.
            await trio.sleep_until(min(last[0], trio.current_time()) + stall_after)
            if trio.current_time() - last[0] >= stall_after:
                raise FeedStalled(self.venue.name, f"order book {symbol}", stall_after)

    async def _trade_loop(self, symbol: str, ref: Ref) -> None:
        watch = aio(self.exchange.watch_trades)
        venue = self.venue.name
        retry = Resubscriber()
        while True:
            try:
                trades = await watch(symbol)
            except Exception as exc:
                if not retry.allow(exc, trio.current_time()):
                    raise
                self._dropped(f"trades {symbol}", exc)
                continue
            now = trio.current_time()
            if not retry.delivered:
                self._resynced(f"trades {symbol}", retry, now)
            for trade in trades:
                try:
                    tick = trade_tick_of(venue, trade, now)
                except (TypeError, ValueError, KeyError) as exc:
                    self._malformed("trade", exc)
                    continue
                ref.send_nowait(tick)

    async def _ticker_loop(self, symbol: str) -> None:
        # The venue's dialect knows what its watch_ticker needs (binance: the full ticker,
        # not the mini ticker without best bid/ask).
        params = dict(dialect_for(self.venue.exchange).ticker_params)
        watch = aio(self.exchange.watch_ticker)
        fanout = Fanout(self, self.ticker_subscribers)
        venue = self.venue.name
        retry = Resubscriber()
        while True:
            try:
                raw = await watch(symbol, params)
            except Exception as exc:
                if not retry.allow(exc, trio.current_time()):
                    raise
                self._dropped(f"ticker {symbol}", exc)
                continue
            if not retry.delivered:
                self._resynced(f"ticker {symbol}", retry, trio.current_time())
            try:
                ticker = ticker_of(venue, symbol, raw, trio.current_time())
            except (TypeError, ValueError) as exc:
                self._malformed("ticker", exc)
                continue
            fanout.publish(ticker)

    def _dropped(self, stream: str, exc: Exception, book_of: str | None = None) -> None:
        """A stream's socket dropped and it resubscribes in place: its book (``book_of``)
        goes stale at once, until the resynchronised book arrives."""
        self.resubscribes += 1
        if self.budget is not None:
            self.budget.resubscribes += 1
        now = trio.current_time()
        if book_of is not None:
            self._tell_down(
                self._books[book_of],
                book_of,
                f"socket of {self.ctx.path} dropped: resubscribing",
                now,
            )
        self.ctx.log.warning(
            "%s %s: socket dropped (%s), resubscribing in place",
            self.venue.name,
            stream,
            str(exc)[:200],
        )

    def _tell_down(self, book: Ref, symbol: str, reason: str, now: float) -> None:
        """Tell ``symbol``'s book that its feed is down: it goes stale until a fresh book."""
        book.send_nowait(
            FeedStatus(venue=self.venue.name, symbol=symbol, live=False, reason=reason, at=now)
        )

    def _resynced(self, stream: str, retry: Resubscriber, now: float) -> None:
        """The first message after an in-place resubscription: say how long it took."""
        retry.delivered = True
        began = retry.dropped_at
        if began is not None:
            retry.dropped_at = None
            self.ctx.log.info(
                "%s %s: back %.0f ms after the drop", self.venue.name, stream, (now - began) * 1e3
            )

    def _malformed(self, what: str, exc: Exception) -> None:
        """A frame ccxt parsed into something impossible: counted with the frames it could
        not parse (``malformed_frames``), logged, dropped."""
        if self.budget is not None:
            self.budget.malformed_frames += 1
        self.ctx.log.warning("malformed %s from %s dropped: %s", what, self.venue.name, exc)

    async def handle(self, message: Any) -> Any:
        """Answers ``"stats"`` with counters (snapshots, malformed frames)."""
        if message == "stats":
            budget = self.budget
            return {
                "snapshots": self.snapshots,
                "resubscribes": self.resubscribes,
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
                self._tell_down(ref, symbol, f"feed {self.ctx.path} down", now)
        if self.exchange is not None:
            exchange, self.exchange = self.exchange, None
            await close_exchange(exchange)


def ticker_of(venue: str, symbol: str, ticker: Any, now: float) -> Ticker:
    """Copy a ccxt ticker into a :class:`Ticker` (missing or empty figures become None)."""

    def num(key: str) -> float | None:
        value = ticker.get(key)
        if value is None:
            return None
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{venue} {symbol} ticker: {key} {value!r}")
        return number

    stamp = ticker.get("timestamp")
    return Ticker(
        venue=venue,
        symbol=ticker.get("symbol") or symbol,
        last=num("last"),
        bid=num("bid"),
        bid_size=num("bidVolume"),
        ask=num("ask"),
        ask_size=num("askVolume"),
        open=num("open"),
        high=num("high"),
        low=num("low"),
        vwap=num("vwap"),
        change=num("change"),
        percentage=num("percentage"),
        base_volume=num("baseVolume"),
        quote_volume=num("quoteVolume"),
        timestamp_ms=None if stamp is None else int(stamp),
        received_at=now,
    )
