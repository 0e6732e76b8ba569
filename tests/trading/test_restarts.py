"""Restarts pick up where they left off: in-flight submits, orphans, strategies, duplicates."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.trading.ccxt_bridge import fetch_all_trades
from actors.trading.dialects import dialect_for
from actors.trading.journal import Journal
from actors.trading.messages import (
    CancelOrder,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskApproved,
    SubmitOrder,
)
from actors.trading.orders import NEVER_REACHED_VENUE
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import (
    FROZEN,
    frozen_book,
    journal_vs_venue,
    price_of,
    running_desk,
    wait_for,
)

SYM = "BTC/USDT"


def far_bid(venue: Venue) -> Decimal:
    """A buy price 10% below the venue's best bid: it rests."""
    return price_of(float(venue.book(SYM)["bids"][0][0]) * 0.9)


def place_at_venue(venue: Venue, cid: str, price: Decimal, side: str = "BUY") -> None:
    """An order of the desk's account placed behind the desk's back (as a killed run did)."""
    account = venue.account(venue.config.api_key)
    venue.orders.place(
        account,
        {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC",
         "price": str(price), "quantity": "0.001", "newClientOrderId": cid},
    )  # fmt: skip


def journal_submit(path: str, cid: str, price: Decimal, sent_ago: float) -> None:
    """Intent, approval and submit of ``cid`` journaled ``sent_ago`` seconds ago, no outcome."""
    intent = OrderIntent(
        client_order_id=cid, strategy="probe", venue="sim", symbol=SYM, side="buy",
        order_type="limit", amount=Decimal("0.001"), price=price, created_at=0.0,
    )  # fmt: skip
    with Journal(path) as j:
        j.append_message(intent)
        j.append_message(RiskApproved(intent=intent))
        j.append_message(SubmitOrder(intent=intent, venue="sim", sent_wall=time.time() - sent_ago))


async def status_of(desk: Any, cid: str) -> OrderStatus | None:
    view = (await desk.orders()).get(cid)
    return None if view is None else view.status


@pytest.mark.e2e
async def test_submitting_orders_are_settled_at_start_by_asking_the_venue(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=61, rate_hz=30.0, symbols=(SYM,))) as venue:
        price = far_bid(venue)
        place_at_venue(venue, "axprobe-reached0", price)
        journal_submit(journal, "axprobe-reached0", price, sent_ago=1.0)
        journal_submit(journal, "axprobe-lost0", price, sent_ago=60.0)
        # The grace is long, but the lost submit was sent a minute ago: no new grace at boot.
        frozen = FROZEN(journal, unknown_grace=30.0)
        async with running_desk([venue], journal, **frozen) as desk:
            await desk.system.ready.wait()
            assert await status_of(desk, "axprobe-reached0") is OrderStatus.OPEN
            lost = (await desk.orders())["axprobe-lost0"]
            assert lost.status is OrderStatus.REJECTED and lost.reason == NEVER_REACHED_VENUE
        assert journal_vs_venue(journal, venue) == []


@pytest.mark.e2e
async def test_a_cancel_journaled_but_never_sent_is_sent_again_at_start(tmp_path: Path) -> None:
    # The killed run journaled the ack, then the cancel, and died before the cancel left.
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=64, rate_hz=30.0, symbols=(SYM,))) as venue:
        price = far_bid(venue)
        place_at_venue(venue, "axprobe-cancel0", price)
        journal_submit(journal, "axprobe-cancel0", price, sent_ago=1.0)
        with Journal(journal) as j:
            j.append_message(
                OrderUpdate(
                    client_order_id="axprobe-cancel0",
                    venue="sim",
                    venue_order_id=None,
                    status=OrderStatus.OPEN,
                    filled=Decimal(0),
                    remaining=Decimal("0.001"),
                )
            )
            j.append_message(CancelOrder(client_order_id="axprobe-cancel0", reason="requote"))
        async with running_desk([venue], journal, **FROZEN(journal)) as desk:
            await wait_for(lambda: _is(status_of(desk, "axprobe-cancel0"), OrderStatus.CANCELLED))
            order = venue.engine.client_ids[(venue.config.api_key, "BTCUSDT", "axprobe-cancel0")]
            assert order.status == "CANCELED"
        assert journal_vs_venue(journal, venue) == []


@pytest.mark.e2e
@pytest.mark.parametrize("policy", ["adopt", "cancel"])
async def test_orphans_with_our_prefix_are_adopted_and_the_strategy_sees_them(
    tmp_path: Path, policy: str
) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=62, rate_hz=30.0, symbols=(SYM,))) as venue:
        place_at_venue(venue, "axprobe-orphan0", far_bid(venue))
        place_at_venue(venue, "someoneelse-1", far_bid(venue))  # not this desk's
        async with running_desk([venue], journal, **FROZEN(journal, orphans=policy)) as desk:
            await desk.system.ready.wait()
            want = OrderStatus.OPEN if policy == "adopt" else OrderStatus.CANCELLED
            await wait_for(lambda: _is(status_of(desk, "axprobe-orphan0"), want))
            view = (await desk.orders())["axprobe-orphan0"]
            assert view.strategy == "probe"
            assert "someoneelse-1" not in await desk.orders()
            if policy == "adopt":
                existing = await desk.ref("/strategies/probe").ask("existing")
                assert [v.client_order_id for v in existing] == ["axprobe-orphan0"]
                assert (await desk.risk()).open_orders == 1
        assert journal_vs_venue(journal, venue) == []


@pytest.mark.e2e
async def test_an_ack_and_a_cancel_are_journaled_once(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    async with open_venue(VenueConfig(seed=63, rate_hz=30.0, symbols=(SYM,))) as venue:
        async with running_desk([venue], journal, **FROZEN(journal)) as desk:
            view = await frozen_book(desk, venue)
            assert view.snapshot is not None
            cid = await desk.submit(venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"),
                                    price=price_of(view.snapshot.bids[0][0] * 0.98))  # fmt: skip
            await wait_for(lambda: _is(status_of(desk, cid), OrderStatus.OPEN))
            await desk.ref("/strategies/probe").ask(("cancel", cid))
            await wait_for(lambda: _is(status_of(desk, cid), OrderStatus.CANCELLED))
            # Both the REST answer and the user stream reported each: let both arrive.
            await wait_for(lambda: desk.peek("/router").duplicates >= 2, timeout=10.0)
            updates = [m for m in await desk.journal() if isinstance(m, OrderUpdate)]
        mine = [u.status for u in updates if u.client_order_id == cid]
        assert mine == [OrderStatus.OPEN, OrderStatus.CANCELLED]


async def _is(value: Any, want: Any) -> bool:
    return (await value) is want


async def test_missed_fills_are_paged_until_covered() -> None:
    trades = [{"id": str(i), "order": "7"} for i in range(2500)]
    calls: list[dict[str, Any]] = []

    async def fetch_my_trades(symbol: str, since: Any, limit: int, params: dict[str, Any]) -> Any:
        calls.append(params)
        start = int(params.get("fromId", 0))
        return trades[start : start + limit]

    binance = dialect_for("binance")
    page = binance.trades_page
    got = await fetch_all_trades(fetch_my_trades, SYM, "7", dialect=binance)
    assert [t["id"] for t in got] == [str(i) for i in range(2500)]
    assert calls == [
        {"orderId": "7"},
        {"orderId": "7", "fromId": page},
        {"orderId": "7", "fromId": 2 * page},
    ]

    async def ignores_from_id(symbol: str, since: Any, limit: int, params: dict[str, Any]) -> Any:
        return trades[:limit]  # a venue without fromId: stop, never loop

    assert len(await fetch_all_trades(ignores_from_id, SYM, dialect=binance)) == page
