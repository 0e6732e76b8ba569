"""How the desk builds its ccxt.pro instances."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
import trio

from actors.trading.ccxt_bridge import (
    EXIT_LINGER,
    LoadedMarkets,
    aio,
    close_exchange,
    make_exchange,
    open_loop,
    snapshot_of,
    trade_tick_of,
)
from actors.trading.market_data import ticker_of
from actors.venues import VenueConfig, open_venue, venue_ccxt_config


def test_instances_share_one_ssl_context_per_ca_file() -> None:
    # ccxt would parse the CA bundle again for each instance, on every session restart,
    # with the event loop blocked meanwhile.
    first = make_exchange("binance", {}, None)
    second = make_exchange("okx", {}, None)
    assert isinstance(first.ssl_context, ssl.SSLContext)
    assert first.ssl_context is second.ssl_context
    assert first.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_an_instance_that_does_not_verify_or_adds_os_certificates_is_left_to_ccxt() -> None:
    assert make_exchange("binance", {"verify": False}, None).ssl_context is None
    options = {"options": {"include_OS_certificates": True}}
    assert make_exchange("binance", options, None).ssl_context is None


@pytest.mark.parametrize(
    ("price", "amount"), [("NaN", "1"), ("1", "inf"), ("-1", "1"), ("1", "0"), (None, "1")]
)
def test_an_impossible_trade_or_book_level_is_refused_where_it_is_converted(
    price: Any, amount: Any
) -> None:
    trade = {"symbol": "BTC/USDT", "price": price, "amount": amount, "id": "7"}
    with pytest.raises((ValueError, TypeError)):
        trade_tick_of("sim", trade, 0.0)
    book = {"bids": [[price, amount]], "asks": [], "nonce": 1}
    with pytest.raises((ValueError, TypeError)):
        snapshot_of("sim", "BTC/USDT", book, 5, 0.0)


def test_a_ticker_with_a_non_finite_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="bid"):
        ticker_of("sim", "BTC/USDT", {"bid": float("nan"), "ask": 2.0}, 0.0)
    assert ticker_of("sim", "BTC/USDT", {"bid": 1.0, "ask": None}, 0.0).ask is None


async def test_a_closed_exchange_does_not_hold_its_actor_for_ccxts_exit_sleep(
    autojump_clock: trio.abc.Clock,
) -> None:
    # ccxt sleeps 250 ms at the end of every close (for aiohttp's TLS shutdown before the
    # loop closes); an actor's on_stop waited for it before each restart. The loop sleeps it
    # once at its own exit instead.
    async with open_loop():
        exchange = make_exchange("binance", {}, None)
        started = trio.current_time()
        await close_exchange(exchange)
        assert trio.current_time() - started < EXIT_LINGER / 10
        closed = trio.current_time()
    assert trio.current_time() - closed == pytest.approx(EXIT_LINGER)
    # Nothing closed: nothing owed at exit.
    async with open_loop():
        opened = trio.current_time()
    assert trio.current_time() - opened < EXIT_LINGER / 10


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["binance", "okx"])
async def test_loaded_markets_are_fetched_once_and_reused_by_the_next_instance(
    protocol: str,
) -> None:
    async with open_venue(VenueConfig(protocol=protocol, seed=3, rate_hz=40.0)) as venue:
        venue.pause_market()
        config = venue_ccxt_config(venue)
        kept = LoadedMarkets()
        async with open_loop():
            first = make_exchange(protocol, config, None)
            try:
                await kept.load(first)
            finally:
                await close_exchange(first)
            # A restart: a new instance, the same venue. It must not fetch the markets.
            second = make_exchange(protocol, config, None)

            async def no_fetch(*_: Any, **__: Any) -> Any:
                raise AssertionError("markets fetched again")

            second.fetch_markets = no_fetch
            try:
                await kept.load(second)
                assert (kept.fetches, kept.reuses) == (1, 1)
                assert second.markets is first.markets
                assert second.market("BTC/USDT")["id"] == first.market("BTC/USDT")["id"]
                book = await aio(second.fetch_order_book)("BTC/USDT")
                assert book["bids"] and book["asks"]
            finally:
                await close_exchange(second)
            # Past max_age they are fetched again.
            stale = LoadedMarkets(max_age=0.0)
            third = make_exchange(protocol, config, None)
            try:
                await stale.load(third)
                await stale.load(third)
                assert (stale.fetches, stale.reuses) == (2, 0)
            finally:
                await close_exchange(third)
