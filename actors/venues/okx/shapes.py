"""OKX v5 data shapes: instruments, tickers, trades, book levels, orders, fills, balances.

OKX writes every number as a string without trailing zeros (``"60000.1"``, ``"0.5"``), ids
as strings and times as epoch milliseconds in strings. REST and websocket share the shapes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from actors.venues.candles import Candle
from actors.venues.engine import (
    EXPIRE_BOTH,
    EXPIRE_MAKER,
    EXPIRE_TAKER,
    EXPIRED_IN_MATCH,
    LIMIT_MAKER,
    MARKET,
    Book,
    Fill,
    Order,
)
from actors.venues.rules import Market, plain

if TYPE_CHECKING:
    from actors.venues.accounts import Account
    from actors.venues.server import UserFill, Venue

STP_TO_OKX = {
    EXPIRE_MAKER: "cancel_maker",
    EXPIRE_TAKER: "cancel_taker",
    EXPIRE_BOTH: "cancel_both",
}
STP_FROM_OKX = {v: k for k, v in STP_TO_OKX.items()}
UID = "88888888"
"""The account's user id in pushes (``arg.uid``): one account per venue key."""
BARS = {
    "1s": "1s",
    "1m": "1m",
    "3m": "3m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1H": "1h",
    "2H": "2h",
    "4H": "4h",
    "6H": "6h",
    "12H": "12h",
    "1D": "1d",
    "3D": "3d",
    "1W": "1w",
}
"""OKX ``bar`` names and the venue's intervals (``candles.INTERVALS_MS``)."""


def dec(value: Decimal) -> str:
    """A Decimal as OKX writes it: no exponent, no trailing zeros."""
    if not value:
        return "0"
    return format(value.normalize(), "f")


def px(m: Market, units: int) -> str:
    """A price."""
    return plain(units, m.pd)


def sz(m: Market, units: int) -> str:
    """A base quantity."""
    return plain(units, m.qd)


def notional(m: Market, units: int) -> str:
    """A price*quantity product (quote)."""
    return plain(units, m.pd + m.qd)


def instrument_json(m: Market, code: int, list_ms: int) -> dict[str, Any]:
    """One SPOT instrument of ``/api/v5/public/instruments``."""
    max_sz = sz(m, m.max_qty)
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": m.base,
        "category": "1",
        "ctMult": "",
        "ctType": "",
        "ctVal": "",
        "ctValCcy": "",
        "expTime": "",
        "instFamily": "",
        "instId": m.okx_id,
        "instIdCode": code,
        "instType": "SPOT",
        "lever": "",
        "listTime": str(list_ms),
        "lotSz": sz(m, m.step),
        "maxIcebergSz": max_sz,
        "maxLmtAmt": dec(m.max_notional),
        "maxLmtSz": max_sz,
        "maxMktAmt": dec(m.max_notional),
        "maxMktSz": dec(m.max_notional),
        "maxStopSz": max_sz,
        "maxTriggerSz": max_sz,
        "maxTwapSz": max_sz,
        "minSz": sz(m, m.min_qty),
        "optType": "",
        "quoteCcy": m.quote,
        "ruleType": "normal",
        "settleCcy": "",
        "state": "live",
        "stk": "",
        "tickSz": px(m, m.tick),
        "tradeQuoteCcyList": [m.quote],
        "uly": "",
    }


def levels(m: Market, book: Book, bids: bool, rows: list[tuple[int, int]]) -> list[list[str]]:
    """Book levels as OKX sends them: ``[price, size, "0", number of orders]``."""
    side = book.bids if bids else book.asks
    out = []
    for price, qty in rows:
        level = side.get(price) if qty else None
        out.append([px(m, price), sz(m, qty), "0", str(len(level.orders)) if level else "0"])
    return out


def ticker_json(venue: Venue, m: Market) -> dict[str, Any]:
    """``/api/v5/market/ticker`` and the ``tickers`` channel (24h: since the venue started)."""
    book = venue.engine.books[m.id]
    st = book.stats
    bp, bq, ap, aq = book.top()
    last = st.last or (bp + ap) // 2
    open_ = st.open or last
    return {
        "instType": "SPOT",
        "instId": m.okx_id,
        "last": px(m, last),
        "lastSz": sz(m, st.last_qty),
        "askPx": px(m, ap) if ap else "",
        "askSz": sz(m, aq) if ap else "",
        "bidPx": px(m, bp) if bp else "",
        "bidSz": sz(m, bq) if bp else "",
        "open24h": px(m, open_),
        "high24h": px(m, st.high or last),
        "low24h": px(m, st.low or last),
        "volCcy24h": notional(m, st.quote_volume),
        "vol24h": sz(m, st.volume),
        "sodUtc0": px(m, open_),
        "sodUtc8": px(m, open_),
        "ts": str(venue.now_ms()),
    }


def trade_json(m: Market, group: list[Fill]) -> dict[str, Any]:
    """A public trade (fills of one taker at one price aggregated, ``count`` of them)."""
    first, last = group[0], group[-1]
    return {
        "instId": m.okx_id,
        "tradeId": str(last.trade_id),
        "px": px(m, first.price),
        "sz": sz(m, sum(f.qty for f in group)),
        "side": "buy" if first.taker.is_buy else "sell",
        "ts": str(first.time_ms),
        "count": str(len(group)),
        "source": "0",
        "seqId": last.trade_id,
    }


def candle_row(m: Market, c: Candle, closed: bool) -> list[str]:
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` (SPOT: vol in base)."""
    quote = notional(m, c.quote_volume)
    return [
        str(c.open_ms),
        px(m, c.open),
        px(m, c.high),
        px(m, c.low),
        px(m, c.close),
        sz(m, c.volume),
        quote,
        quote,
        "1" if closed else "0",
    ]


def ord_type(o: Order) -> str:
    """OKX's ``ordType`` of an engine order."""
    if o.type == MARKET:
        return "market"
    if o.type == LIMIT_MAKER:
        return "post_only"
    return {"IOC": "ioc", "FOK": "fok"}.get(o.tif, "limit")


def state(o: Order) -> str:
    """OKX's ``state`` of an engine order."""
    if o.status == "NEW":
        return "live"
    if o.status == "PARTIALLY_FILLED":
        # Also while it matches (not resting yet): an order that ends partly filled is
        # EXPIRED or CANCELED by then.
        return "partially_filled"
    if o.status == "FILLED":
        return "filled"
    return "canceled"


def order_json(venue: Venue, m: Market, o: Order) -> dict[str, Any]:
    """An order as ``/api/v5/trade/order`` and the ``orders`` channel show it."""
    quote_sized = o.quote_qty > 0
    last = o.last_fill
    avg = o.cum_quote // o.executed if o.executed else 0
    fee_ccy = m.base if o.is_buy else m.quote
    return {
        "accFillSz": sz(m, o.executed),
        "algoClOrdId": "",
        "algoId": "",
        "attachAlgoClOrdId": "",
        "attachAlgoOrds": [],
        "avgPx": px(m, avg) if o.executed else "",
        "cTime": str(o.time_ms),
        "cancelSource": "" if o.status != EXPIRED_IN_MATCH else "20",
        "cancelSourceReason": "" if o.status != EXPIRED_IN_MATCH else "Self trade prevention",
        "category": "normal",
        "ccy": "",
        "clOrdId": o.client_id,
        "fee": dec(-o.fee),
        "feeCcy": fee_ccy,
        "fillPx": px(m, last.price) if last else "",
        "fillSz": sz(m, last.qty) if last else "",
        "fillTime": str(last.time_ms) if last else "",
        "instId": m.okx_id,
        "instType": "SPOT",
        "isTpLimit": "false",
        "lever": "",
        "linkedAlgoOrd": {"algoId": ""},
        "ordId": str(o.order_id),
        "ordType": ord_type(o),
        "pnl": "0",
        "posSide": "net",
        "px": px(m, o.price) if o.type != MARKET else "",
        "pxType": "",
        "pxUsd": "",
        "pxVol": "",
        "quickMgnType": "",
        "rebate": "0",
        "rebateCcy": m.quote if o.is_buy else m.base,
        "reduceOnly": "false",
        "side": "buy" if o.is_buy else "sell",
        "slOrdPx": "",
        "slTriggerPx": "",
        "slTriggerPxType": "",
        "source": "",
        "state": state(o),
        "stpId": "",
        "stpMode": STP_TO_OKX.get(o.stp, "cancel_maker"),
        "sz": notional(m, o.quote_qty) if quote_sized else sz(m, o.qty),
        "tag": "",
        "tdMode": "cash",
        "tgtCcy": "quote_ccy" if quote_sized else ("base_ccy" if o.type == MARKET else ""),
        "tpOrdPx": "",
        "tpTriggerPx": "",
        "tpTriggerPxType": "",
        "tradeId": str(last.trade_id) if last else "",
        "tradeQuoteCcy": m.quote,
        "uTime": str(o.update_ms),
    }


def fill_json(m: Market, uf: UserFill) -> dict[str, Any]:
    """An account fill as ``/api/v5/trade/fills`` shows it (fee negative: a charge)."""
    f, o = uf.fill, uf.order
    return {
        "instType": "SPOT",
        "instId": m.okx_id,
        "tradeId": str(f.trade_id),
        "ordId": str(o.order_id),
        "clOrdId": o.client_id,
        "billId": str(uf.seq),
        "subType": "1" if o.is_buy else "2",
        "tag": "",
        "fillPx": px(m, f.price),
        "fillSz": sz(m, f.qty),
        "fillIdxPx": "",
        "fillPnl": "0",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
        "fillMarkPx": "",
        "side": "buy" if o.is_buy else "sell",
        "posSide": "net",
        "execType": "M" if uf.is_maker else "T",
        "feeCcy": uf.fee_asset,
        "fee": dec(-uf.fee),
        "feeRate": "",
        "ts": str(f.time_ms),
        "fillTime": str(f.time_ms),
    }


def balance_details(account: Account, assets: list[str], now_ms: int) -> list[dict[str, str]]:
    """``details`` of ``/api/v5/account/balance`` and the ``account`` channel (cash account:
    ``availBal`` free, ``frozenBal`` locked in orders, ``eq`` their sum)."""
    out = []
    for a in assets:
        free, locked = account.free[a], account.locked[a]
        total = free + locked
        out.append(
            {
                "availBal": dec(free),
                "availEq": "",
                "borrowFroz": "",
                "cashBal": dec(total),
                "ccy": a,
                "crossLiab": "",
                "disEq": dec(total),
                "eq": dec(total),
                "eqUsd": "",
                "fixedBal": "0",
                "frozenBal": dec(locked),
                "interest": "",
                "isoEq": "",
                "isoLiab": "",
                "isoUpl": "",
                "liab": "",
                "maxLoan": "",
                "mgnRatio": "",
                "notionalLever": "",
                "ordFrozen": dec(locked),
                "spotInUseAmt": "",
                "stgyEq": "0",
                "twap": "0",
                "uTime": str(account.update_ms or now_ms),
                "upl": "",
                "uplLiab": "",
            }
        )
    return out


def balance_json(account: Account, assets: list[str], now_ms: int) -> dict[str, Any]:
    """One ``data`` entry of ``/api/v5/account/balance`` and the ``account`` channel."""
    return {
        "adjEq": "",
        "borrowFroz": "",
        "details": balance_details(account, assets, now_ms),
        "imr": "",
        "isoEq": "",
        "mgnRatio": "",
        "mmr": "",
        "notionalUsd": "",
        "ordFroz": "",
        "totalEq": "",
        "uTime": str(now_ms),
        "upl": "",
    }
