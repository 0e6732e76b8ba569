"""The matching engine, the synthetic market and venue lifecycle, without ccxt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal

import msgspec
import pytest
import trio

from actors.venues import VenueConfig, open_venue, open_venues
from actors.venues.config import symbol_spec
from actors.venues.engine import BUY, LIMIT, MARKET, SELL, Engine
from actors.venues.rules import Market
from actors.venues.synthetic import FairValueModel, SyntheticMarket


def _engine() -> Engine:
    return Engine([Market(symbol_spec("BTC/USDT"))], lambda: 0)


def test_price_time_priority_and_partial_fills() -> None:
    eng = _engine()
    mk = eng.new_order
    first = mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="GTC", price=100, qty=5)
    second = mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="GTC", price=100, qty=5)
    better = mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="GTC", price=99, qty=2)
    for o in (first, second, better):
        eng.submit(o)
    taker = mk(symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=100, qty=4)
    fills = eng.submit(taker)
    assert [(f.maker.order_id, f.price, f.qty) for f in fills] == [
        (better.order_id, 99, 2),
        (first.order_id, 100, 2),
    ]
    assert first.status == "PARTIALLY_FILLED" and second.status == "NEW"
    assert taker.status == "FILLED"
    _, bids, asks = eng.books["BTCUSDT"].snapshot(10)
    assert asks == [(100, 8)] and bids == []


def test_ioc_fok_market() -> None:
    eng = _engine()
    mk = eng.new_order
    eng.submit(mk(symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=50, qty=3))
    fok = mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="FOK", price=50, qty=4)
    assert eng.submit(fok) == [] and fok.status == "EXPIRED"
    ioc = mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="IOC", price=50, qty=4)
    assert sum(f.qty for f in eng.submit(ioc)) == 3 and ioc.status == "EXPIRED"
    mkt = mk(symbol="BTCUSDT", side=BUY, type=MARKET, tif="GTC", price=0, qty=1)
    assert eng.submit(mkt) == [] and mkt.status == "EXPIRED"


def test_depth_diffs_cover_every_update_id_once() -> None:
    eng = _engine()
    book = eng.books["BTCUSDT"]
    eng.submit(eng.new_order(symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=5, qty=1))
    d1 = book.drain_diff()
    eng.submit(eng.new_order(symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=6, qty=1))
    newest = book.update_id  # 2: a REST snapshot taken now would say lastUpdateId 2
    book.skip_ids(3)
    d2 = book.drain_diff()
    assert d1 is not None and d2 is not None
    assert (d1.first, d1.last) == (1, 1)
    # The gap is counted from the newest id handed out, not from the last diff: a client
    # holding that snapshot sees it too (U - 1 > lastUpdateId).
    assert d2.first == newest + 3 + 1 and d2.last == book.update_id
    assert d2.bids == [(6, 1)]  # the change made before the skip is not lost
    assert book.drain_diff() is None


def _run_market(seed: int) -> list[tuple[int, int]]:
    spec = symbol_spec("BTC/USDT")
    eng = Engine([Market(spec)], lambda: 0)
    mkt = SyntheticMarket(eng, [spec], FairValueModel(seed, [spec]), 0, seed, 500.0)
    mkt.seed_books()
    for _ in range(200):
        mkt.run_step()
    _, bids, asks = eng.books["BTCUSDT"].snapshot(1000)
    return bids + asks


def test_same_seed_same_market() -> None:
    assert _run_market(4) == _run_market(4)
    assert _run_market(4) != _run_market(5)


def test_two_venues_correlated_but_diverging() -> None:
    spec = symbol_spec("BTC/USDT")
    model = FairValueModel(9, [spec], venues=2)
    a = [model.value(0, "BTC/USDT", k) for k in range(0, 30000, 10)]
    b = [model.value(1, "BTC/USDT", k) for k in range(0, 30000, 10)]
    gaps = [abs(x - y) / x for x, y in zip(a, b, strict=True)]
    assert max(gaps) > 5e-4  # drifts apart now and then
    assert sum(gaps) / len(gaps) < 5e-3  # but stays close on average
    assert max(a) / min(a) > 1.001  # the common walk moves


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        VenueConfig(host="0.0.0.0")


async def test_two_venues_in_one_process_and_prompt_cancellation() -> None:
    cfgs = [VenueConfig(name="a", seed=3), VenueConfig(name="b", seed=3)]
    with trio.fail_after(10):
        async with open_venues(cfgs) as (a, b):
            assert a.port != b.port
            assert a.market.model is b.market.model
        # the block exited: both listeners are closed
        for port in (a.port, b.port):
            with pytest.raises(OSError):
                await trio.open_tcp_stream("127.0.0.1", port)


async def test_cancel_with_open_websocket_is_prompt() -> None:
    with trio.fail_after(5):
        async with open_venue(VenueConfig(seed=1)) as v:
            stream = await trio.open_tcp_stream("127.0.0.1", v.port)
            await stream.send_all(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert b"101" in await stream.receive_some(1024)
        await stream.aclose()


def test_standalone_prints_ccxt_options_and_stops_on_sigint() -> None:
    code = (
        "from actors.venues import run_sim_exchange;"
        "run_sim_exchange(ports=[0, 0], symbols=['BTC/USDT'], seed=1, rate_hz=20.0)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        assert proc.stdout is not None
        lines = [msgspec.json.decode(proc.stdout.readline()) for _ in range(2)]
        assert {ln["venue"] for ln in lines} == {"sim0", "sim1"}
        assert lines[0]["ccxt"]["urls"]["api"]["public"].startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _market(seed: int, rate: float) -> tuple[Engine, SyntheticMarket]:
    spec = symbol_spec("BTC/USDT")
    eng = Engine([Market(spec)], lambda: 0)
    mkt = SyntheticMarket(eng, [spec], FairValueModel(seed, [spec]), 0, seed, rate)
    mkt.seed_books()
    return eng, mkt


def test_synthetic_book_is_deep_both_sides_and_trades_near_fair_value() -> None:
    eng, mkt = _market(seed=8, rate=2000.0)
    spec = symbol_spec("BTC/USDT")
    book = eng.books["BTCUSDT"]
    m = book.market
    seen = 0
    for step in range(400):
        mkt.run_step()
        fair = mkt.fair(spec)
        trades = list(book.trades)[-(book.stats.count - seen) :] if book.stats.count > seen else []
        seen = book.stats.count
        for f in trades:  # no synthetic taker sweeps a side: every trade is near fair value
            assert abs(float(m.price_dec(f.price)) / fair - 1) < 0.003, (step, f.price, fair)
        if step % 20 == 0:
            _, bids, asks = book.snapshot(1000)
            assert len(bids) >= 20 and len(asks) >= 20, (step, len(bids), len(asks))
            assert abs(float(m.price_dec(bids[0][0])) / fair - 1) < 0.002
            assert abs(float(m.price_dec(asks[0][0])) / fair - 1) < 0.002
    assert seen > 100  # takers did trade


def test_resting_order_away_from_the_touch_stays_and_a_market_buy_pays_fair() -> None:
    eng, mkt = _market(seed=9, rate=2000.0)
    spec = symbol_spec("BTC/USDT")
    m = eng.markets["BTCUSDT"]
    fair = mkt.fair(spec)
    price = m.to_price_units(Decimal(str(round(fair * (1 - 0.004), 2))))  # 40 bps under fair
    mine = eng.new_order(
        symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=price, qty=100, account="me"
    )
    eng.submit(mine)
    for _ in range(300):
        mkt.run_step()
    assert mine.status == "NEW" and mine.order_id in eng.live
    # a market buy of ten makers' worth fills close to fair value, not at half of it
    buy = eng.new_order(symbol="BTCUSDT", side=BUY, type=MARKET, tif="GTC", price=0, qty=50_000)
    fills = eng.submit(buy)
    assert buy.status == "FILLED"
    worst = max(float(m.price_dec(f.price)) for f in fills)
    assert worst / mkt.fair(spec) - 1 < 0.005


async def test_market_loop_yields_while_working_through_a_high_rate() -> None:
    from actors.venues.config import MAX_RATE_HZ
    from actors.venues.synthetic import CHUNK_EVENTS, MAX_EVENTS_PER_STEP

    _, mkt = _market(seed=3, rate=MAX_RATE_HZ)
    others = 0

    async def other_task() -> None:
        nonlocal others
        while True:
            await trio.lowlevel.checkpoint()
            others += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_task)
        await trio.lowlevel.checkpoint()
        before = mkt.events
        await mkt.run_step_chunked()
        nursery.cancel_scope.cancel()
    assert mkt.events - before == MAX_EVENTS_PER_STEP  # capped, not rate * step
    # the other task ran between the chunks: the loop was never held for a whole step
    assert others >= MAX_EVENTS_PER_STEP // CHUNK_EVENTS // 2


def test_rates_are_bounded() -> None:
    with pytest.raises(ValueError, match="rate_hz"):
        VenueConfig(rate_hz=1e8)
    with pytest.raises(ValueError, match="rate_hz"):
        VenueConfig(rate_hz=float("nan"))
    with pytest.raises(ValueError, match="IPv6"):
        VenueConfig(host="::1")
    with pytest.raises(ValueError, match="protocol"):
        VenueConfig(protocol="kraken")  # type: ignore[arg-type]


def test_generated_credentials_differ_per_run() -> None:
    a, b = VenueConfig(api_key=None, secret=None), VenueConfig(api_key=None, secret=None)
    assert a.api_key and a.secret and a.api_key != b.api_key and a.secret != b.secret
    assert a.control_token != b.control_token  # always generated unless given


def test_candles_aggregate_and_carry_the_close_over_quiet_intervals() -> None:
    from actors.venues.candles import Candles

    c = Candles()
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % 300_000
    c.add(t0 + 1_000, 100, 2, 200, 1, True)
    c.add(t0 + 30_000, 110, 1, 110, 2, False)
    c.add(t0 + 180_000, 90, 1, 90, 3, True)  # two quiet minutes in between
    rows = c.series(60_000, None, t0 + 200_000)
    assert [r.open_ms - t0 for r in rows] == [0, 60_000, 120_000, 180_000]
    first = rows[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (100, 110, 100, 110, 3)
    assert (first.count, first.first_id, first.last_id, first.taker_buy_volume) == (2, 1, 2, 2)
    assert [(r.open, r.close, r.volume) for r in rows[1:3]] == [(110, 110, 0)] * 2
    five = c.series(300_000, None, t0 + 200_000)
    assert len(five) == 1 and five[0].volume == 4 and five[0].close == 90


def test_okx_reports_a_taker_matching_several_levels_as_partially_filled_never_canceled() -> None:
    # Events go out during matching, before the taker rests or ends: a partly filled taker
    # between two levels is live at OKX ("partially_filled"), not "canceled".
    from actors.venues.okx.shapes import state

    seen: list[tuple[str, str]] = []

    class Listener:
        def on_fill(self, fill: object) -> None: ...
        def on_match_done(self, *args: object) -> None: ...
        def on_top_change(self, book: object) -> None: ...

        def on_order_event(self, order: object, exec_type: str, fill: object) -> None:
            if order is taker:
                seen.append((exec_type, state(order)))  # type: ignore[arg-type]

    eng = _engine()
    eng.listener = Listener()  # type: ignore[assignment]
    mk = eng.new_order
    eng.submit(mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="GTC", price=100, qty=2))
    eng.submit(mk(symbol="BTCUSDT", side=SELL, type=LIMIT, tif="GTC", price=101, qty=2))
    taker = mk(symbol="BTCUSDT", side=BUY, type=LIMIT, tif="GTC", price=101, qty=3, account="me")
    eng.submit(taker)
    assert seen[-1] == ("TRADE", "filled")
    assert ("TRADE", "partially_filled") in seen
    assert all(okx_state != "canceled" for _, okx_state in seen), seen
