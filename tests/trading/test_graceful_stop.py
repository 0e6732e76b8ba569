"""A graceful stop is graceful: cancels and their outcomes land in the journal, in time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from actors.trading.messages import OrderStatus
from actors.trading.shutdown import ShutdownReport
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
ROUTER_GRACE = 15.0  # the router's ChildSpec.shutdown_grace (desk_specs' default)


async def rest_orders(desk, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` buys resting well below the bid of a frozen market; once all are OPEN."""
    view = await frozen_book(desk, desk.venues[0])
    bid = view.snapshot.bids[0][0]
    cids = []
    for i in range(count):
        cid = await desk.submit(
            venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"),
            price=price_of(bid * (0.97 - i * 0.001)),
        )  # fmt: skip
        assert isinstance(cid, str), cid
        cids.append(cid)

    async def all_open() -> bool:
        orders = await desk.orders()
        return all(orders[c].status is OrderStatus.OPEN for c in cids)

    await wait_for(all_open, timeout=15.0)
    return cids


@pytest.mark.parametrize("latency", [0.0, 3.0])
async def test_stop_cancels_waits_for_outcomes_and_journal_matches_venue(
    tmp_path: Path, latency: float
) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal, cancel_on_shutdown=True)
    frozen["venue_overrides"]["submit_timeout"] = 2.0 + 2 * latency  # a slow venue, not a dead one
    report = ShutdownReport()
    async with open_venue(VenueConfig(seed=41, rate_hz=30.0, symbols=(SYM,))) as venue:
        async with running_desk([venue], journal, report=report, **frozen) as desk:
            cids = await rest_orders(desk, 3)
            venue.faults.add_latency(latency)
            system = desk.system
            started = trio.current_time()
        stopped_in = trio.current_time() - started
        venue.faults.reset()
        # Every cancel was answered and journaled before the router stopped...
        assert report.stopped and report.open_orders == []
        assert stopped_in < ROUTER_GRACE, stopped_in
        # ...nothing was dead-lettered on the way down...
        assert system.dead_letters == 0, {
            p: s.dead_letters for p, s in system.all_stats().items() if s.dead_letters
        }
        # ...and the journal says what the venue says.
        assert journal_vs_venue(journal, venue) == []
        statuses = {o.client_id: o.status for o in venue.engine.account_orders.values()}
        assert [statuses[c] for c in cids] == ["CANCELED"] * 3


async def test_orders_left_open_are_reported(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal, cancel_on_shutdown=False)
    report = ShutdownReport()
    async with open_venue(VenueConfig(seed=42, rate_hz=30.0, symbols=(SYM,))) as venue:
        async with running_desk([venue], journal, report=report, **frozen) as desk:
            cids = await rest_orders(desk, 2)
        assert sorted(report.open_orders) == sorted(f"sim:{c} OPEN" for c in cids)
        assert journal_vs_venue(journal, venue) == []
