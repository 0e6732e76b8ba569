"""OKX v5 orders, balances, fills and the private websocket through unmodified ccxt.pro okx."""

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

SYM = "BTC/USDT"


def _best(venue: Venue) -> tuple[float, float]:
    book = venue.book(SYM, limit=1)
    return book["bids"][0][0], book["asks"][0][0]


def _take(venue: Venue, side: str, price: float, qty: float) -> None:
    """A synthetic (account-less) IOC order, at once on the venue's engine."""
    m = venue.market_of(SYM)
    order = venue.engine.new_order(
        symbol=m.id,
        side=side,
        type="LIMIT",
        tif="IOC",
        price=m.to_price_units(Decimal(str(price))),
        qty=m.to_qty_units(Decimal(str(qty))),
    )
    venue.engine.submit(order)
    venue.flush_user_events()


async def test_limit_order_lifecycle_over_rest(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, _ = _best(v)
        price = round(bid - 100, 2)
        placed = await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "life1"})
        assert placed["clientOrderId"] == "life1"
        assert v.account().locked["USDT"] == Decimal(str(price)) * Decimal("0.01")
        now = c.ex.milliseconds()
        got = await c.fetch_order(placed["id"], SYM)
        check_order(c.ex, {}, "fetchOrder", got, SYM, now)
        assert (got["status"], got["price"], got["amount"], got["filled"]) == (
            "open",
            price,
            0.01,
            0.0,
        )
        by_client_id = await c.fetch_order(None, SYM, {"clientOrderId": "life1"})
        assert by_client_id["id"] == placed["id"]
        assert [o["id"] for o in await c.fetch_open_orders(SYM)] == [placed["id"]]
        balance = await c.fetch_balance()
        check_balance(c.ex, {}, "fetchBalance", balance)
        assert balance["USDT"]["used"] == pytest.approx(price * 0.01)
        await c.cancel_order(placed["id"], SYM)
        assert (await c.fetch_order(placed["id"], SYM))["status"] == "canceled"
        assert await c.fetch_open_orders(SYM) == []
        assert v.account().locked["USDT"] == 0 and v.account().free["USDT"] == 100000
        # amend: a bigger size at a new price moves the locked funds with it
        again = await c.create_order(SYM, "limit", "buy", 0.01, price)
        await c.edit_order(again["id"], SYM, "limit", "buy", 0.02, price - 1)
        edited = await c.fetch_order(again["id"], SYM)
        assert (edited["price"], edited["amount"]) == (price - 1, 0.02)
        assert v.account().locked["USDT"] == Decimal(str(price - 1)) * Decimal("0.02")


async def test_market_buy_fills_with_fees_and_paged_fills(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        asks = v.book(SYM)["asks"]
        qty = round(asks[0][1] + asks[1][1] + 0.00001, 5)  # two levels and a bit of a third
        placed = await c.create_order(SYM, "market", "buy", qty)
        order = await c.fetch_order(placed["id"], SYM)
        assert order["status"] == "closed" and order["filled"] == pytest.approx(qty)
        assert order["fee"]["currency"] == "BTC"
        assert order["fee"]["cost"] == pytest.approx(qty * 0.001)
        assert v.account().free["BTC"] == Decimal(1) + Decimal(str(qty)) * Decimal("0.999")
        trades = await c.fetch_my_trades(SYM)
        now = c.ex.milliseconds()
        for t in trades:
            check_trade(c.ex, {}, "fetchMyTrades", t, SYM, now, False)
        assert len(trades) == 3 and {t["takerOrMaker"] for t in trades} == {"taker"}
        assert {t["order"] for t in trades} == {placed["id"]}
        # OKX pages fills newest first by billId: `after` gives the older ones
        first = await c.privateGetTradeFills({"instId": "BTC-USDT", "limit": "2"})
        assert len(first["data"]) == 2
        older = await c.privateGetTradeFills(
            {"instId": "BTC-USDT", "after": first["data"][-1]["billId"]}
        )
        ids = [f["billId"] for f in first["data"] + older["data"]]
        assert len(ids) == 3 and ids == sorted(ids, key=int, reverse=True)


async def test_socket_order_entry_and_watch_orders_sees_fills(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, ask = _best(v)

        def watching() -> bool:
            client = c.ex.clients.get(c.ex.urls["api"]["ws"] + "/private")
            return client is not None and {"orders:BTC-USDT", "account"} <= set(client.futures)

        def status(client_id: str) -> str | None:
            cached = c.ex.orders.hashmap.get(SYM, {}) if c.ex.orders else {}
            return next((o["status"] for o in cached.values() if o["clientOrderId"] == client_id),
                        None)  # fmt: skip

        async with trio.open_nursery() as n:
            n.start_soon(keep_watching, c, "watch_orders", SYM)
            n.start_soon(keep_watching, c, "watch_balance")
            await wait_until(watching)
            placed = await c.create_order_ws(
                SYM, "limit", "sell", 0.01, round(ask - 0.01, 2), {"clientOrderId": "wsm1"}
            )
            assert placed["clientOrderId"] == "wsm1" and placed["id"]
            await wait_until(lambda: status("wsm1") == "open", describe=lambda: c.ex.orders)
            _take(v, "BUY", ask, 0.01)  # a synthetic buyer takes our offer
            await wait_until(lambda: status("wsm1") == "closed", describe=lambda: c.ex.orders)
            await wait_until(lambda: c.ex.balance.get("BTC", {}).get("total", 1) < 1)
            n.cancel_scope.cancel()
        assert c.ex.myTrades and c.ex.myTrades[-1]["takerOrMaker"] == "maker"
        check_balance(c.ex, {}, "watchBalance", c.ex.balance)
        assert c.ex.balance["BTC"]["total"] == pytest.approx(0.99)
        # cancel over the socket; a second cancel is OrderNotFound, as on OKX
        resting = await c.create_order_ws(SYM, "limit", "buy", 0.01, round(bid - 50, 2))
        await c.cancel_order_ws(resting["id"], SYM)
        assert (await c.fetch_order(resting["id"], SYM))["status"] == "canceled"
        with pytest.raises(ccxt.OrderNotFound):
            await c.cancel_order_ws(resting["id"], SYM)
        with pytest.raises(ccxt.InsufficientFunds):
            await c.create_order_ws(SYM, "limit", "buy", 5, round(bid - 50, 2))
        # op "order" instead of ccxt's default "batch-orders"
        single = await c.create_order_ws(
            SYM, "limit", "buy", 0.01, round(bid - 60, 2), {"op": "order"}
        )
        assert (await c.fetch_order(single["id"], SYM))["status"] == "open"


async def test_order_errors_are_the_ccxt_exceptions_okx_causes(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        bid, _ = _best(v)
        p = round(bid - 100, 2)
        raw = c.privatePostTradeOrder
        base = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit"}
        with pytest.raises(ccxt.InvalidOrder, match="51121"):  # not a multiple of the lot
            await raw({**base, "sz": "0.000015", "px": str(p)})
        with pytest.raises(ccxt.InvalidOrder, match="51203"):  # above the maximum
            await raw({**base, "sz": "100000", "px": str(p)})
        with pytest.raises(ccxt.BadRequest, match="51000"):  # off the tick
            await raw({**base, "sz": "0.01", "px": f"{p:.2f}5"})
        with pytest.raises(ccxt.BadSymbol, match="51001"):
            await raw({**base, "instId": "NOPE-USDT", "sz": "1", "px": "1"})
        with pytest.raises(ccxt.InsufficientFunds, match="51008"):
            await c.create_order(SYM, "limit", "buy", 5, p)
        with pytest.raises(ccxt.InsufficientFunds):
            await c.create_order(SYM, "market", "sell", 2)
        await c.create_order(SYM, "limit", "buy", 0.01, p, {"clientOrderId": "dup1"})
        with pytest.raises(ccxt.InvalidOrder, match="51016"):
            await c.create_order(SYM, "limit", "buy", 0.01, p, {"clientOrderId": "dup1"})
        with pytest.raises(ccxt.BadRequest, match="clOrdId"):  # letters and digits only
            await c.create_order(SYM, "limit", "buy", 0.01, p, {"clientOrderId": "no-dash"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order("999999", SYM)
        with pytest.raises(ccxt.OrderNotFound):
            await c.cancel_order("999999", SYM)


async def test_authentication_errors(okx_quiet: Venue) -> None:
    v = okx_quiet
    for override, code in (
        ({"api_key": "someone-else"}, "50111"),
        ({"password": "wrong"}, "50105"),
        ({"secret": "wrong"}, "50113"),
    ):
        async with ccxt_client(v, **override) as c:  # type: ignore[arg-type]
            with pytest.raises(ccxt.AuthenticationError, match=code):
                await c.fetch_balance()
    async with ccxt_client(v) as c:
        await c.load_markets()
        c.ex.secret = "wrong"  # the websocket login is signed with it
        with pytest.raises(ccxt.AuthenticationError, match="60007"):
            await c.watch_balance()


async def test_self_trade_prevention_cancels_as_okx_does(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        _, ask = _best(v)
        price = round(ask - 0.01, 2)  # our offer becomes the best ask
        maker = await c.create_order(SYM, "limit", "sell", 0.01, price)
        # default cancel_maker: our resting sell is cancelled, the buy goes on to the book
        taker = await c.create_order(SYM, "limit", "buy", 0.01, price, {"timeInForce": "IOC"})
        assert (await c.fetch_order(maker["id"], SYM))["status"] == "canceled"
        assert (await c.fetch_order(taker["id"], SYM))["filled"] == 0
        maker = await c.create_order(SYM, "limit", "sell", 0.01, price)
        taker = await c.create_order(
            SYM, "limit", "buy", 0.01, price, {"selfTradePrevention": "expire_taker"}
        )
        assert (await c.fetch_order(maker["id"], SYM))["status"] == "open"
        assert (await c.fetch_order(taker["id"], SYM))["status"] == "canceled"
        assert v.account().free["BTC"] + v.account().locked["BTC"] == 1  # nothing traded
