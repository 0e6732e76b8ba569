"""Risk sees the whole desk: an order never trades against the desk's own resting order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from actors.trading.messages import OrderStatus, RejectReason, RiskRejected
from actors.trading.risk import RiskLimits
from actors.venues import VenueConfig, open_venue
from tests.trading.e2e_helpers import (
    FROZEN,
    frozen_book,
    journal_vs_venue,
    price_of,
    running_desk,
    wait_for,
)

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"


@pytest.mark.parametrize("policy", ["reject", "cancel_resting", "cancel_both"])
async def test_a_buy_crossing_our_resting_sell_follows_the_policy(
    tmp_path: Path, policy: str
) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=51, rate_hz=30.0, symbols=(SYM,))) as venue:
        limits = RiskLimits(self_trade=policy)  # type: ignore[arg-type]
        async with running_desk([venue], journal, limits=limits, **FROZEN(journal)) as desk:
            view = await frozen_book(desk, venue)
            bid, ask = view.snapshot.bids[0][0], view.snapshot.asks[0][0]
            inside = price_of((bid + ask) / 2)
            assert bid < float(inside) < ask
            # Our sell inside the spread is the best ask: a buy at its price would hit it.
            sell = await desk.submit(venue="sim", symbol=SYM, side="sell",
                                     amount=Decimal("0.001"), price=inside)  # fmt: skip
            assert isinstance(sell, str)

            async def status(cid: str) -> OrderStatus:
                return (await desk.orders())[cid].status

            await wait_for(lambda: _is(status(sell), OrderStatus.OPEN))
            buy = await desk.submit(venue="sim", symbol=SYM, side="buy",
                                    amount=Decimal("0.001"), price=inside)  # fmt: skip
            if policy == "cancel_resting":
                assert isinstance(buy, str)
                # The resting sell is cancelled first; the buy then rests at the bid.
                await wait_for(lambda: _is(status(buy), OrderStatus.OPEN))
                assert await status(sell) is OrderStatus.CANCELLED
            else:
                assert isinstance(buy, RiskRejected) and buy.reason is RejectReason.SELF_TRADE
                want = OrderStatus.CANCELLED if policy == "cancel_both" else OrderStatus.OPEN
                await wait_for(lambda: _is(status(sell), want))
            venue_orders = {o.client_id: o for o in venue.engine.account_orders.values()}
            assert venue_orders[sell].executed == 0  # never traded against ourselves
        assert journal_vs_venue(journal, venue) == []


async def _is(value, want) -> bool:  # type: ignore[no-untyped-def]
    return (await value) is want


async def test_an_order_cancelled_while_parked_ends_for_its_strategy_too(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=52, rate_hz=30.0, symbols=(SYM,))) as venue:
        limits = RiskLimits(self_trade="cancel_resting")
        async with running_desk([venue], journal, limits=limits, **FROZEN(journal)) as desk:
            view = await frozen_book(desk, venue)
            bid, ask = view.snapshot.bids[0][0], view.snapshot.asks[0][0]
            inside = price_of((bid + ask) / 2)
            order = {"venue": "sim", "symbol": SYM, "amount": Decimal("0.001"), "price": inside}
            sell = await desk.submit(side="sell", **order)
            assert isinstance(sell, str)
            probe = desk.peek("/strategies/probe")
            await wait_for(lambda: probe.orders.get(sell).status is OrderStatus.OPEN)
            venue.faults.add_latency(3.0)  # the resting sell's cancel takes a while
            buy = await desk.submit(side="buy", **order)  # parked until the sell has ended
            assert isinstance(buy, str) and {o.client_order_id for o in probe.open_orders()} == {
                sell,
                buy,
            }
            await desk.ref("/strategies/probe").ask(("cancel", buy))
            # It never left the router: the strategy hears of its end from the router.
            await wait_for(lambda: probe.orders.get(buy).status is OrderStatus.CANCELLED)
            assert (await desk.orders())[buy].status is OrderStatus.CANCELLED
            venue.faults.add_latency(0.0)
            await wait_for(lambda: not probe.open_orders(), timeout=20.0)
            assert buy not in {o.client_id for o in venue.engine.account_orders.values()}
