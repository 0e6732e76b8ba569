"""The order-book actor of one venue and symbol, wrapping :class:`BookState`.

It takes :class:`BookSnapshot`s from the market-data connection, checks them (nonce moves
forward, not crossed, sorted, not stale) and publishes a :class:`TopOfBook` to every subscriber
(the strategies first, then risk and the consolidated BBO) and, to snapshot subscribers, the
accepted :class:`BookSnapshot`. Subscribers have conflating mailboxes keyed by venue and
symbol, so a slow strategy sees the latest book, not a backlog. A feed that goes down
(:class:`FeedStatus` ``live=False``), a snapshot that fails a check, or ``stale_after`` seconds
without an update mark the book stale, and a stale top is published at once; the next good
snapshot (a resync) makes it fresh again. ``ask(GetBook())`` answers a :class:`BookView`.

>>> # ChildSpec("BTC-USDT", lambda: OrderBookActor("sim", "BTC/USDT", subscribers=("/risk",)))
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import trio

from actors.runtime import Actor, MailboxFull, Ref
from actors.trading.book import BookError, BookState
from actors.trading.messages import (
    BookSnapshot,
    ConsolidatedTop,
    FeedStatus,
    Ticker,
    TopOfBook,
    TradeTick,
)
from actors.trading.protocol import BookView, GetBook


def market_data_key(message: Any) -> Hashable | None:
    """Conflation key for market data (latest per kind, venue and symbol); None otherwise."""
    kind = type(message)
    if kind is TopOfBook or kind is BookSnapshot or kind is Ticker:
        return (kind.__name__, message.venue, message.symbol)
    if kind is ConsolidatedTop:
        return ("ConsolidatedTop", message.symbol)
    return None


class Fanout:
    """Refs of subscriber paths, looked up lazily (they may start after the publisher)."""

    def __init__(self, actor: Actor, paths: tuple[str, ...]) -> None:
        self._actor = actor
        self._paths = paths
        self._refs: dict[str, Ref] = {}
        self.failed = 0

    def publish(self, message: Any) -> None:
        """Deliver without waiting; a subscriber that is not there yet or full misses it."""
        for path in self._paths:
            ref = self._refs.get(path)
            if ref is None:
                ref = self._actor.ctx.lookup(path)
                if ref is None:
                    continue
                self._refs[path] = ref
            try:
                ref.send_nowait(message)
            except MailboxFull:
                # Only a non-conflating subscriber can be full; market data is lossy by nature.
                self.failed += 1


class OrderBookActor(Actor):
    """Checked copy of one venue's book for one symbol, published to subscribers."""

    def __init__(
        self,
        venue: str,
        symbol: str,
        *,
        depth: int = 20,
        stale_after: float = 3.0,
        subscribers: tuple[str, ...] = (),
        snapshot_subscribers: tuple[str, ...] = (),
        trade_subscribers: tuple[str, ...] = (),
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self.stale_after = stale_after
        self.book = BookState(venue, symbol, depth)
        self.rejected = 0
        self.stale_episodes = 0
        self._subscriber_paths = subscribers
        self._snapshot_paths = snapshot_subscribers
        self._trade_paths = trade_subscribers
        self._last: BookSnapshot | None = None

    async def on_start(self) -> None:
        """Resolve subscribers lazily and start the quiet-feed watch."""
        self.tops = Fanout(self, self._subscriber_paths)
        self.snapshots = Fanout(self, self._snapshot_paths)
        self.trades = Fanout(self, self._trade_paths)
        self.ctx.start_soon(self._quiet_watch)

    async def handle(self, message: Any) -> Any:
        """Snapshots, feed status, trades and ``GetBook`` asks."""
        kind = type(message)
        if kind is BookSnapshot:
            self._on_snapshot(message)
        elif kind is TradeTick:
            self.trades.publish(message)
        elif kind is FeedStatus:
            if not message.live:
                self._go_stale(message.reason or "feed down")
        elif kind is GetBook:
            return BookView(
                snapshot=self._last,
                stale=self.book.stale,
                stale_reason=self.book.stale_reason,
                updates=self.book.updates,
                rejected=self.rejected,
                stale_episodes=self.stale_episodes,
            )
        else:
            return await super().handle(message)
        return None

    def _on_snapshot(self, snapshot: BookSnapshot) -> None:
        now = trio.current_time()
        try:
            top = self.book.apply(snapshot, now)
        except BookError as exc:
            self.rejected += 1
            self.ctx.log.warning("%s", exc)
            # Refuse trading on it until the feed resyncs (the next snapshot is a resync).
            self._go_stale(f"{exc.code.value}: {exc.detail}")
            return
        self._last = BookSnapshot(
            venue=snapshot.venue,
            symbol=snapshot.symbol,
            bids=self.book.bids,
            asks=self.book.asks,
            nonce=snapshot.nonce,
            timestamp_ms=snapshot.timestamp_ms,
            received_at=snapshot.received_at,
        )
        # received_at of the top is the connection's receive time (for latency accounting).
        top = TopOfBook(
            venue=top.venue,
            symbol=top.symbol,
            bid=top.bid,
            bid_size=top.bid_size,
            ask=top.ask,
            ask_size=top.ask_size,
            nonce=top.nonce,
            timestamp_ms=top.timestamp_ms,
            stale=False,
            received_at=now,
        )
        self.tops.publish(top)
        if self._snapshot_paths:
            self.snapshots.publish(self._last)

    def _go_stale(self, reason: str) -> None:
        was_stale = self.book.stale
        self.book.mark_stale(reason)
        if not was_stale:
            self.stale_episodes += 1
            self.ctx.log.info("book %s %s stale: %s", self.venue, self.symbol, reason)
        self.tops.publish(self.book.top())

    async def _quiet_watch(self) -> None:
        period = self.stale_after / 4
        while True:
            await trio.sleep(period)
            last = self.book.last_update
            if (
                not self.book.stale
                and last is not None
                and trio.current_time() - last > self.stale_after
            ):
                self._go_stale(f"no update for {self.stale_after:g}s")
