"""The ``<symbol>@ticker`` stream and the user-stream stall, through unmodified ccxt.pro."""

from __future__ import annotations

import msgspec
import pytest
import trio

from actors.venues import Venue
from actors.venues.binance.streams import TICKER_INTERVAL_S, ticker_event
from tests.venues.helpers import ccxt_client, check_ticker, http, wait_until

SYM = "BTC/USDT"


FULL = {"name": "ticker"}
"""ccxt 4.5's ``watch_ticker`` reads the ``watchTickers`` option (default ``miniTicker``), so
the full 24hr ticker, with best bid and ask, needs the stream name passed explicitly."""


async def test_watch_ticker_parses_the_24hr_stream(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await wait_until(lambda: venue.engine.books["BTCUSDT"].stats.count > 0)
        with trio.fail_after(5):
            first = await c.watch_ticker(SYM, FULL)
        assert "btcusdt@ticker" in next(iter(venue.hub.conns)).subs
        check_ticker(c.ex, {}, "watchTicker", first, SYM)
        assert first["info"]["e"] == "24hrTicker"
        assert first["bid"] < first["ask"]
        assert first["last"] is not None and first["baseVolume"] > 0
        # Pushed periodically: the next event comes within one interval (plus slack).
        started = trio.current_time()
        with trio.fail_after(TICKER_INTERVAL_S * 3):
            second = await c.watch_ticker(SYM, FULL)
        assert second["info"]["E"] > first["info"]["E"]
        assert trio.current_time() - started < TICKER_INTERVAL_S * 2
        check_ticker(c.ex, {}, "watchTicker", second, SYM)


async def test_watch_ticker_default_is_the_mini_ticker(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        await c.load_markets()
        with trio.fail_after(5):
            mini = await c.watch_ticker(SYM)  # ccxt's default route: `btcusdt@miniTicker`
        assert "btcusdt@miniTicker" in next(iter(venue.hub.conns)).subs
        assert mini["info"]["e"] == "24hrMiniTicker"
        check_ticker(c.ex, {}, "watchTicker", mini, SYM)
        assert mini["bid"] is None and mini["last"] is not None


async def test_ticker_matches_the_venue_book_when_quiet(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        with trio.fail_after(5):
            ticker = await c.watch_ticker(SYM, FULL)
        own = v.book(SYM, limit=1)
        assert ticker["bid"] == own["bids"][0][0] and ticker["bidVolume"] == own["bids"][0][1]
        assert ticker["ask"] == own["asks"][0][0] and ticker["askVolume"] == own["asks"][0][1]
        rest = await c.fetch_ticker(SYM)
        assert ticker["open"] == rest["open"] and ticker["high"] == rest["high"]


async def test_ticker_event_names_an_unknown_symbol(venue: Venue) -> None:
    with pytest.raises(ValueError, match="XRPUSDT"):
        ticker_event(venue, "xrpusdt@ticker")
    with pytest.raises(ValueError, match="kind must be"):
        ticker_event(venue, "btcusdt@trade")


async def test_stall_user_streams_holds_user_events_on_an_open_socket(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        await c.authenticate({})  # the ws-api user-data subscription is confirmed
        assert len(v.protocol.user_streams.conns) == 1
        assert v.faults.stall_user_streams(30.0) == 1
        assert v.faults.state()["user_streams_stalled"] == 1
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        await c.create_order(SYM, "limit", "buy", 0.001, price, {"clientOrderId": "s-1"})
        with trio.move_on_after(0.4):
            await c.watch_orders()
            pytest.fail("an order update arrived during the user-stream stall")
        assert len(v.protocol.user_streams.conns) == 1  # the socket stayed open and subscribed
        # Market streams are not affected by a user-stream stall.
        with trio.fail_after(5):
            await c.watch_ticker(SYM, FULL)
        v.faults.resume_streams()
        with trio.fail_after(5):
            orders = await c.watch_orders()
        assert orders[-1]["clientOrderId"] == "s-1"


async def test_stall_user_streams_over_the_control_endpoint(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        await c.authenticate({})
        path = "/_sim/faults/stall_user_streams"
        status, body = await http(v.port, "POST", path, b'{"seconds": 5}')
        assert status == 200 and msgspec.json.decode(body)["result"] == 1
        assert v.faults.state()["user_streams_stalled"] == 1
        for bad in (b'{"seconds": -1}', b'{"seconds": "5"}', b'{"secs": 5}'):
            assert (await http(v.port, "POST", path, bad))[0] == 400, bad
        v.faults.reset()
        assert v.faults.state()["user_streams_stalled"] == 0
