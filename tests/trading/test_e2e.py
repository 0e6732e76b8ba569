"""End to end on the embedded venue over loopback, real ccxt.pro, no mocks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.trading.config import DeskOptions, StrategySpec
from actors.trading.messages import OrderStatus, RejectReason, RiskRejected
from actors.trading.protocol import GetConsolidated, ReconcileVenue
from actors.venues import VenueConfig, open_venue, open_venues
from tests.trading.e2e_helpers import (
    book_matches_venue,
    price_of,
    rest_ask,
    running_desk,
    sweep_bids,
    wait_for,
)

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"


async def test_intent_flows_to_venue_and_fills_update_positions(tmp_path: Path) -> None:
    async with (
        open_venue(VenueConfig(seed=3, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite"), quiet_ok=True) as desk,
    ):
        view = await wait_for(lambda: _two_sided(desk), timeout=20.0)
        # Frozen, with enough offered at the best ask that the IOC buy must fill in full.
        venue.pause_market()
        ask = price_of(view.snapshot.asks[0][0])
        rest_ask(venue, SYM, ask, Decimal("0.002"))
        cid = await desk.submit(
            venue="sim",
            symbol=SYM,
            side="buy",
            amount=Decimal("0.002"),
            price=ask,
            time_in_force="IOC",
        )
        assert isinstance(cid, str)
        orders = await wait_for(lambda: _terminal(desk, cid), timeout=10.0)
        assert orders[cid].status is OrderStatus.FILLED
        risk = await wait_for(lambda: _position(desk, Decimal("0.002")), timeout=10.0)
        assert risk.positions[SYM] == Decimal("0.002")
        venue_order = venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", cid)]
        assert venue_order.status == "FILLED"


async def _two_sided(desk) -> Any:  # type: ignore[no-untyped-def]
    view = await desk.wait_fresh("sim", SYM)
    snapshot = view.snapshot
    return view if snapshot is not None and snapshot.bids and snapshot.asks else None


async def _terminal(desk, cid):  # type: ignore[no-untyped-def]
    orders = await desk.orders()
    return (
        orders
        if cid in orders
        and orders[cid].status
        in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED)
        else None
    )


async def _position(desk, qty):  # type: ignore[no-untyped-def]
    risk = await desk.risk()
    return risk if risk.positions.get(SYM) == qty else None


def _restarts(desk, path: str) -> int:  # type: ignore[no-untyped-def]
    return desk.system.stats()[path].restarts


async def _stale(desk) -> bool:  # type: ignore[no-untyped-def]
    return (await desk.book("sim", SYM)).stale


async def _stale_episodes(desk, at_least: int) -> bool:  # type: ignore[no-untyped-def]
    return (await desk.book("sim", SYM)).stale_episodes >= at_least


async def _limit_far(desk, side: str = "buy", off: float = 0.002, freeze=None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """An order ``off`` away from the touch; with ``freeze`` (a venue), its market is paused
    once the book is two-sided, so nothing can fill the order but the test."""
    view = await wait_for(lambda: _two_sided(desk), timeout=20.0)
    if freeze is not None:
        freeze.pause_market()
    assert view.snapshot is not None
    bid, ask = view.snapshot.bids[0][0], view.snapshot.asks[0][0]
    price = bid * (1 - off) if side == "buy" else ask * (1 + off)
    return {
        "venue": "sim",
        "symbol": SYM,
        "side": side,
        "amount": Decimal("0.001"),
        "price": price_of(price),
    }


@pytest.mark.parametrize("fault", ["desync", "stall"])
async def test_market_data_crash_restarts_only_the_feed_and_refuses_orders_meanwhile(
    tmp_path: Path, fault: str
) -> None:
    async with (
        open_venue(VenueConfig(seed=4, rate_hz=60.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite")) as desk,
    ):
        await desk.wait_fresh("sim", SYM)
        order = await _limit_far(desk)
        if fault == "desync":
            # The gap crashes the feed at once; it may well be back before we look, so wait
            # for the count of stale episodes, not for the moment.
            venue.faults.skip_update_ids(SYM, 5)
            await wait_for(lambda: _stale_episodes(desk, 1), timeout=20.0)
            await wait_for(lambda: _restarts(desk, "/market/sim") >= 1, timeout=20.0)
        # Silent streams keep the book stale (every reconnect meets the same silence) until
        # the test resumes them: the refusal below does not depend on the scheduler's luck.
        venue.faults.stall_streams(600.0)
        await wait_for(lambda: _stale(desk), timeout=20.0)
        refused = await desk.submit(**order)
        assert isinstance(refused, RiskRejected)
        assert refused.reason is RejectReason.STALE_BOOK
        await wait_for(lambda: _restarts(desk, "/market/sim") >= 1, timeout=20.0)
        venue.faults.resume_streams()
        view = await desk.wait_fresh("sim", SYM, timeout=30.0)
        # The restarted feed took the venue's markets from its predecessor: one fetch.
        markets = desk.peek("/market/sim").markets
        assert (markets.fetches, markets.reuses >= 1) == (1, True)
        # In sync again: with the market paused, our copy equals the venue's own book.
        venue.pause_market()
        await wait_for(lambda: book_matches_venue(desk, venue, SYM), timeout=10.0)
        venue.resume_market()
        assert view.rejected >= 0
        # Only the feed restarted: the private session, router, risk and books did not.
        for path in ("/exec/sim", "/router", "/risk", "/books/sim/BTC-USDT", "/journal"):
            assert _restarts(desk, path) == 0, path
        cid = await desk.submit(**await _limit_far(desk))
        assert isinstance(cid, str)
        await desk.verify(hit=["sim"])


async def _venue_orders(venue, cid: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [o for o in venue.engine.account_orders.values() if o.client_id == cid]


@pytest.mark.parametrize(
    ("mode", "streams", "entry"),
    [
        ("error_after", False, "ws"),
        ("timeout_after", False, "ws"),
        ("error_after", True, "ws"),
        ("timeout_after", False, "rest"),
    ],
)
async def test_5xx_or_timeout_after_accept_is_unknown_then_reconciled_once(
    tmp_path: Path, mode: str, streams: bool, entry: str
) -> None:
    # Without user streams the 5xx is the only news, so UNKNOWN is certain; with them the
    # stream's ack may beat the 5xx (then UNKNOWN is skipped, rightly): either way one order.
    async with (
        open_venue(VenueConfig(seed=5, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue],
            str(tmp_path / "j.sqlite"),
            venue_overrides={"user_streams": streams, "order_entry": entry},
            quiet_ok=True,
        ) as desk,
    ):
        order = await _limit_far(desk, freeze=venue)
        venue.faults.fail_next_order(mode, status=503, hold_s=4.0)
        cid = await desk.submit(**order)
        assert isinstance(cid, str)
        seen: set[OrderStatus] = set()

        async def opened() -> bool:
            view = (await desk.orders())[cid]
            seen.add(view.status)
            return view.status is OrderStatus.OPEN

        await wait_for(opened, timeout=30.0, poll=0.005)
        if not streams:
            assert OrderStatus.UNKNOWN in seen
        assert len(await _venue_orders(venue, cid)) == 1
        assert venue.entry.requests[f"{entry}.place"] == 1  # the path under test served it
        # A venue's answer (a 5xx, -1007, no answer in time) is not a lost socket.
        assert desk.peek("/exec/sim").entry.fallbacks == 0
        # Later reconciliations change nothing and never resubmit.
        before = await desk.ref("/router").ask(ReconcileVenue(venue=None))
        after = await desk.ref("/router").ask(ReconcileVenue(venue=None))
        assert after >= before
        assert len(await _venue_orders(venue, cid)) == 1
        assert (await desk.orders())[cid].status is OrderStatus.OPEN
        await desk.verify(hit=["sim"])


@pytest.mark.parametrize(
    ("mode", "entry"),
    [("error_before", "ws"), ("timeout_before", "ws"), ("error_before", "rest")],
)
async def test_error_or_timeout_before_accept_is_rejected_after_grace(
    tmp_path: Path, mode: str, entry: str
) -> None:
    async with (
        open_venue(VenueConfig(seed=6, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk(
            [venue], str(tmp_path / "j.sqlite"), venue_overrides={"order_entry": entry}
        ) as desk,
    ):
        order = await _limit_far(desk)
        # A time-out: the venue holds the reply past the desk's 2 s submit timeout.
        venue.faults.fail_next_order(mode, status=502, hold_s=3.0)
        cid = await desk.submit(**order)

        async def rejected() -> bool:
            return (await desk.orders())[cid].status is OrderStatus.REJECTED

        await wait_for(rejected, timeout=30.0)
        assert (await desk.orders())[cid].reason == "never reached venue"
        assert await _venue_orders(venue, cid) == []
        assert venue.entry.requests[f"{entry}.place"] == 1
        await desk.verify(hit=["sim"])


@pytest.mark.parametrize("kind", ["truncated", "garbage", "wrong_types"])
async def test_malformed_frames_are_counted_never_crash(tmp_path: Path, kind: str) -> None:
    async with (
        open_venue(VenueConfig(seed=7, rate_hz=60.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite")) as desk,
    ):
        await desk.wait_fresh("sim", SYM)
        before = desk.budgets["sim"].malformed_frames
        assert venue.faults.send_malformed_frame(kind) >= 1
        if kind != "wrong_types":
            # wrong_types is valid JSON that ccxt's binance class skips without an error.
            await wait_for(lambda: desk.budgets["sim"].malformed_frames > before, timeout=20.0)
        # The feed keeps running and the book keeps updating.
        updates = (await desk.book("sim", SYM)).updates
        await wait_for(lambda: _more_updates(desk, updates), timeout=20.0)
        assert _restarts(desk, "/market/sim") == 0
        assert not (await desk.book("sim", SYM)).stale
        await desk.verify()  # no restart anywhere, the book equals the venue's


async def _more_updates(desk, n: int) -> bool:  # type: ignore[no-untyped-def]
    return (await desk.book("sim", SYM)).updates > n + 3


async def test_429_pauses_everyone_until_retry_after(tmp_path: Path) -> None:
    async with (
        open_venue(VenueConfig(seed=8, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite"), quiet_ok=True) as desk,
    ):
        venue_arrivals: dict[str | None, float] = {}
        venue.on_order_received = lambda _key, cid, _t: venue_arrivals.setdefault(
            cid, trio.current_time()
        )
        order = await _limit_far(desk, freeze=venue)
        venue.faults.rate_limit_next(1, retry_after=1)
        first = await desk.submit(**order)

        async def done(cid: str) -> OrderStatus | None:
            status = (await desk.orders())[cid].status
            return status if status in (OrderStatus.REJECTED, OrderStatus.OPEN) else None

        assert await wait_for(lambda: done(first), timeout=20.0) is OrderStatus.REJECTED
        budget = desk.budgets["sim"]
        assert budget.pauses == 1
        pause_ends = budget.paused_until  # a second after the 429 reached the desk
        second = await desk.submit(**await _limit_far(desk, freeze=venue))
        assert await wait_for(lambda: done(second), timeout=20.0) is OrderStatus.OPEN
        # Everyone on this venue waited: the second order reached the venue only once the
        # Retry-After had passed (trio's clock, stamped by the venue's order hook).
        placed = (await _venue_orders(venue, second))[0]
        assert placed.client_id == second
        assert venue_arrivals[second] >= pause_ends
        await desk.verify()


async def test_best_price_routing_for_intents_without_a_venue(tmp_path: Path) -> None:
    configs = [
        VenueConfig(name="a", seed=21, rate_hz=40.0, symbols=(SYM,)),
        VenueConfig(name="b", seed=21, rate_hz=40.0, symbols=(SYM,)),
    ]
    async with (
        open_venues(configs) as venues,
        running_desk(venues, str(tmp_path / "j.sqlite"), quiet_ok=True) as desk,
    ):
        for v in venues:
            await desk.wait_fresh(v.config.name, SYM)
            v.pause_market()

        async def books_caught_up() -> bool:
            for v in venues:
                view = await desk.book(v.config.name, SYM)
                published = v.book(SYM)["publishedUpdateId"]
                if view.snapshot is None or view.snapshot.nonce != published:
                    return False
            return True

        await wait_for(books_caught_up, timeout=10.0)  # the last updates reached the books
        consolidated = await desk.ref("/consolidated/BTC-USDT").ask(GetConsolidated())
        assert set(consolidated.venues) == {"a", "b"}
        buy = await desk.submit(
            venue=None,
            symbol=SYM,
            side="buy",
            amount=Decimal("0.001"),
            price=price_of(consolidated.bid * 0.999),
        )
        sell = await desk.submit(
            venue=None,
            symbol=SYM,
            side="sell",
            amount=Decimal("0.001"),
            price=price_of(consolidated.ask * 1.001),
        )

        async def routed() -> bool:
            orders = await desk.orders()
            return all(orders[c].status is OrderStatus.OPEN for c in (buy, sell))

        await wait_for(routed, timeout=10.0)
        orders = await desk.orders()
        # A buy goes where the offer is lowest, a sell where the bid is highest.
        assert orders[buy].venue == consolidated.ask_venue
        assert orders[sell].venue == consolidated.bid_venue


async def test_market_maker_quotes_on_the_venue_and_cancels_on_shutdown(tmp_path: Path) -> None:
    params = {"venue": "sim", "symbol": SYM, "amount": "0.001", "spread_bps": 8,
              "tolerance_bps": 1, "min_requote_interval": 0.1}  # fmt: skip
    mm = StrategySpec("mm", "actors.trading.strategies.market_maker:MarketMaker", params)
    options = DeskOptions(journal_path=str(tmp_path / "j.sqlite"), cancel_on_shutdown=True)
    async with open_venue(VenueConfig(seed=22, rate_hz=60.0, symbols=(SYM,))) as venue:
        key = venue.config.api_key
        async with running_desk(
            [venue], options.journal_path, strategies=[mm], options=options
        ) as desk:
            await wait_for(lambda: len(venue.engine.open_orders(key, None)) == 2, timeout=30.0)

            def placed() -> list[Any]:
                return [o for o in venue.engine.account_orders.values() if o.account == key]

            # Move the mid for sure: a seller takes every bid down to just below our quote.
            venue.pause_market()
            [bid] = [o for o in venue.engine.open_orders(key, None) if o.side == "BUY"]
            m = venue.market_of(SYM)
            sweep_bids(venue, SYM, m.price_dec(bid.price) * Decimal("0.999"))
            venue.resume_market()
            await wait_for(lambda: len(placed()) > 2, timeout=30.0)  # it requoted
            assert all(o.client_id.startswith("ax2mm") for o in placed())
            live = venue.engine.open_orders(key, None)
            assert {o.side for o in live} <= {"BUY", "SELL"} and len(live) <= 4
            mid = (await desk.book("sim", SYM)).snapshot
            assert mid is not None
        # Shutdown cancelled every open quote.
        assert venue.engine.open_orders(key, None) == []
