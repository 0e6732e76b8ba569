"""OKX v5 public REST and websockets through the real, unmodified ccxt.pro okx class."""

from __future__ import annotations

import msgspec
import pytest
import trio

from actors.venues import Venue
from tests.venues.helpers import (
    RawWs,
    assert_same_book,
    ccxt_client,
    check_market,
    check_order_book,
    check_ticker,
    check_trade,
    in_sync,
    okx_checksum,
    okx_string,
    sync_state,
    wait_until,
)

SYM = "BTC/USDT"


async def test_markets_book_ticker_trades_candles_over_rest(okx_venue: Venue) -> None:
    v = okx_venue
    async with ccxt_client(v) as c:
        markets = await c.load_markets()
        assert set(markets) == {"BTC/USDT", "ETH/USDT"}
        btc = markets[SYM]
        assert btc["id"] == "BTC-USDT" and btc["spot"] and btc["active"]
        assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
        assert btc["limits"]["amount"]["min"] == 0.00001
        for m in markets.values():
            check_market(c.ex, {}, "loadMarkets", m)
        assert await c.fetch_time() == pytest.approx(v.now_ms(), abs=5000)
        ob = await c.fetch_order_book(SYM, 20)
        check_order_book(c.ex, {}, "fetchOrderBook", ob, SYM)
        assert len(ob["bids"]) == len(ob["asks"]) == 20
        assert ob["bids"][0][0] < ob["asks"][0][0]
        ticker = await c.fetch_ticker(SYM)
        check_ticker(c.ex, {}, "fetchTicker", ticker, SYM)
        assert set(await c.fetch_tickers()) == {"BTC/USDT", "ETH/USDT"}
        await wait_until(lambda: v.engine.books["BTCUSDT"].stats.count > 0)
        now = c.ex.milliseconds()
        trades = await c.fetch_trades(SYM)
        assert trades
        for t in trades:
            check_trade(c.ex, {}, "fetchTrades", t, SYM, now, True)
        candles = await c.fetch_ohlcv(SYM, "1m")
        assert candles and candles[-1][2] >= candles[-1][3]  # high >= low


async def test_watch_order_book_stays_in_sync_and_every_checksum_holds(okx_venue: Venue) -> None:
    """ccxt keeps the book by seqId/prevSeqId; a bare client checks OKX's checksum on every
    frame, and the checksum of ccxt's own book matches the venue's last frame."""
    v = okx_venue
    v.set_rate(300.0)
    raw = await RawWs.connect(v.port, "/ws/v5/public")
    await raw.send('{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}')
    assert msgspec.json.decode(await raw.recv())["event"] == "subscribe"
    book: dict[str, dict[str, str]] = {"bids": {}, "asks": {}}
    seq = None
    checked = 0
    last_checksum = None

    def apply(frame: dict[str, object]) -> int:
        data = frame["data"][0]  # type: ignore[index]
        for side in ("bids", "asks"):
            for price, size, *_ in data[side]:
                if size == "0":
                    book[side].pop(price, None)
                else:
                    book[side][price] = size
        bids = sorted(book["bids"].items(), key=lambda kv: -float(kv[0]))
        asks = sorted(book["asks"].items(), key=lambda kv: float(kv[0]))
        assert okx_checksum([list(b) for b in bids], [list(a) for a in asks]) == data["checksum"]
        return int(data["seqId"])

    async with ccxt_client(v) as c:
        await c.load_markets()
        with trio.fail_after(10):
            nonces = []
            while len(nonces) < 6 or checked < 6:
                with trio.move_on_after(0.05):
                    nonces.append((await c.watch_order_book(SYM))["nonce"])
                with trio.move_on_after(0.05):
                    frame = msgspec.json.decode(await raw.recv())
                    data = frame["data"][0]
                    if frame["action"] == "snapshot":
                        book = {"bids": {}, "asks": {}}
                        assert data["prevSeqId"] == -1
                    else:
                        assert data["prevSeqId"] == seq  # a continuous chain
                    seq = apply(frame)
                    last_checksum = data["checksum"]
                    checked += 1
        assert nonces == sorted(nonces)
        v.pause_market()
        await wait_until(lambda: in_sync(v, c, SYM), describe=lambda: sync_state(v, c, SYM))
        assert_same_book(v, c, SYM)
        check_order_book(c.ex, {}, "watchOrderBook", c.ex.orderbooks[SYM].limit(), SYM)
        # the raw client has caught up too; ccxt's book, written as OKX writes numbers, has the
        # checksum of the last frame
        while seq != v.book(SYM)["publishedUpdateId"]:
            frame = msgspec.json.decode(await raw.recv())
            seq = apply(frame)
            last_checksum = frame["data"][0]["checksum"]
        ob = c.ex.orderbooks[SYM]
        bids = [[okx_string(p), okx_string(q)] for p, q in ob["bids"][:25]]
        asks = [[okx_string(p), okx_string(q)] for p, q in ob["asks"][:25]]
        assert okx_checksum(bids, asks) == last_checksum
    await raw.aclose()


async def test_watch_trades_tickers_and_best_bid_ask(okx_venue: Venue) -> None:
    v = okx_venue
    v.set_rate(200.0)
    async with ccxt_client(v) as c:
        await c.load_markets()
        with trio.fail_after(10):
            trades = await c.watch_trades(SYM)
        now = c.ex.milliseconds()
        for t in trades:
            check_trade(c.ex, {}, "watchTrades", t, SYM, now, True)
        with trio.fail_after(10):
            ticker = await c.watch_ticker(SYM)
        check_ticker(c.ex, {}, "watchTicker", ticker, SYM)
        assert ticker["bid"] < ticker["ask"] and ticker["last"] is not None
        with trio.fail_after(10):
            bbo = await c.watch_bids_asks([SYM])
        assert bbo[SYM]["bid"] < bbo[SYM]["ask"]
        with trio.fail_after(10):
            candles = await c.watch_ohlcv(SYM, "1m")
        assert candles and candles[-1][1] > 0


async def test_ping_pong_and_error_events(okx_quiet: Venue) -> None:
    raw = await RawWs.connect(okx_quiet.port, "/ws/v5/public")
    await raw.send("ping")
    assert await raw.recv() == "pong"
    await raw.send('{"op":"subscribe","args":[{"channel":"books","instId":"NOPE-USDT"}]}')
    error = msgspec.json.decode(await raw.recv())
    assert error["event"] == "error" and error["code"] == "60018"
    await raw.send("not json")
    error = msgspec.json.decode(await raw.recv())
    assert error["event"] == "error" and error["code"] == "60012"
    await raw.send('{"op":"explode","args":[]}')
    error = msgspec.json.decode(await raw.recv())
    assert error["code"] == "60019"
    # a private channel needs a login
    private = await RawWs.connect(okx_quiet.port, "/ws/v5/private")
    await private.send('{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}')
    assert msgspec.json.decode(await private.recv())["code"] == "60011"
    await raw.aclose()
    await private.aclose()
