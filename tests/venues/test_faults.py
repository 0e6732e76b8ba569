"""Every fault knob, observed through ccxt as it would be on the real exchange (knobs whose
effect is the same on both protocols run against each; OKX-only details in test_okx_faults)."""

from __future__ import annotations

from typing import Any

import ccxt
import msgspec
import pytest
import trio

from actors.venues import StartupFaults, Venue, VenueConfig, open_venue
from tests.venues.helpers import (
    Client,
    assert_same_book,
    ccxt_client,
    http,
    in_sync,
    sync_state,
    wait_until,
)

SYM = "BTC/USDT"


async def _synced(venue: Venue, c: Client) -> None:
    """Watch until ccxt has a book, then pause the market and compare once quiet."""
    with trio.fail_after(10):
        await c.watch_order_book(SYM)
    venue.pause_market()
    await wait_until(lambda: in_sync(venue, c, SYM), describe=lambda: sync_state(venue, c, SYM))
    assert_same_book(venue, c, SYM)
    venue.resume_market()


async def test_drop_websockets_raises_network_error_then_recovers(any_venue: Venue) -> None:
    venue = any_venue
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await _synced(venue, c)
        assert venue.faults.drop_websockets() >= 1
        with pytest.raises(ccxt.NetworkError), trio.fail_after(10):
            while True:
                await c.watch_order_book(SYM)
        await _synced(venue, c)


async def test_gap_makes_ccxt_raise_invalid_nonce_then_resync(any_venue: Venue) -> None:
    """Binance: ``U`` jumps (ccxt's ChecksumError); OKX: ``prevSeqId`` is not the last
    ``seqId`` (ccxt unsubscribes and subscribes again for a fresh snapshot)."""
    venue = any_venue
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await _synced(venue, c)
        venue.faults.skip_update_ids(SYM, 5)
        with pytest.raises(ccxt.InvalidNonce) as err, trio.fail_after(10):
            while True:
                await c.watch_order_book(SYM)
        if venue.config.protocol == "binance":
            assert isinstance(err.value, ccxt.ChecksumError)
        await _synced(venue, c)


async def test_stall_keeps_connection_but_stops_updates(any_venue: Venue) -> None:
    venue = any_venue
    venue.set_rate(200.0)
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await _synced(venue, c)
        # frozen and in sync: whatever is published from now on is held by the stall
        venue.pause_market()
        await wait_until(lambda: in_sync(venue, c, SYM), describe=lambda: sync_state(venue, c, SYM))
        nonce = c.ex.orderbooks[SYM]["nonce"]
        venue.faults.stall_streams(30.0)
        venue.resume_market()
        await wait_until(lambda: venue.book(SYM)["publishedUpdateId"] > nonce)
        with trio.move_on_after(0.3):
            await c.watch_order_book(SYM)
            pytest.fail("an update arrived during the stall")
        assert c.ex.orderbooks[SYM]["nonce"] == nonce
        assert venue.hub.conns  # the socket stayed open
        venue.faults.resume_streams()
        await _synced(venue, c)


async def test_malformed_frame_is_not_taken_as_data(any_venue: Venue) -> None:
    venue = any_venue
    async with ccxt_client(venue) as c:
        await c.load_markets()
        await _synced(venue, c)
        assert venue.faults.send_malformed_frame("wrong_types") >= 1
        assert venue.faults.send_malformed_frame("garbage") >= 1
        # ccxt ignores a depthUpdate it cannot place; the book is still correct afterwards
        await _synced(venue, c)


async def test_refused_connections_raise_network_error_then_recover(any_venue: Venue) -> None:
    venue = any_venue
    async with ccxt_client(venue) as c:
        await c.load_markets()
        venue.faults.refuse_connections(0.3)
        with pytest.raises(ccxt.NetworkError):
            await c.fetch_order_book(SYM)
        with trio.fail_after(10):
            while True:
                try:
                    await c.fetch_order_book(SYM)
                    break
                except ccxt.NetworkError:
                    await trio.sleep(0.1)
        await _synced(venue, c)


async def test_forced_429_then_418(venue: Venue) -> None:
    async with ccxt_client(venue) as c:
        await c.load_markets()
        venue.faults.rate_limit_next(1, then_418=1, retry_after=3)
        with pytest.raises(ccxt.DDoSProtection, match="429"):
            await c.fetch_order_book(SYM)
        with pytest.raises(ccxt.DDoSProtection, match="418"):
            await c.fetch_order_book(SYM)
        assert (await c.fetch_order_book(SYM))["bids"]


async def test_429_carries_retry_after(venue: Venue) -> None:
    venue.faults.rate_limit_next(1, retry_after=3)
    status, body = await http(venue.port, "GET", "/api/v3/ping")
    assert status == 429 and msgspec.json.decode(body)["code"] == -1003
    status, _ = await http(venue.port, "GET", "/api/v3/ping")
    assert status == 200


async def test_weight_limit_escalates_to_ban() -> None:
    cfg = VenueConfig(seed=2, weight_limit_1m=30, ban_after_429s=1, ban_seconds=30)
    async with open_venue(cfg) as v, ccxt_client(v) as c:
        await c.load_markets()  # weight 20
        await c.fetch_order_book(SYM, 5)  # weight 5 -> 25 used
        with pytest.raises(ccxt.DDoSProtection, match="429"):
            await c.fetch_order_book(SYM, 500)  # weight 25 would exceed 30
        with pytest.raises(ccxt.DDoSProtection, match="418"):
            await c.fetch_order_book(SYM, 500)


async def test_order_5xx_after_accepting_leaves_an_order_to_reconcile(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        v.faults.fail_next_order("error_after")
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "u-1"})
        found = await c.fetch_order(None, SYM, {"origClientOrderId": "u-1"})
        assert found["status"] == "open"
        v.faults.fail_next_order("error_before")
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "u-2"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order(None, SYM, {"origClientOrderId": "u-2"})


async def test_order_timeouts_before_and_after(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v, timeout=400) as c:
        await c.load_markets()
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        v.faults.fail_next_order("timeout_after", hold_s=5)
        with pytest.raises(ccxt.RequestTimeout):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "t-1"})
        assert (await c.fetch_order(None, SYM, {"origClientOrderId": "t-1"}))["status"] == "open"
        v.faults.fail_next_order("timeout_before", hold_s=5)
        with pytest.raises(ccxt.RequestTimeout):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "t-2"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order(None, SYM, {"origClientOrderId": "t-2"})
        # the websocket API reports an accepted-but-unconfirmed order as unknown execution
        v.faults.fail_next_order("error_after")
        with pytest.raises(ccxt.RequestTimeout, match="-1007"):
            await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w-1"})
        assert (await c.fetch_order(None, SYM, {"origClientOrderId": "w-1"}))["status"] == "open"


async def test_latency_and_clock_skew(quiet_venue: Venue) -> None:
    v = quiet_venue
    async with ccxt_client(v) as c:
        await c.load_markets()
        v.faults.add_latency(0.3)
        t0 = trio.current_time()
        await c.fetch_time()
        assert trio.current_time() - t0 >= 0.3
        v.faults.add_latency(0)
        v.faults.skew_clock(-20_000)
        with pytest.raises(ccxt.InvalidNonce, match="1000ms ahead"):
            await c.fetch_balance()
        v.faults.skew_clock(+20_000)
        with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
            await c.fetch_balance()
        v.faults.reset()
        assert (await c.fetch_balance())["USDT"]["free"] == 100000


async def test_control_endpoint_drives_faults(quiet_venue: Venue) -> None:
    v = quiet_venue
    status, body = await http(v.port, "POST", "/_sim/faults/skew_clock", b'{"ms": 30000}')
    assert status == 200 and msgspec.json.decode(body)["faults"]["clock_skew_ms"] == 30000
    async with ccxt_client(v) as c:
        with pytest.raises(ccxt.InvalidNonce):
            await c.fetch_balance()
        assert (await http(v.port, "POST", "/_sim/faults/reset"))[0] == 200
        await c.fetch_balance()
        status, _ = await http(v.port, "POST", "/_sim/faults/rate_limit_next", b'{"n": 1}')
        assert status == 200
        with pytest.raises(ccxt.DDoSProtection):
            await c.fetch_order_book(SYM)
    assert (await http(v.port, "POST", "/_sim/faults/nope"))[0] == 404
    assert (await http(v.port, "POST", "/_sim/faults/skew_clock", b'{"bad": 1}'))[0] == 400
    status, body = await http(v.port, "GET", "/_sim/book/BTC/USDT")
    assert status == 200 and msgspec.json.decode(body)["bids"] == v.book(SYM)["bids"]
    status, body = await http(v.port, "POST", "/_sim/market/resume")
    assert status == 200 and not msgspec.json.decode(body)["state"]["paused"]


async def test_startup_faults() -> None:
    cfg = VenueConfig(seed=3, faults=StartupFaults(rate_limit_next=1, clock_skew_ms=-30_000))
    async with open_venue(cfg) as v, ccxt_client(v) as c:
        with pytest.raises(ccxt.DDoSProtection):
            await c.load_markets()
        await c.load_markets()
        with pytest.raises(ccxt.InvalidNonce):
            await c.fetch_balance()


async def test_truncated_json_frame_escapes_ccxt_into_the_asyncio_loop(venue: Venue) -> None:
    """ccxt decodes frames in a loop callback; undecodable JSON raises there, not in watch_*.

    Under trio-asyncio that error ends the whole ``open_loop()`` block: the caller must
    supervise it (the trading wing restarts its connection actor).
    """
    decode_errors: BaseExceptionGroup[BaseException] | None = None
    loop: Any = None
    exchange: Any = None
    try:
        async with ccxt_client(venue) as c:
            loop, exchange = c.loop, c.ex
            await c.load_markets()
            await c.watch_order_book(SYM)
            assert venue.faults.send_malformed_frame("truncated") >= 1
            with trio.fail_after(10):
                while True:
                    await c.watch_order_book(SYM)
    except BaseExceptionGroup as group:
        decode_errors = group.subgroup(lambda e: isinstance(e, ValueError))
    assert decode_errors is not None
    # The loop died under ccxt, so it could not be closed: its ping task and HTTP session are
    # abandoned with the loop. Say so, rather than have GC complain at interpreter exit.
    loop.set_exception_handler(lambda _loop, _context: None)
    exchange.session = None


async def test_order_requests_counted_per_transport_and_private_sockets_refused(
    any_venue: Venue,
) -> None:
    """The venue says which path served each order request; refusing the private sockets
    leaves REST taking orders."""
    v = any_venue
    v.pause_market()
    async with ccxt_client(v) as c:
        await c.load_markets()
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        by_rest = await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "r1"})
        by_ws = await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w1"})
        await c.cancel_order_ws(by_ws["id"], SYM)
        await c.cancel_order(by_rest["id"], SYM)
        expected = {"rest.place": 1, "ws.place": 1, "ws.cancel": 1, "rest.cancel": 1}
        assert dict(v.entry.requests) == expected
        assert v.status()["order_requests"] == dict(sorted(expected.items()))

        assert v.faults.refuse_private_websockets(30) == 1  # the order-entry socket
        assert v.faults.state()["refusing_private_for_s"] > 0
        with pytest.raises(ccxt.NetworkError):
            await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w2"})
        await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "r2"})
        assert v.entry.requests["ws.place"] == 1 and v.entry.requests["rest.place"] == 2
        with pytest.raises(ValueError, match="seconds"):
            v.faults.refuse_private_websockets(float("nan"))
        v.faults.reset()
        await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w3"})
        assert v.entry.requests["ws.place"] == 2
