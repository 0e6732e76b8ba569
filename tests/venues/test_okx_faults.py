"""Fault knobs whose answer is OKX's own, observed through unmodified ccxt.pro okx (drops,
stalls, gaps, malformed frames and refusals run on both protocols in test_faults)."""

from __future__ import annotations

import ccxt
import pytest
import trio

from actors.venues import StartupFaults, Venue, VenueConfig, open_venue
from tests.venues.helpers import (
    ccxt_client,
)

SYM = "BTC/USDT"


async def test_rate_limits_answer_429_as_okx(okx_quiet: Venue) -> None:
    async with ccxt_client(okx_quiet) as c:
        await c.load_markets()
        okx_quiet.faults.rate_limit_next(1, then_418=1)
        for _ in range(2):  # OKX has no ban: both are its 429
            with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
                await c.fetch_order_book(SYM)
        assert (await c.fetch_order_book(SYM))["bids"]
    # the real limiter: public/time allows 10 per 2 s; scaled to 1 per 2 s here
    cfg = VenueConfig(protocol="okx", okx_limit_scale=0.1)
    async with open_venue(cfg) as v, ccxt_client(v) as c:
        # three calls within 2 s: two of them share a window, whatever the window's phase
        with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
            for _ in range(3):
                await c.fetch_time()


async def test_order_5xx_and_timeouts_before_and_after(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v, timeout=400) as c:
        await c.load_markets()
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        v.faults.fail_next_order("error_after")
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "u1"})
        assert (await c.fetch_order(None, SYM, {"clientOrderId": "u1"}))["status"] == "open"
        v.faults.fail_next_order("error_before")
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "u2"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order(None, SYM, {"clientOrderId": "u2"})
        v.faults.fail_next_order("timeout_after", hold_s=5)
        with pytest.raises(ccxt.RequestTimeout):
            await c.create_order(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "t1"})
        assert (await c.fetch_order(None, SYM, {"clientOrderId": "t1"}))["status"] == "open"
        # over the socket: accepted but unconfirmed is OKX's 50004, not placed is 50013
        v.faults.fail_next_order("error_after")
        with pytest.raises(ccxt.RequestTimeout, match="50004"):
            await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w1"})
        assert (await c.fetch_order(None, SYM, {"clientOrderId": "w1"}))["status"] == "open"
        v.faults.fail_next_order("error_before")
        with pytest.raises(ccxt.ExchangeNotAvailable, match="50013"):
            await c.create_order_ws(SYM, "limit", "buy", 0.01, price, {"clientOrderId": "w2"})
        with pytest.raises(ccxt.OrderNotFound):
            await c.fetch_order(None, SYM, {"clientOrderId": "w2"})


async def test_latency_and_clock_skew(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        v.faults.add_latency(0.3)
        t0 = trio.current_time()
        await c.fetch_time()
        assert trio.current_time() - t0 >= 0.3
        v.faults.add_latency(0)
        v.faults.skew_clock(40_000)  # OKX allows 30 s
        with pytest.raises(ccxt.InvalidNonce, match="50102"):
            await c.fetch_balance()
        with pytest.raises(ccxt.InvalidNonce, match="60006"):
            await c.watch_balance()  # the websocket login's timestamp check
        v.faults.reset()
        assert (await c.fetch_balance())["USDT"]["free"] == 100000


async def test_stall_user_streams_holds_private_pushes(okx_quiet: Venue) -> None:
    v = okx_quiet
    async with ccxt_client(v) as c:
        await c.load_markets()
        with trio.fail_after(5):
            await c.watch_balance()  # logged in and subscribed
        assert v.faults.stall_user_streams(30.0) == 1
        price = round(v.book(SYM)["bids"][0][0] - 100, 2)
        await c.create_order(SYM, "limit", "buy", 0.001, price, {"clientOrderId": "st1"})
        with trio.move_on_after(0.4):
            await c.watch_balance()
            pytest.fail("a balance push arrived during the user-stream stall")
        v.faults.resume_streams()
        with trio.fail_after(5):
            balance = await c.watch_balance()
        assert balance["USDT"]["used"] == pytest.approx(price * 0.001)


async def test_startup_faults() -> None:
    cfg = VenueConfig(protocol="okx", faults=StartupFaults(rate_limit_next=1))
    async with open_venue(cfg) as v, ccxt_client(v) as c:
        with pytest.raises(ccxt.RateLimitExceeded):
            await c.load_markets()
        await c.load_markets()
