"""Order book state per (venue, symbol) and a consolidated best bid/offer per symbol.

:class:`BookState` keeps a private copy of the levels of the last *accepted* snapshot.
:meth:`BookState.apply` validates a new snapshot completely before touching anything, so a
rejected update (:class:`BookError`) leaves the previous book intact. Checks, in order:
venue/symbol, level sanity (finite, positive, strictly sorted), not crossed or locked
(best bid < best ask), nonce strictly increasing and exchange timestamp not going back (both
waived for a resync, i.e. the first snapshot after :meth:`BookState.mark_stale`).

>>> book = BookState("sim", "BTC/USDT", depth=5)
>>> snap = BookSnapshot(venue="sim", symbol="BTC/USDT", bids=((99.0, 1.0),),
...     asks=((101.0, 2.0),), nonce=1, received_at=0.0)
>>> book.apply(snap, now=0.0).mid
100.0
>>> book.price_for(1.0, "buy")
101.0
"""

from __future__ import annotations

import enum
import math

from actors.trading.messages import BookSnapshot, ConsolidatedTop, Level, Side, TopOfBook


class BookErrorCode(enum.StrEnum):
    WRONG_INSTRUMENT = "WRONG_INSTRUMENT"
    BAD_LEVEL = "BAD_LEVEL"
    UNSORTED = "UNSORTED"
    CROSSED = "CROSSED"
    NONCE_NOT_ADVANCING = "NONCE_NOT_ADVANCING"
    TIME_BACKWARDS = "TIME_BACKWARDS"


class BookError(ValueError):
    """A snapshot was refused; ``code`` says which check, the message names the values."""

    def __init__(self, venue: str, symbol: str, code: BookErrorCode, detail: str) -> None:
        super().__init__(f"book {venue} {symbol}: {code.value}: {detail}")
        self.venue = venue
        self.symbol = symbol
        self.code = code
        self.detail = detail


class BookState:
    """The accepted book of one venue and symbol, truncated to ``depth`` levels per side."""

    __slots__ = (
        "asks",
        "bids",
        "depth",
        "last_update",
        "nonce",
        "stale_reason",
        "symbol",
        "timestamp_ms",
        "updates",
        "venue",
    )

    def __init__(self, venue: str, symbol: str, depth: int = 20) -> None:
        if depth < 1:
            raise ValueError(f"book depth must be >= 1, got {depth}")
        self.venue = venue
        self.symbol = symbol
        self.depth = depth
        self.bids: tuple[Level, ...] = ()
        self.asks: tuple[Level, ...] = ()
        self.nonce: int | None = None
        self.timestamp_ms: int | None = None
        self.last_update: float | None = None
        self.stale_reason: str | None = "no snapshot yet"
        self.updates = 0

    # --- updates -------------------------------------------------------------------------

    def apply(self, snapshot: BookSnapshot, now: float) -> TopOfBook:
        """Validate and accept ``snapshot``; returns the new top. Raises :class:`BookError`."""
        resync = self.stale_reason is not None
        bids = tuple(snapshot.bids[: self.depth])
        asks = tuple(snapshot.asks[: self.depth])
        self._validate(snapshot, bids, asks, resync)
        self.bids = bids
        self.asks = asks
        self.nonce = snapshot.nonce
        self.timestamp_ms = snapshot.timestamp_ms
        self.last_update = now
        self.stale_reason = None
        self.updates += 1
        return self.top()

    def _fail(self, code: BookErrorCode, detail: str) -> BookError:
        return BookError(self.venue, self.symbol, code, detail)

    def _validate(
        self,
        snap: BookSnapshot,
        bids: tuple[Level, ...],
        asks: tuple[Level, ...],
        resync: bool,
    ) -> None:
        if snap.venue != self.venue or snap.symbol != self.symbol:
            raise self._fail(
                BookErrorCode.WRONG_INSTRUMENT,
                f"snapshot is for {snap.venue} {snap.symbol}",
            )
        for side, levels, sign in (("bid", bids, -1), ("ask", asks, 1)):
            prev: float | None = None
            for i, level in enumerate(levels):
                if len(level) != 2:
                    raise self._fail(BookErrorCode.BAD_LEVEL, f"{side} level {i} is {level!r}")
                price, size = level
                if not (math.isfinite(price) and price > 0 and math.isfinite(size) and size > 0):
                    raise self._fail(
                        BookErrorCode.BAD_LEVEL,
                        f"{side} level {i} has price={price} size={size} (need finite > 0)",
                    )
                if prev is not None and (price - prev) * sign <= 0:
                    order = "descending" if sign < 0 else "ascending"
                    raise self._fail(
                        BookErrorCode.UNSORTED,
                        f"{side} level {i} price {price} after {prev}: {side}s must be "
                        f"strictly {order}",
                    )
                prev = price
        if bids and asks and bids[0][0] >= asks[0][0]:
            raise self._fail(
                BookErrorCode.CROSSED,
                f"best bid {bids[0][0]} >= best ask {asks[0][0]}",
            )
        if resync:
            return
        if snap.nonce is not None and self.nonce is not None and snap.nonce <= self.nonce:
            raise self._fail(
                BookErrorCode.NONCE_NOT_ADVANCING,
                f"nonce {snap.nonce} <= last accepted {self.nonce}",
            )
        if (
            snap.timestamp_ms is not None
            and self.timestamp_ms is not None
            and snap.timestamp_ms < self.timestamp_ms
        ):
            raise self._fail(
                BookErrorCode.TIME_BACKWARDS,
                f"timestamp_ms {snap.timestamp_ms} < last accepted {self.timestamp_ms}",
            )

    def mark_stale(self, reason: str) -> None:
        """The feed is broken (disconnect, gap...); stale until the next snapshot (a resync)."""
        self.stale_reason = reason or "stale"

    # --- queries -------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        """True when marked stale or never filled (age is checked by :meth:`is_stale`)."""
        return self.stale_reason is not None

    def is_stale(self, now: float, max_age: float) -> bool:
        """Stale flag set, no snapshot yet, or no update within ``max_age`` seconds."""
        if self.stale_reason is not None or self.last_update is None:
            return True
        return now - self.last_update > max_age

    def top(self) -> TopOfBook:
        """Best levels of the accepted book (sides None when empty)."""
        bid = self.bids[0] if self.bids else (None, None)
        ask = self.asks[0] if self.asks else (None, None)
        return TopOfBook(
            venue=self.venue,
            symbol=self.symbol,
            bid=bid[0],
            bid_size=bid[1],
            ask=ask[0],
            ask_size=ask[1],
            nonce=self.nonce,
            timestamp_ms=self.timestamp_ms,
            stale=self.stale,
            received_at=self.last_update if self.last_update is not None else 0.0,
        )

    def best_bid(self) -> float | None:
        return self.bids[0][0] if self.bids else None

    def best_ask(self) -> float | None:
        return self.asks[0][0] if self.asks else None

    def mid(self) -> float | None:
        """Midpoint of best bid and ask, None if a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2

    def spread(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0][0] - self.bids[0][0]

    def price_for(self, amount: float, side: Side) -> float | None:
        """Volume-weighted price to ``side`` ``amount`` against the visible book.

        A buy walks the asks, a sell the bids. None when the visible depth is too thin.
        """
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"book {self.venue} {self.symbol}: amount must be > 0, got {amount}")
        levels = self.asks if side == "buy" else self.bids
        left = amount
        cost = 0.0
        for price, size in levels:
            take = size if size < left else left
            cost += take * price
            left -= take
            if left <= 0:
                return cost / amount
        return None


class ConsolidatedBook:
    """Best bid/offer of one symbol across venues, ignoring stale venues.

    >>> cb = ConsolidatedBook("BTC/USDT")
    >>> cb.update(TopOfBook(venue="a", symbol="BTC/USDT", bid=99.0, bid_size=1.0,
    ...     ask=101.0, ask_size=1.0, received_at=0.0))
    >>> cb.update(TopOfBook(venue="b", symbol="BTC/USDT", bid=99.5, bid_size=1.0,
    ...     ask=102.0, ask_size=1.0, received_at=0.0))
    >>> cb.best_venue("buy"), cb.best_venue("sell")
    ('a', 'b')
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._tops: dict[str, TopOfBook] = {}
        self._down: dict[str, str] = {}

    def update(self, top: TopOfBook) -> None:
        """Take a venue's latest top; a non-stale top clears a 'feed down' mark."""
        if top.symbol != self.symbol:
            raise ValueError(
                f"consolidated book {self.symbol}: got a top of {top.symbol} from {top.venue}"
            )
        self._tops[top.venue] = top
        if not top.stale:
            self._down.pop(top.venue, None)

    def mark_down(self, venue: str, reason: str) -> None:
        """Ignore ``venue`` until a fresh top arrives from it."""
        self._down[venue] = reason or "feed down"

    def top_of(self, venue: str) -> TopOfBook | None:
        return self._tops.get(venue)

    def venues(self) -> list[str]:
        return list(self._tops)

    def fresh(self, now: float | None = None, max_age: float | None = None) -> list[TopOfBook]:
        """Tops that are neither stale nor down (nor older than ``max_age`` if given)."""
        out = []
        for venue, top in self._tops.items():
            if top.stale or venue in self._down:
                continue
            if now is not None and max_age is not None and now - top.received_at > max_age:
                continue
            out.append(top)
        return out

    def consolidated(
        self, now: float | None = None, max_age: float | None = None
    ) -> ConsolidatedTop | None:
        """The best bid and best ask over the fresh venues; None when no venue is fresh."""
        tops = self.fresh(now, max_age)
        if not tops:
            return None
        bids = [t for t in tops if t.bid is not None]
        asks = [t for t in tops if t.ask is not None]
        # Ties go to the venue that comes first in name order, so routing is deterministic.
        best_bid = min(bids, key=lambda t: (-t.bid, t.venue)) if bids else None  # type: ignore[operator]
        best_ask = min(asks, key=lambda t: (t.ask, t.venue)) if asks else None
        return ConsolidatedTop(
            symbol=self.symbol,
            bid=best_bid.bid if best_bid else None,
            bid_size=best_bid.bid_size if best_bid else None,
            bid_venue=best_bid.venue if best_bid else None,
            ask=best_ask.ask if best_ask else None,
            ask_size=best_ask.ask_size if best_ask else None,
            ask_venue=best_ask.venue if best_ask else None,
            venues=tuple(sorted(t.venue for t in tops)),
        )

    def best_venue(
        self, side: Side, now: float | None = None, max_age: float | None = None
    ) -> str | None:
        """Where to ``side``: the lowest ask for a buy, the highest bid for a sell."""
        top = self.consolidated(now, max_age)
        if top is None:
            return None
        return top.ask_venue if side == "buy" else top.bid_venue
