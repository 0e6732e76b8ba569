"""The desk on an OKX-protocol venue: what differs from Binance is the dialect's business.

Client ids without ``-`` (OKX takes letters and digits only), lookups and cancels by ccxt's
unified ``clientOrderId``, the private stream confirmed by OKX's ``login``, OKX's error codes.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

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


async def test_unknown_after_a_5xx_is_reconciled_by_client_id_and_cancelled_on_shutdown(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal, cancel_on_shutdown=True)
    # No user stream: the 5xx is the only news, so the order is certainly UNKNOWN first.
    frozen["venue_overrides"]["user_streams"] = False
    config = VenueConfig(name="okx", protocol="okx", seed=81, rate_hz=30.0, symbols=(SYM,))
    async with open_venue(config) as venue:
        key = venue.config.api_key
        async with running_desk([venue], journal, **frozen) as desk:
            view = await frozen_book(desk, venue)
            assert view.snapshot is not None
            venue.faults.fail_next_order("error_after", status=503)
            cid = await desk.submit(venue="okx", symbol=SYM, side="buy", amount=Decimal("0.001"),
                                    price=price_of(view.snapshot.bids[0][0] * 0.98))  # fmt: skip
            assert isinstance(cid, str) and cid.isalnum()
            seen: set[OrderStatus] = set()

            async def opened() -> bool:
                status = (await desk.orders())[cid].status
                seen.add(status)
                return status is OrderStatus.OPEN

            await wait_for(opened, timeout=30.0, poll=0.005)
            assert OrderStatus.UNKNOWN in seen  # then found at OKX by its clOrdId
            [order] = [o for o in venue.engine.account_orders.values() if o.client_id == cid]
            assert (await desk.orders())[cid].venue_order_id == str(order.order_id)
        # The desk stopped: the order was cancelled at OKX by client id, and said so.
        assert venue.engine.open_orders(key, None) == []
        assert order.status == "CANCELED"
        assert journal_vs_venue(journal, venue) == []


async def test_a_wrong_okx_passphrase_is_said_once_and_the_venue_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal)
    frozen["venue_overrides"]["password"] = "not-the-passphrase"
    config = VenueConfig(name="okx", protocol="okx", seed=82, rate_hz=30.0, symbols=(SYM,))
    async with open_venue(config) as venue, running_desk([venue], journal, **frozen) as desk:
        view = await frozen_book(desk, venue)  # market data needs no keys
        assert view.snapshot is not None
        assert desk.peek("/exec/okx").down is not None
        cid = await desk.submit(venue="okx", symbol=SYM, side="buy", amount=Decimal("0.001"),
                                price=price_of(view.snapshot.bids[0][0] * 0.98))  # fmt: skip
        orders = await wait_for(lambda: _rejected(desk, cid), timeout=30.0)
        assert "authentication failed on venue okx" in orders[cid].reason
        assert desk.restarts("/exec/okx") == 0
        assert venue.engine.account_orders == {} or all(
            o.client_id != cid for o in venue.engine.account_orders.values()
        )
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
            and "authentication failed on venue okx" in r.getMessage()]  # fmt: skip
    assert len(said) == 1 and "50105" in said[0], said


async def test_a_strategy_started_before_its_venue_gets_the_markets_when_the_venue_is_up(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "j.sqlite")
    config = VenueConfig(name="okx", protocol="okx", seed=83, rate_hz=30.0, symbols=(SYM,))
    async with open_venue(config) as venue:
        venue.faults.rate_limit_next(1_000_000)  # every request answered 429: no markets yet
        async with running_desk([venue], journal, **FROZEN(journal)) as desk:
            probe = await wait_for(lambda: _running(desk, "/strategies/probe"), timeout=30.0)
            assert probe.market("okx", SYM) is None
            venue.faults.rate_limit_next(0)  # the venue answers again
            # The session loads the markets and tells the strategy that is already running
            # (a strategy that starts later asks for them instead: no on_markets then).
            pushed = await wait_for(lambda: probe.pushed_markets, timeout=30.0)
            market = probe.market("okx", SYM)
            assert market == pushed[-1].markets[0]
            assert market.price("60000.125", "up") == Decimal("60000.13")  # OKX's tick, 0.01


def _running(desk, path):  # type: ignore[no-untyped-def]
    stats = desk.system.stats().get(path)
    return desk.peek(path) if stats is not None and stats.state == "running" else None


async def _rejected(desk, cid):  # type: ignore[no-untyped-def]
    orders = await desk.orders()
    return orders if orders[cid].status is OrderStatus.REJECTED else None
