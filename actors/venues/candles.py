"""OHLCV candles of one book's trades (klines), kept in 1-second and 1-minute buckets.

Bots are mostly built on candles, so both protocols serve them (Binance ``klines`` and
``<symbol>@kline_<interval>``, OKX ``market/candles``). Trades are folded into two rolling
bucket series as they happen; any interval is an aggregation of those at query time. History
starts with the venue's first trade; an interval without trades repeats the last close with
zero volume, as exchanges do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SECOND_MS = 1000
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_OFFSET_MS = 4 * DAY_MS
"""The epoch fell on a Thursday; weekly candles open on Mondays."""

INTERVALS_MS: dict[str, int] = {
    "1s": SECOND_MS,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
"""Binance's interval names (``1M``, calendar months, is not served)."""


@dataclass(slots=True)
class Candle:
    """One bucket; prices and quantities in the market's integer units."""

    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0
    count: int = 0
    first_id: int = -1
    last_id: int = -1
    taker_buy_volume: int = 0
    taker_buy_quote: int = 0

    def fold(self, other: Candle) -> None:
        """Add a later bucket into this one."""
        if other.count:
            if not self.count:
                self.open = other.open
                self.high = other.high
                self.low = other.low
                self.first_id = other.first_id
            else:
                self.high = max(self.high, other.high)
                self.low = min(self.low, other.low)
            self.last_id = other.last_id
        self.close = other.close
        self.volume += other.volume
        self.quote_volume += other.quote_volume
        self.count += other.count
        self.taker_buy_volume += other.taker_buy_volume
        self.taker_buy_quote += other.taker_buy_quote


def bucket_start(time_ms: int, interval_ms: int) -> int:
    """Open time of the bucket of ``interval_ms`` containing ``time_ms`` (weeks on Mondays)."""
    offset = WEEK_OFFSET_MS if interval_ms % (7 * DAY_MS) == 0 else 0
    return time_ms - (time_ms - offset) % interval_ms


class _Series:
    """Buckets of one fixed width, oldest evicted first."""

    def __init__(self, width_ms: int, keep: int) -> None:
        self.width = width_ms
        self.by_start: dict[int, Candle] = {}
        self.order: deque[int] = deque()
        self.keep = keep

    def add(self, time_ms: int, price: int, qty: int, quote: int, trade_id: int, buy: bool) -> None:
        start = bucket_start(time_ms, self.width)
        c = self.by_start.get(start)
        if c is None:
            c = Candle(start, price, price, price, price, first_id=trade_id)
            self.by_start[start] = c
            self.order.append(start)
            if len(self.order) > self.keep:
                del self.by_start[self.order.popleft()]
        c.high = max(c.high, price)
        c.low = min(c.low, price)
        c.close = price
        c.volume += qty
        c.quote_volume += quote
        c.count += 1
        c.last_id = trade_id
        if buy:
            c.taker_buy_volume += qty
            c.taker_buy_quote += quote


class Candles:
    """Rolling candle history of one book: an hour of seconds, a week of minutes.

    Example: ``c = Candles(); c.add(t, px, qty, px * qty, 1, True); c.series(60_000, None, t)``
    """

    def __init__(self, keep_seconds: int = 3600, keep_minutes: int = 7 * 1440) -> None:
        self._seconds = _Series(SECOND_MS, keep_seconds)
        self._minutes = _Series(MINUTE_MS, keep_minutes)

    def add(
        self, time_ms: int, price: int, qty: int, quote: int, trade_id: int, taker_buys: bool
    ) -> None:
        """Fold one trade in."""
        self._seconds.add(time_ms, price, qty, quote, trade_id, taker_buys)
        self._minutes.add(time_ms, price, qty, quote, trade_id, taker_buys)

    def series(
        self,
        interval_ms: int,
        start_ms: int | None,
        end_ms: int,
        limit: int = 500,
    ) -> list[Candle]:
        """Candles of ``interval_ms`` whose open time is in ``[start_ms, end_ms]``, oldest first.

        Without ``start_ms`` the latest ``limit`` candles up to ``end_ms``; the last candle is
        the one still open at ``end_ms`` when ``end_ms`` is now.
        """
        source = self._seconds if interval_ms < MINUTE_MS else self._minutes
        if not source.order:
            return []
        first = bucket_start(source.order[0], interval_ms)
        last = bucket_start(end_ms, interval_ms)
        if start_ms is None:
            lo = max(first, last - (limit - 1) * interval_ms)
        else:
            lo = max(first, bucket_start(start_ms, interval_ms))
            if lo < start_ms:
                lo += interval_ms
        folded: dict[int, Candle] = {}
        prev_close: int | None = None  # the close before ``lo`` seeds empty leading buckets
        for s in source.order:
            c = source.by_start[s]
            if s < lo:
                prev_close = c.close
                continue
            t = bucket_start(s, interval_ms)
            if t > last:
                break
            agg = folded.get(t)
            if agg is None:
                folded[t] = agg = Candle(t, c.open, c.high, c.low, c.close)
            agg.fold(c)
        out: list[Candle] = []
        t = lo
        while t <= last and len(out) < limit:
            agg = folded.get(t)
            if agg is None:
                if prev_close is not None:
                    out.append(Candle(t, prev_close, prev_close, prev_close, prev_close))
            else:
                prev_close = agg.close
                out.append(agg)
            t += interval_ms
        return out
