"""Orders, balances and the user data stream through ccxt (REST and the websocket API)."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
import trio

from actors.venues import Venue
from tests.venues.helpers import (
    ccxt_client,
    check_balance,
    check_order,
    check_trade,
    keep_watching,
    wait_until,
)


async def _best(venue: Venue, symbol: str) -> tuple[float, float]:
    book = venue.book(symbol)
    return book["bids"][0][0], book["asks"][0][0]


async def test_limit_order_lifecycle_rest(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, _ = await _best(v, "BTC/USDT")
        price = round(bid - 100, 2)
        order = await c.create_order(
            "BTC/USDT", "limit", "buy", 0.01, price, {"clientOrderId": "mine-1"}
        )
        now = c.ex.milliseconds()
        check_order(c.ex, {}, "createOrder", order, "BTC/USDT", now)
        assert order["status"] == "open" and order["clientOrderId"] == "mine-1"
        assert v.account().locked["USDT"] == Decimal(str(price)) * Decimal("0.01")
        fetched = await c.fetch_order(order["id"], "BTC/USDT")
        check_order(c.ex, {}, "fetchOrder", fetched, "BTC/USDT", now)
        assert [o["id"] for o in await c.fetch_open_orders("BTC/USDT")] == [order["id"]]
        bal = await c.fetch_balance()
        check_balance(c.ex, {}, "fetchBalance", bal)
        assert bal["USDT"]["used"] == pytest.approx(price * 0.01)
        canceled = await c.cancel_order(order["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        assert v.account().locked["USDT"] == 0
        assert v.account().free["USDT"] == Decimal("100000")


async def test_market_and_partial_fills_with_fees(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        asks = v.book("BTC/USDT")["asks"]
        # sweep exactly the first two ask levels plus a bit of the third
        qty = round(asks[0][1] + asks[1][1] + 0.00001, 5)
        order = await c.create_order("BTC/USDT", "market", "buy", qty)
        assert order["status"] == "closed"
        assert order["filled"] == pytest.approx(qty)
        assert len(order["trades"]) == 3
        assert order["fee"]["currency"] == "BTC"
        acct = v.account()
        cost = sum(Decimal(t["info"]["price"]) * Decimal(t["info"]["qty"]) for t in order["trades"])
        assert acct.free["USDT"] == Decimal("100000") - cost
        assert acct.free["BTC"] == Decimal("1") + Decimal(str(qty)) * Decimal("0.999")
        trades = await c.fetch_my_trades("BTC/USDT")
        now = c.ex.milliseconds()
        for t in trades:
            check_trade(c.ex, {}, "fetchMyTrades", t, "BTC/USDT", now, False)
        assert len(trades) == 3 and all(t["takerOrMaker"] == "taker" for t in trades)
        # IOC above the best ask fills what it can and expires the rest
        _, ask = await _best(v, "BTC/USDT")
        top_qty = v.book("BTC/USDT")["asks"][0][1]
        ioc = await c.create_order(
            "BTC/USDT", "limit", "buy", round(top_qty * 3, 5), ask, {"timeInForce": "IOC"}
        )
        assert ioc["status"] == "expired" and ioc["filled"] == pytest.approx(top_qty)
        # FOK that cannot fill completely does nothing
        _, ask = await _best(v, "BTC/USDT")
        top_qty = v.book("BTC/USDT")["asks"][0][1]
        fok = await c.create_order(
            "BTC/USDT", "limit", "buy", round(top_qty * 3, 5), ask, {"timeInForce": "FOK"}
        )
        assert fok["status"] == "expired" and fok["filled"] == 0


async def test_resting_order_filled_by_taker_partial(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        _, ask = await _best(v, "BTC/USDT")
        mine = await c.create_order("BTC/USDT", "limit", "sell", 0.02, round(ask - 0.01, 2))
        # our own resting order: allow the self-trade (the symbol's default expires the maker)
        taker = await c.create_order(
            "BTC/USDT", "market", "buy", 0.005, None, {"selfTradePreventionMode": "NONE"}
        )
        assert taker["trades"][0]["price"] == pytest.approx(round(ask - 0.01, 2))
        got = await c.fetch_order(mine["id"], "BTC/USDT")
        assert got["status"] == "open" and got["filled"] == pytest.approx(0.005)
        assert got["remaining"] == pytest.approx(0.015)


async def test_user_stream_sees_orders_fills_and_balances(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, ask = await _best(v, "BTC/USDT")
        url = c.ex.urls["api"]["ws"]["ws-api"]["spot"]

        def watching() -> bool:
            client = c.ex.clients.get(url)
            wanted = {"orders:BTC/USDT", "spot:balance"}
            return client is not None and wanted <= set(client.futures)

        def order_status(client_id: str) -> str | None:
            cached = c.ex.orders.hashmap.get("BTC/USDT", {}) if c.ex.orders else {}
            return next(
                (o["status"] for o in cached.values() if o["clientOrderId"] == client_id), None
            )

        async with trio.open_nursery() as n:
            n.start_soon(keep_watching, c, "watch_orders", "BTC/USDT")
            n.start_soon(keep_watching, c, "watch_balance")
            # events sent before ccxt registered its watch futures would resolve nothing
            await wait_until(watching)
            placed = await c.create_order_ws(
                "BTC/USDT", "limit", "sell", 0.01, round(ask - 0.01, 2), {"clientOrderId": "ws-m"}
            )
            await c.create_order_ws(
                "BTC/USDT", "market", "buy", 0.01, None, {"selfTradePreventionMode": "NONE"}
            )
            await wait_until(lambda: order_status("ws-m") == "closed", describe=lambda: c.ex.orders)
            await wait_until(lambda: c.ex.balance["spot"].get("BTC", {}).get("total", 1) < 1)
            n.cancel_scope.cancel()
        assert placed["status"] in ("open", "closed")
        balance = c.ex.balance["spot"]
        check_balance(c.ex, {}, "watchBalance", balance)
        # sold 0.01 as maker (fee in USDT), bought 0.01 as taker (fee 0.1% in BTC)
        assert balance["BTC"]["total"] == pytest.approx(1 - 0.01 * 0.001)
        # cancel over the websocket API
        rest = await c.create_order_ws("BTC/USDT", "limit", "buy", 0.01, round(bid - 50, 2))
        canceled = await c.cancel_order_ws(rest["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        with pytest.raises(ccxt.OrderNotFound):
            await c.cancel_order_ws(rest["id"], "BTC/USDT")


async def test_order_errors_map_to_ccxt_exceptions(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, _ = await _best(v, "BTC/USDT")
        p = round(bid - 100, 2)
        raw = c.privatePostOrder
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
            await raw({**base, "quantity": "0.01", "price": f"{p:.2f}5"})
        with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
            await raw({**base, "quantity": "0.000001", "price": str(p)})
        with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
            await raw({**base, "quantity": "0.00001", "price": str(p)})
        with pytest.raises(ccxt.InsufficientFunds):
            await c.create_order("BTC/USDT", "limit", "buy", 5, p)
        with pytest.raises(ccxt.InsufficientFunds):
            await c.create_order("BTC/USDT", "market", "sell", 2)
        with pytest.raises(ccxt.BadSymbol):
            await raw({**base, "symbol": "NOPEUSDT", "quantity": "1", "price": "1"})
        await c.create_order("BTC/USDT", "limit", "buy", 0.01, p, {"clientOrderId": "dup"})
        with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):
            await c.create_order("BTC/USDT", "limit", "buy", 0.01, p, {"clientOrderId": "dup"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order("999999", "BTC/USDT")
        with pytest.raises(ccxt.OrderNotFound):
            await c.cancel_order("999999", "BTC/USDT")
        with pytest.raises(ccxt.InsufficientFunds):
            await c.create_order_ws("BTC/USDT", "limit", "buy", 5, p)
        cancelled = await c.cancel_all_orders("BTC/USDT")
        assert len(cancelled) == 1


async def test_authentication_errors(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v, api_key="someone-else") as c:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await c.fetch_balance()
    async with ccxt_client(v, secret="wrong-secret") as c:
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await c.fetch_balance()
        await c.load_markets()
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await c.create_order_ws("BTC/USDT", "limit", "buy", 0.01, 50000)
    async with ccxt_client(v, options={"timeDifference": 20_000}) as c:
        with pytest.raises(ccxt.InvalidNonce, match="-1021"):
            await c.fetch_balance()
