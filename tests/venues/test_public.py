"""Public REST and market streams through the real, unmodified ccxt.pro binance class."""

from __future__ import annotations

import ccxt
import pytest
import trio

from actors.venues import Venue
from tests.venues.helpers import (
    assert_same_book,
    ccxt_client,
    check_market,
    check_order_book,
    check_ticker,
    check_trade,
    in_sync,
    sync_state,
    wait_until,
)


async def test_load_markets_parses_filters(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        markets = await c.load_markets()
        assert set(markets) == {"BTC/USDT", "ETH/USDT"}
        btc = markets["BTC/USDT"]
        assert btc["spot"] and btc["active"]
        assert btc["precision"]["price"] == 0.01
        assert btc["precision"]["amount"] == 0.00001
        assert btc["limits"]["cost"]["min"] == 5
        for m in markets.values():
            check_market(c.ex, {}, "loadMarkets", m)


async def test_order_book_trades_ticker_validators(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        await c.load_markets()
        ob = await c.fetch_order_book("BTC/USDT", 50)
        # Binance's REST depth carries no timestamp; ccxt's own binance test run skips it too
        check_order_book(
            c.ex, {"timestamp": True, "datetime": True}, "fetchOrderBook", ob, "BTC/USDT"
        )
        assert ob["bids"][0][0] < ob["asks"][0][0]
        assert isinstance(ob["nonce"], int)
        await wait_until(lambda: venue.engine.books["BTCUSDT"].stats.count > 0)
        now = c.ex.milliseconds()
        trades = await c.fetch_trades("BTC/USDT")
        assert trades
        for t in trades:
            check_trade(c.ex, {}, "fetchTrades", t, "BTC/USDT", now, True)
        ticker = await c.fetch_ticker("BTC/USDT")
        check_ticker(c.ex, {}, "fetchTicker", ticker, "BTC/USDT")
        assert ticker["bid"] < ticker["ask"]
        bidask = await c.fetch_bids_asks(["BTC/USDT"])
        assert bidask["BTC/USDT"]["bid"] is not None
        assert await c.fetch_time() == pytest.approx(now, abs=5000)


async def test_request_weight_headers(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await c.fetch_order_book("BTC/USDT", 1000)
        headers = c.ex.last_response_headers
        used = int(headers["x-mbx-used-weight-1m"])
        assert used >= 20 + 50  # exchangeInfo + depth(1000)


async def test_unknown_symbol_is_bad_symbol(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        with pytest.raises(ccxt.BadSymbol):
            await c.publicGetDepth({"symbol": "NOPEUSDT"})


async def test_watch_order_book_stays_in_sync(venue: Venue) -> None:
    venue.set_rate(400.0)
    async with ccxt_client(venue) as c:
        await c.load_markets()
        nonces = []
        with trio.fail_after(10):
            while len(nonces) < 6:
                book = await c.watch_order_book("BTC/USDT")
                nonces.append(book["nonce"])
        assert nonces == sorted(nonces)
        venue.pause_market()
        await wait_until(
            lambda: in_sync(venue, c, "BTC/USDT"),
            describe=lambda: sync_state(venue, c, "BTC/USDT"),
        )
        assert_same_book(venue, c, "BTC/USDT")
        check_order_book(
            c.ex, {}, "watchOrderBook", c.ex.orderbooks["BTC/USDT"].limit(), "BTC/USDT"
        )
        venue.resume_market()
        # and again after more traffic: continuity held across thousands of changes
        start = venue.engine.books["BTCUSDT"].update_id
        with trio.fail_after(10):
            while venue.engine.books["BTCUSDT"].update_id < start + 150:
                await c.watch_order_book("BTC/USDT")
        venue.pause_market()
        await wait_until(
            lambda: in_sync(venue, c, "BTC/USDT"),
            describe=lambda: sync_state(venue, c, "BTC/USDT"),
        )
        assert_same_book(venue, c, "BTC/USDT")


async def test_watch_trades_and_tickers(venue: Venue) -> None:
    venue.set_rate(200.0)
    async with ccxt_client(venue) as c:
        await c.load_markets()
        with trio.fail_after(10):
            trades = await c.watch_trades("BTC/USDT")
        now = c.ex.milliseconds()
        for t in trades:
            check_trade(c.ex, {}, "watchTrades", t, "BTC/USDT", now, True)
        with trio.fail_after(10):
            tickers = await c.watch_bids_asks(["BTC/USDT"])
        assert tickers["BTC/USDT"]["bid"] < tickers["BTC/USDT"]["ask"]


async def test_subscribe_replies_and_server_pings() -> None:
    """Raw wsproto client: SUBSCRIBE gets {"result": null, "id"}; unknown streams get an error."""
    import msgspec
    from wsproto import WSConnection
    from wsproto.connection import ConnectionType
    from wsproto.events import AcceptConnection, Ping, Request, TextMessage

    from actors.venues import VenueConfig, open_venue

    async with open_venue(VenueConfig(seed=1, rate_hz=50.0, ping_interval_s=0.2)) as v:
        stream = await trio.open_tcp_stream("127.0.0.1", v.port)
        ws = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(ws.send(Request(host="127.0.0.1", target="/ws")))
        sub = {"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 7}
        bad = {"method": "SUBSCRIBE", "params": ["nope@depth"], "id": 8}
        texts: list[object] = []
        pinged = False
        with trio.fail_after(10):
            while not (pinged and len(texts) >= 3):
                ws.receive_data(await stream.receive_some(65536))
                for ev in ws.events():
                    if isinstance(ev, AcceptConnection):
                        for req in (sub, bad):
                            await stream.send_all(
                                ws.send(TextMessage(msgspec.json.encode(req).decode()))
                            )
                    elif isinstance(ev, TextMessage):
                        texts.append(msgspec.json.decode(ev.data))
                    elif isinstance(ev, Ping):
                        pinged = True
                        await stream.send_all(ws.send(ev.response()))
        assert {"result": None, "id": 7} in texts
        errors = [t for t in texts if isinstance(t, dict) and "error" in t]
        assert errors and errors[0]["id"] == 8
        diffs = [t for t in texts if isinstance(t, dict) and t.get("e") == "depthUpdate"]
        assert all(d["U"] <= d["u"] for d in diffs)
        await stream.aclose()
