"""Binance's public market-data shapes: tickers, book ticker, klines, trades, average price.

REST and streams render the same figures: the 24h window runs since the venue started, and
klines come from the shared candle history (``candles.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.venues.candles import Candle
from actors.venues.engine import Fill
from actors.venues.rules import Market

if TYPE_CHECKING:
    from actors.venues.server import Venue

AVG_PRICE_MINS = 5


def ticker_json(venue: Venue, market_id: str) -> dict[str, Any]:
    """``/api/v3/ticker/24hr`` body of one symbol (window: since the venue started)."""
    m = venue.engine.markets[market_id]
    book = venue.engine.books[market_id]
    st = book.stats
    bp, bq, ap, aq = book.top()
    last = st.last or (bp + ap) // 2
    open_ = st.open or last
    change = last - open_
    pct = Decimal(change * 100) / Decimal(open_) if open_ else Decimal(0)
    vwap = st.quote_volume // st.volume if st.volume else last
    now = venue.now_ms()
    return {
        "symbol": m.id,
        "priceChange": m.price_str(change),
        "priceChangePercent": f"{pct:.3f}",
        "weightedAvgPrice": m.price_str(vwap),
        "prevClosePrice": m.price_str(open_),
        "lastPrice": m.price_str(last),
        "lastQty": m.qty_str(st.last_qty),
        "bidPrice": m.price_str(bp),
        "bidQty": m.qty_str(bq),
        "askPrice": m.price_str(ap),
        "askQty": m.qty_str(aq),
        "openPrice": m.price_str(open_),
        "highPrice": m.price_str(st.high or last),
        "lowPrice": m.price_str(st.low or last),
        "volume": m.qty_str(st.volume),
        "quoteVolume": m.notional_str(st.quote_volume),
        "openTime": st.open_ms or now,
        "closeTime": now,
        "firstId": st.first_id,
        "lastId": st.last_id,
        "count": st.count,
    }


MINI_FIELDS = (
    "symbol",
    "openPrice",
    "highPrice",
    "lowPrice",
    "lastPrice",
    "volume",
    "quoteVolume",
    "openTime",
    "closeTime",
    "firstId",
    "lastId",
    "count",
)
"""What ``/api/v3/ticker/24hr?type=MINI`` keeps of the full ticker."""


def mini_ticker_json(venue: Venue, market_id: str) -> dict[str, Any]:
    """``/api/v3/ticker/24hr?type=MINI`` body of one symbol."""
    full = ticker_json(venue, market_id)
    return {k: full[k] for k in MINI_FIELDS}


def book_ticker_json(venue: Venue, market_id: str, with_update_id: bool = False) -> dict[str, Any]:
    """``bookTicker`` body (REST shape; stream shape when ``with_update_id``)."""
    m = venue.engine.markets[market_id]
    book = venue.engine.books[market_id]
    bp, bq, ap, aq = book.top()
    if with_update_id:
        return {
            "u": book.update_id,
            "s": m.id,
            "b": m.price_str(bp),
            "B": m.qty_str(bq),
            "a": m.price_str(ap),
            "A": m.qty_str(aq),
        }
    return {
        "symbol": m.id,
        "bidPrice": m.price_str(bp),
        "bidQty": m.qty_str(bq),
        "askPrice": m.price_str(ap),
        "askQty": m.qty_str(aq),
    }


def avg_price(venue: Venue, m: Market) -> int:
    """Binance's average price (price units): volume-weighted over the last 5 minutes of
    trades, else the mid price, else 0 for an empty book."""
    now = venue.now_ms()
    book = venue.engine.books[m.id]
    recent = book.candles.series(1000, now - AVG_PRICE_MINS * 60_000, now, limit=10_000)
    volume = sum(c.volume for c in recent)
    if volume:
        return sum(c.quote_volume for c in recent) // volume
    bp, _, ap, _ = book.top()
    if bp and ap:
        return (bp + ap) // 2
    return bp or ap


def kline_row(m: Market, c: Candle, interval_ms: int) -> list[Any]:
    """One row of ``/api/v3/klines``."""
    return [
        c.open_ms,
        m.price_str(c.open),
        m.price_str(c.high),
        m.price_str(c.low),
        m.price_str(c.close),
        m.qty_str(c.volume),
        c.open_ms + interval_ms - 1,
        m.notional_str(c.quote_volume),
        c.count,
        m.qty_str(c.taker_buy_volume),
        m.notional_str(c.taker_buy_quote),
        "0",
    ]


def kline_event(
    m: Market, c: Candle, interval: str, interval_ms: int, closed: bool, now_ms: int
) -> dict[str, Any]:
    """A ``<symbol>@kline_<interval>`` stream event."""
    return {
        "e": "kline",
        "E": now_ms,
        "s": m.id,
        "k": {
            "t": c.open_ms,
            "T": c.open_ms + interval_ms - 1,
            "s": m.id,
            "i": interval,
            "f": c.first_id,
            "L": c.last_id,
            "o": m.price_str(c.open),
            "c": m.price_str(c.close),
            "h": m.price_str(c.high),
            "l": m.price_str(c.low),
            "v": m.qty_str(c.volume),
            "n": c.count,
            "x": closed,
            "q": m.notional_str(c.quote_volume),
            "V": m.qty_str(c.taker_buy_volume),
            "Q": m.notional_str(c.taker_buy_quote),
            "B": "0",
        },
    }


def trade_event(m: Market, fill: Fill) -> dict[str, Any]:
    """A ``<symbol>@trade`` stream event."""
    return {
        "e": "trade",
        "E": fill.time_ms,
        "s": m.id,
        "t": fill.trade_id,
        "p": m.price_str(fill.price),
        "q": m.qty_str(fill.qty),
        "T": fill.time_ms,
        "m": fill.buyer_is_maker,
        "M": True,
    }


def agg_json(m: Market, group: list[Fill], stream: bool, now_ms: int = 0) -> dict[str, Any]:
    """An aggregate trade: REST ``aggTrades`` row, or the ``@aggTrade`` event (``stream``).

    The aggregate id is the first trade's id, so REST and stream agree on it.
    """
    first, last = group[0], group[-1]
    qty = sum(f.qty for f in group)
    body: dict[str, Any] = {
        "a": first.trade_id,
        "p": m.price_str(first.price),
        "q": m.qty_str(qty),
        "f": first.trade_id,
        "l": last.trade_id,
        "T": first.time_ms,
        "m": first.buyer_is_maker,
        "M": True,
    }
    if stream:
        return {"e": "aggTrade", "E": now_ms, "s": m.id, **body}
    return body
