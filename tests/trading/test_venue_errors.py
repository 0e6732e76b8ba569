"""Errors the operator can read: refused keys or clock said once, the venue marked down."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from actors.trading.messages import OrderStatus
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


async def test_wrong_keys_are_said_once_and_the_venue_is_down_not_crash_looping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal)
    frozen["venue_overrides"]["secret"] = "not-the-secret"
    async with (
        open_venue(VenueConfig(seed=71, rate_hz=30.0, symbols=(SYM,))) as venue,
        running_desk([venue], journal, **frozen) as desk,
    ):
        await desk.system.ready.wait()
        view = await frozen_book(desk, venue)  # market data needs no keys: it runs
        assert view.snapshot is not None
        session = desk.peek("/exec/sim")
        assert session.down is not None
        # An order is refused at once, with the reason the operator was given.
        cid = await desk.submit(venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"),
                                price=price_of(view.snapshot.bids[0][0] * 0.98))  # fmt: skip
        orders = await wait_for(lambda: _rejected(desk, cid))
        assert "authentication failed on venue sim" in orders[cid].reason
        await trio.sleep(1.0)  # a crash loop would restart it several times by now
        assert desk.restarts("/exec/sim") == 0
    said = [r for r in caplog.records if "authentication failed on venue sim" in r.getMessage()
            and r.levelno == logging.ERROR]  # fmt: skip
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "-1022" in said[0].getMessage() or "-2015" in said[0].getMessage()


async def test_a_skewed_clock_is_compensated_at_start_and_a_later_one_is_a_rejection(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=72, rate_hz=30.0, symbols=(SYM,))) as venue:
        venue.faults.skew_clock(120_000)  # two minutes ahead: far past the recvWindow
        async with running_desk([venue], journal, **FROZEN(journal)) as desk:
            view = await frozen_book(desk, venue)
            assert view.snapshot is not None
            assert desk.peek("/exec/sim").down is None  # measured and compensated
            price = price_of(view.snapshot.bids[0][0] * 0.98)
            ok = await desk.submit(venue="sim", symbol=SYM, side="buy",
                                   amount=Decimal("0.001"), price=price)  # fmt: skip
            await wait_for(lambda: _status(desk, ok, OrderStatus.OPEN))
            venue.faults.skew_clock(-120_000)  # the venue's clock jumps: -1021 from now on
            refused = await desk.submit(venue="sim", symbol=SYM, side="buy",
                                        amount=Decimal("0.001"), price=price)  # fmt: skip
            orders = await wait_for(lambda: _rejected(desk, refused))
            assert "-1021" in orders[refused].reason  # a rejection, never UNKNOWN
            venue.faults.reset()
        # The journal says what the venue says (invariants 1-4). The books are not compared:
        # the venue's clock jumped back 4 minutes, and a book refuses time going backwards.
        assert journal_vs_venue(journal, venue) == []


async def _rejected(desk, cid):  # type: ignore[no-untyped-def]
    orders = await desk.orders()
    return orders if orders[cid].status is OrderStatus.REJECTED else None


async def _status(desk, cid, want):  # type: ignore[no-untyped-def]
    return (await desk.orders())[cid].status is want
