"""Binance-side fixes found by real Binance clients: each behaviour as Binance documents it,
through ccxt where it reaches the endpoint and a bare client where it does not."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from urllib.parse import urlencode

import ccxt
import msgspec
import pytest
import trio

from actors.testing import VenueControl
from actors.venues import Venue, VenueConfig, open_venue
from actors.venues.binance.market_data import MINI_FIELDS
from tests.venues.helpers import (
    RawWs,
    ccxt_client,
    check_order_book,
    check_trade,
    http,
    wait_until,
)

SYM = "BTC/USDT"


def _signed_body(venue: Venue, **params: object) -> bytes:
    query = urlencode({**params, "timestamp": venue.now_ms()})
    sig = hmac.new(venue.config.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}".encode()


async def test_delete_parameters_in_the_body_cancel_an_order(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        order = await c.create_order(SYM, "limit", "buy", 0.01, price)
    # python-binance sends a cancel's parameters as a form body, not a query string
    status, body = await http(
        v.port,
        "DELETE",
        "/api/v3/order",
        _signed_body(v, symbol="BTCUSDT", orderId=order["id"]),
        {"X-MBX-APIKEY": v.config.api_key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, body
    assert msgspec.json.decode(body)["status"] == "CANCELED"


async def test_market_order_below_min_notional_is_refused(quiet_venue: Venue) -> None:
    async with ccxt_client(quiet_venue) as c:
        await c.load_markets()
        assert c.ex.markets[SYM]["info"]["filters"][2]["applyMinToMarket"] is True
        with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
            await c.create_order(SYM, "market", "buy", 0.00001)  # about 0.6 USDT < 5
        assert (await c.create_order(SYM, "market", "buy", 0.001))["status"] == "closed"


async def test_my_trades_by_order_id(quiet_venue: Venue) -> None:
    async with ccxt_client(quiet_venue) as c:
        await c.load_markets()
        first = await c.create_order(SYM, "market", "buy", 0.001)
        second = await c.create_order(SYM, "market", "sell", 0.001)
        mine = await c.fetch_order_trades(second["id"], SYM)
        assert mine and {t["order"] for t in mine} == {second["id"]}
        assert len(await c.fetch_my_trades(SYM)) == len(mine) + len(first["trades"])


async def test_mini_ticker_over_rest(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        mini = await c.publicGetTicker24hr({"symbol": "BTCUSDT", "type": "MINI"})
        full = await c.publicGetTicker24hr({"symbol": "BTCUSDT"})
    assert tuple(mini) == MINI_FIELDS
    assert "bidPrice" in full and "bidPrice" not in mini


async def test_klines_over_rest_and_stream(venue: Venue) -> None:
    venue.set_rate(200.0)
    await wait_until(lambda: venue.engine.books["BTCUSDT"].stats.count >= 3)
    async with ccxt_client(venue) as c:
        await c.load_markets()
        minute = await c.fetch_ohlcv(SYM, "1m")
        assert minute and minute[-1][4] > 0
        seconds = await c.fetch_ohlcv(SYM, "1s", limit=5)
        assert seconds and all(s[2] >= s[3] > 0 for s in seconds)
        assert [s[0] for s in seconds] == sorted({s[0] for s in seconds})
        with trio.fail_after(10):
            streamed = await c.watch_ohlcv(SYM, "1s")
        assert streamed[-1][1] > 0 and streamed[-1][0] % 1000 == 0
        with pytest.raises(ccxt.BadRequest, match="-1120"):
            await c.publicGetKlines({"symbol": "BTCUSDT", "interval": "7m"})


async def test_agg_trade_stream(venue: Venue) -> None:
    venue.set_rate(200.0)
    async with ccxt_client(venue) as c:
        await c.load_markets()
        with trio.fail_after(10):
            trades = await c.watch_trades(SYM, None, None, {"name": "aggTrade"})
        assert trades[-1]["info"]["e"] == "aggTrade"
        now = c.ex.milliseconds()
        for t in trades:
            check_trade(c.ex, {}, "watchTrades", t, SYM, now, True)
        rest = await c.publicGetAggTrades({"symbol": "BTCUSDT", "limit": 5})
        assert rest and all(r["f"] <= r["l"] for r in rest)


async def test_partial_depth_streams_and_unknown_streams_refused(quiet_venue: Venue) -> None:
    v = quiet_venue
    fast = await RawWs.connect(v.port, "/ws/btcusdt@depth5@100ms")
    event = msgspec.json.decode(await fast.recv())
    assert len(event["bids"]) == len(event["asks"]) == 5
    assert event["lastUpdateId"] == v.book(SYM)["lastUpdateId"]
    assert [[float(p), float(q)] for p, q in event["bids"]] == v.book(SYM, limit=5)["bids"]
    slow = await RawWs.connect(v.port, "/stream?streams=btcusdt@depth10")
    wrapped = msgspec.json.decode(await slow.recv())
    assert wrapped["stream"] == "btcusdt@depth10" and len(wrapped["data"]["asks"]) == 10
    for target in ("/ws/btcusdt@kline_7m", "/ws/btcusdt@nope", "/stream?streams=xrpusdt@trade"):
        with pytest.raises(ConnectionRefusedError, match="400"):
            await RawWs.connect(v.port, target)
    await fast.aclose()
    await slow.aclose()


async def test_listen_key_user_stream_and_cancel_client_ids(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        key = (await c.publicPostUserDataStream())["listenKey"]
        assert (await c.publicPostUserDataStream())["listenKey"] == key  # one per account
        stream = await RawWs.connect(v.port, f"/ws/{key}")
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        order = await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "orig-1"})
        events = [msgspec.json.decode(await stream.recv()) for _ in range(2)]
        new = next(e for e in events if e["e"] == "executionReport")
        assert (new["x"], new["c"], new["C"]) == ("NEW", "orig-1", "")
        await c.cancel_order(order["id"], SYM, {"newClientOrderId": "cancel-req-1"})
        while (e := msgspec.json.decode(await stream.recv()))["e"] != "executionReport":
            pass
        # Binance: the cancel request's id in c, the order's original id in C
        assert (e["x"], e["c"], e["C"]) == ("CANCELED", "cancel-req-1", "orig-1")
        assert await c.publicPutUserDataStream({"listenKey": key}) == {}
        assert await c.publicDeleteUserDataStream({"listenKey": key}) == {}
        with pytest.raises(ConnectionResetError):  # the key's socket is closed with it
            while True:
                await stream.recv(timeout=5)  # (the balance update of the cancel first)
        with pytest.raises(ConnectionRefusedError, match="400"):
            await RawWs.connect(v.port, f"/ws/{key}")
        with pytest.raises(ccxt.AuthenticationError, match="-1125"):  # as ccxt maps it
            await c.publicPutUserDataStream({"listenKey": key})


async def test_trade_fees_over_sapi(quiet_venue: Venue) -> None:
    async with ccxt_client(quiet_venue) as c:
        await c.load_markets()
        fees = await c.fetch_trading_fees()
    assert fees[SYM]["maker"] == fees[SYM]["taker"] == 0.001


async def test_tls_on_loopback_serves_https_and_wss() -> None:
    async with open_venue(VenueConfig(seed=4, tls=True, symbols=(SYM,))) as v:
        assert v.url.startswith("https://") and v.certificate is not None
        async with ccxt_client(v) as c:
            assert c.ex.urls["api"]["ws"]["spot"].startswith("wss://")
            await c.load_markets()
            with trio.fail_after(10):
                book = await c.watch_order_book(SYM)
            # a book fresh from the REST snapshot has no timestamp yet (Binance's depth has none)
            skip = {"timestamp": True, "datetime": True}
            check_order_book(c.ex, skip, "watchOrderBook", book.limit(), SYM)
        cert = v.certificate.cert_path
        control = VenueControl(v.url, token=v.control_token, cafile=cert)
        assert (await control.state())["url"] == v.url
    assert not await trio.Path(cert).exists()  # removed with the venue


@pytest.mark.parametrize(
    ("mode", "maker_status", "taker_status", "traded"),
    [
        ("EXPIRE_MAKER", "expired", "open", False),
        ("EXPIRE_TAKER", "open", "expired", False),
        ("EXPIRE_BOTH", "expired", "expired", False),
        ("NONE", "closed", "closed", True),
    ],
)
async def test_self_trade_prevention_modes(
    quiet_venue: Venue, mode: str, maker_status: str, taker_status: str, traded: bool
) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        price = round(v.book(SYM)["asks"][0][0] - 0.01, 2)  # our offer is the best ask
        maker = await c.create_order(SYM, "limit", "sell", 0.01, price)
        taker = await c.create_order(
            SYM, "limit", "buy", 0.01, price, {"selfTradePrevention": mode}
        )
        got_maker = await c.fetch_order(maker["id"], SYM)
        got_taker = await c.fetch_order(taker["id"], SYM)
        assert (got_maker["status"], got_taker["status"]) == (maker_status, taker_status)
        assert got_taker["info"]["selfTradePreventionMode"] == mode
        expired = [o for o in (got_maker, got_taker) if o["status"] == "expired"]
        assert all(o["info"]["status"] == "EXPIRED_IN_MATCH" for o in expired)
        assert all(o["info"]["preventedQuantity"] == "0.01000000" for o in expired)
        btc = v.account().free["BTC"] + v.account().locked["BTC"]
        assert (btc != Decimal(1)) == traded
