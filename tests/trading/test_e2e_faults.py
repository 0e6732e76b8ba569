"""Dropped and silently dead websockets, liveness of the private session, tickers: end to end.

A desk on real ccxt.pro over trio-asyncio against the embedded venue on loopback, no mocks.
Fills "while we were not listening" are made by a synthetic seller on the venue's engine
(:func:`sweep_bids`), synchronously, so the test decides exactly when the venue trades.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.trading.config import VenueSpec
from actors.trading.messages import Fill, OrderStatus, Ticker, decode, encode
from actors.trading.protocol import ReconcileVenue
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import (
    Desk,
    book_matches_venue,
    price_of,
    running_desk,
    sweep_bids,
    wait_for,
)

SYM = "BTC/USDT"
AMOUNT = Decimal("0.001")
UNTOUCHED = ("/router", "/risk", "/books/sim/BTC-USDT", "/journal", "/strategies/probe")


# --- helpers -------------------------------------------------------------------------------


async def _rest_a_buy(
    desk: Desk, off: float = 0.0005, *, freeze: Venue | None = None
) -> tuple[str, Decimal]:
    """Rest a limit buy ``off`` below the best bid and wait until the router has it OPEN.

    With ``freeze``, that venue's market runs until the book is fresh and two-sided, then is
    paused before the order is sent, so nothing but the test can fill it (it stays paused;
    the next ``_rest_a_buy`` resumes it first). A desk that should not take a frozen market
    for a stalled feed runs with ``running_desk(..., quiet_ok=True)``.
    """
    if freeze is not None:
        freeze.resume_market()
    # A sweep may have emptied the bid side for a moment: wait until makers refilled it.
    view = await wait_for(lambda: _two_sided(desk), timeout=20.0)
    if freeze is not None:
        freeze.pause_market()
    price = price_of(view.snapshot.bids[0][0] * (1 - off))
    cid = await desk.submit(venue="sim", symbol=SYM, side="buy", amount=AMOUNT, price=price)
    assert isinstance(cid, str), cid
    await wait_for(lambda: _status_is(desk, cid, OrderStatus.OPEN), timeout=20.0)
    return cid, price


async def _two_sided(desk: Desk) -> Any:
    view = await desk.wait_fresh("sim", SYM)
    snapshot = view.snapshot
    return view if snapshot is not None and snapshot.bids and snapshot.asks else None


async def _status_is(desk: Desk, cid: str, status: OrderStatus) -> bool:
    view = (await desk.orders()).get(cid)
    return view is not None and view.status is status


async def _position_is(desk: Desk, qty: Decimal) -> bool:
    return (await desk.risk()).positions.get(SYM, Decimal(0)) == qty


async def _journaled_fills(desk: Desk, cid: str) -> list[Fill]:
    return [m for m in await desk.journal() if isinstance(m, Fill) and m.client_order_id == cid]


async def _probe_fills(desk: Desk, cid: str) -> list[Fill]:
    _, _, fills = await desk.ref("/strategies/probe").ask("log")
    return [f for f in fills if f.client_order_id == cid]


async def _counted_once(desk: Desk, cid: str, total: Decimal) -> None:
    """The fill of ``cid`` is in the journal, the strategy and the position exactly once."""
    journaled = await _journaled_fills(desk, cid)
    assert len(journaled) == len({f.trade_id for f in journaled}) >= 1, journaled
    assert sum(f.amount for f in journaled) == AMOUNT
    probe = await _probe_fills(desk, cid)
    assert sorted(f.trade_id for f in probe) == sorted(f.trade_id for f in journaled)
    assert (await desk.risk()).positions[SYM] == total


def _venue_balance(venue: Venue, asset: str) -> float:
    account = venue.account()
    return float(account.free[asset] + account.locked[asset])


async def _assert_in_sync(desk: Desk, venue: Venue) -> None:
    venue.pause_market()
    try:
        await wait_for(lambda: book_matches_venue(desk, venue, SYM), timeout=10.0)
    finally:
        venue.resume_market()


# --- 1. dropped websockets -----------------------------------------------------------------


@pytest.mark.e2e
async def test_dropped_websockets_are_resubscribed_in_place_and_a_missed_fill_counts_once(
    tmp_path: Path,
) -> None:
    # Liveness checks off: this test is about the drop path alone.
    async with (
        open_venue(VenueConfig(seed=31, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue], str(tmp_path / "j.sqlite"), venue_overrides={"liveness_interval": 0}
        ) as desk,
    ):
        cid, price = await _rest_a_buy(desk, freeze=venue)
        episodes = (await desk.book("sim", SYM)).stale_episodes
        before = {p: desk.restarts(p) for p in ("/market/sim", "/exec/sim", *UNTOUCHED)}
        assert all(n == 0 for n in before.values()), before
        reconciled = desk.peek("/router").reconciliations

        # Market streams and the ws-api user stream all close; in the same instant (nobody
        # has reconnected yet) the venue fills our order: no stream can report that fill.
        assert venue.faults.drop_websockets() >= 2
        assert sweep_bids(venue, SYM, price) >= AMOUNT
        assert venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", cid)].status == "FILLED"

        # The book goes stale; the feed and the session resubscribe in place (no restart:
        # no backoff, no new ccxt instance)...
        await wait_for(lambda: _went_stale(desk, episodes), timeout=10.0)
        await wait_for(lambda: desk.peek("/market/sim").resubscribes >= 1, timeout=10.0)
        await wait_for(lambda: desk.peek("/exec/sim").resubscribes >= 1, timeout=10.0)
        # Counted per venue for the run summary: the feed's and the session's, one budget.
        assert desk.peek("/exec/sim").budget is desk.peek("/market/sim").budget
        assert desk.peek("/market/sim").budget.resubscribes >= 2

        # ...the session's new subscription is confirmed and the router reconciles: FILLED,
        # once.
        await wait_for(lambda: _status_is(desk, cid, OrderStatus.FILLED), timeout=15.0)
        await wait_for(lambda: _position_is(desk, AMOUNT), timeout=10.0)
        assert desk.peek("/router").reconciliations > reconciled
        await _counted_once(desk, cid, AMOUNT)
        # Balances were reconciled too: the router holds the venue's post-fill balances.
        router = desk.peek("/router")
        await wait_for(
            lambda: router.balances["sim"].total.get("BTC") == _venue_balance(venue, "BTC"),
            timeout=10.0,
        )
        assert router.balances["sim"].total["USDT"] == _venue_balance(venue, "USDT")

        # The book is back in sync with the venue's own book.
        venue.resume_market()
        await desk.wait_fresh("sim", SYM, timeout=30.0)
        await _assert_in_sync(desk, venue)

        # Another reconciliation (asked explicitly) changes nothing: still exactly once.
        await desk.ref("/router").ask(ReconcileVenue(venue="sim"), timeout=20.0)
        await _counted_once(desk, cid, AMOUNT)

        assert len(desk.peek("/exec/sim")._stream_scopes) == 3  # one set of user streams
        # Nothing restarted; the session takes orders again.
        for path in ("/market/sim", "/exec/sim", *UNTOUCHED):
            assert desk.restarts(path) == 0, (path, desk.last_crash(path))
        again, _ = await _rest_a_buy(desk, freeze=venue)
        assert venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", again)].status == "NEW"
        # Tickers are off by default: no ticker stream was subscribed.
        assert not [s for s in venue.hub.by_stream if s.endswith(("@ticker", "@miniTicker"))]
        await desk.verify(hit=["sim"])


async def _went_stale(desk: Desk, episodes: int) -> bool:
    # A count, not a moment: the feed may be back before a poll lands in the stale window.
    return (await desk.book("sim", SYM)).stale_episodes > episodes


# --- 2. a silently dead user stream --------------------------------------------------------


@pytest.mark.e2e
async def test_silent_user_stream_is_caught_by_the_liveness_check_and_reconciled(
    tmp_path: Path,
) -> None:
    interval = 0.3
    async with (
        open_venue(VenueConfig(seed=32, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue],
            str(tmp_path / "j.sqlite"),
            venue_overrides={"liveness_interval": interval},
            quiet_ok=True,
        ) as desk,
    ):
        cid, price = await _rest_a_buy(desk, freeze=venue)
        # The user stream goes quiet with its socket open (and answering pings); the fill
        # the venue then makes is held on that socket and never reaches us through it.
        assert venue.faults.stall_user_streams(120.0) == 1
        assert sweep_bids(venue, SYM, price) >= AMOUNT

        # Two liveness checks in a row see the router's OPEN order gone from the venue.
        await wait_for(lambda: desk.restarts("/exec/sim") >= 1, timeout=20.0)
        crash = desk.last_crash("/exec/sim")
        assert "UserStreamStale" in crash and cid in crash and "not open at the venue" in crash
        # The new session's subscription is on a new socket (the stall held only the old
        # one), so it is confirmed, and the router reconciles: FILLED, counted once.
        await wait_for(lambda: _status_is(desk, cid, OrderStatus.FILLED), timeout=15.0)
        await wait_for(lambda: _position_is(desk, AMOUNT), timeout=10.0)
        await _counted_once(desk, cid, AMOUNT)
        assert venue.faults.state()["user_streams_stalled"] == 0  # the dead socket is gone
        # The market feed never noticed; nothing else restarted.
        assert desk.restarts("/market/sim") == 0, desk.last_crash("/market/sim")
        for path in UNTOUCHED:
            assert desk.restarts(path) == 0, (path, desk.last_crash(path))
        # The new stream is live: the next fill arrives through it, with no more restarts.
        restarts = desk.restarts("/exec/sim")
        second, price = await _rest_a_buy(desk, freeze=venue)
        sweep_bids(venue, SYM, price)
        await wait_for(lambda: _status_is(desk, second, OrderStatus.FILLED), timeout=20.0)
        await wait_for(lambda: _position_is(desk, AMOUNT * 2), timeout=20.0)
        assert desk.restarts("/exec/sim") == restarts
        await desk.verify(hit=["sim"])


@pytest.mark.e2e
async def test_liveness_check_passes_a_quiet_account_and_a_live_stream(tmp_path: Path) -> None:
    interval = 0.2
    async with (
        open_venue(VenueConfig(seed=33, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue],
            str(tmp_path / "j.sqlite"),
            venue_overrides={"liveness_interval": interval},
            quiet_ok=True,
        ) as desk,
    ):
        session = desk.peek("/exec/sim")
        # A live stream with fills between the checks: the router keeps up, no suspect sticks.
        for n in range(1, 4):
            await _fill_after_checks(desk, venue, session, AMOUNT * n)
        # A silent stream on an account where nothing happens is not a failure: with an
        # order resting untouched (the market paused, so truly nothing trades), many checks
        # pass without a restart.
        quiet, _ = await _rest_a_buy(desk, off=0.02, freeze=venue)
        venue.faults.stall_user_streams(120.0)
        checks = session.liveness_checks
        await wait_for(lambda: session.liveness_checks >= checks + 8, timeout=30.0)
        assert desk.restarts("/exec/sim") == 0, desk.last_crash("/exec/sim")
        assert venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", quiet)].status == "NEW"


async def _fill_after_checks(desk: Desk, venue: Venue, session: Any, total: Decimal) -> None:
    """Rest a buy, let two checks see it OPEN, fill it; the stream reports it, position moves.

    The market is frozen meanwhile: only the test's own sweep may fill the order.
    """
    cid, price = await _rest_a_buy(desk, freeze=venue)
    checks = session.liveness_checks
    await wait_for(lambda: session.liveness_checks >= checks + 2, timeout=20.0)
    assert await _status_is(desk, cid, OrderStatus.OPEN)
    sweep_bids(venue, SYM, price)
    await wait_for(lambda: _status_is(desk, cid, OrderStatus.FILLED), timeout=20.0)
    await wait_for(lambda: _position_is(desk, total), timeout=20.0)


@pytest.mark.e2e
async def test_failed_liveness_probe_restarts_the_session(tmp_path: Path) -> None:
    async with (
        open_venue(VenueConfig(seed=34, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue],
            str(tmp_path / "j.sqlite"),
            venue_overrides={"liveness_interval": 0.3},
            quiet_ok=True,
        ) as desk,
    ):
        cid, _ = await _rest_a_buy(desk, freeze=venue)
        # Signed REST requests now fail the venue's recvWindow check: the probe fails.
        venue.faults.skew_clock(+20_000)
        await wait_for(lambda: desk.restarts("/exec/sim") >= 1, timeout=20.0)
        assert "liveness probe failed" in desk.last_crash("/exec/sim")
        venue.faults.reset()
        # Once the venue answers again, the session comes back and stays up.
        await wait_for(lambda: _session_running(desk), timeout=20.0)
        session = desk.peek("/exec/sim")
        await wait_for(lambda: session.liveness_checks >= 2, timeout=20.0)
        assert await _status_is(desk, cid, OrderStatus.OPEN)
        assert desk.restarts("/market/sim") == 0
        await desk.verify(hit=["sim"])


def _session_running(desk: Desk) -> bool:
    stats = desk.system.stats()["/exec/sim"]
    return stats.state == "running" and stats.uptime is not None and stats.uptime > 0.5


def test_liveness_interval_is_validated() -> None:
    assert VenueSpec("v", {}, (SYM,), liveness_interval=0).liveness_interval == 0
    for bad in (-1.0, math.nan, math.inf, "5", True):
        with pytest.raises(ValueError, match=r"venue v: liveness_interval must be"):
            VenueSpec("v", {}, (SYM,), liveness_interval=bad)  # type: ignore[arg-type]


# --- 3. tickers ----------------------------------------------------------------------------


async def _tickers(desk: Desk) -> list[Ticker]:
    tickers: list[Ticker] = await desk.ref("/strategies/probe").ask("tickers")
    return tickers


@pytest.mark.e2e
async def test_tickers_reach_the_strategy_and_come_back_after_a_drop(tmp_path: Path) -> None:
    async with (
        open_venue(VenueConfig(seed=35, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue], str(tmp_path / "j.sqlite"), venue_overrides={"watch_tickers": True}
        ) as desk,
    ):
        first: list[Ticker] = await wait_for(lambda: _tickers(desk), timeout=10.0)
        t = first[0]
        assert (t.venue, t.symbol) == ("sim", SYM)
        assert "btcusdt@ticker" in venue.hub.by_stream  # the full 24hr ticker, not the mini
        assert t.bid is not None and t.ask is not None and t.bid < t.ask
        assert t.last is not None and t.base_volume is not None and t.timestamp_ms
        assert decode(encode(t)) == t
        assert t.high is not None and t.low is not None and t.low <= t.high
        # After a drop the feed resubscribes the tickers too.
        seen = len(await _tickers(desk))
        venue.faults.drop_websockets()
        await wait_for(lambda: desk.peek("/market/sim").resubscribes >= 1, timeout=10.0)
        await wait_for(lambda: _more_tickers(desk, seen + 2), timeout=10.0)
        assert "btcusdt@ticker" in venue.hub.by_stream


async def _more_tickers(desk: Desk, n: int) -> Any:
    return len(await _tickers(desk)) >= n
