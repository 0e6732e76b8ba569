"""The venue's observer hooks: depth updates emitted, order requests received."""

from __future__ import annotations

import time

import ccxt
import pytest

from actors.venues import Venue
from tests.venues.helpers import ccxt_client, wait_until

SYM = "BTC/USDT"


async def test_depth_hook_fires_once_per_emitted_update_with_its_update_id(
    quiet_venue: Venue,
) -> None:
    seen: list[tuple[str, int, float]] = []
    quiet_venue.on_depth_published = lambda market_id, u, t: seen.append((market_id, u, t))
    quiet_venue.publish_depth()
    assert seen == []  # nobody subscribed yet: nothing is emitted, nothing observed
    async with ccxt_client(quiet_venue) as client:
        await client.watch_order_book(SYM)  # subscribed (and the snapshot fetched)
        maker = quiet_venue.account()
        ask = quiet_venue.book(SYM, limit=1)["asks"][0][0]
        before = time.perf_counter()
        quiet_venue.orders.place(
            maker,
            {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.001", "price": f"{ask + 5:.2f}"},
        )  # fmt: skip
        quiet_venue.publish_depth()
        quiet_venue.publish_depth()  # nothing changed since: no second event
        assert len(seen) == 1
        market_id, update_id, at = seen[0]
        assert market_id == "BTCUSDT"
        assert update_id == quiet_venue.book(SYM)["publishedUpdateId"]
        assert before <= at <= time.perf_counter()


async def test_order_hook_sees_rest_orders_first_even_rejected_ones(quiet_venue: Venue) -> None:
    seen: list[tuple[str, str | None, float]] = []
    quiet_venue.on_order_received = lambda key, cid, t: seen.append((key, cid, t))
    key = quiet_venue.config.api_key
    async with ccxt_client(quiet_venue) as client:
        bid = quiet_venue.book(SYM, limit=1)["bids"][0][0]
        before = time.perf_counter()
        await client.create_order(
            SYM, "limit", "buy", 0.001, round(bid - 50, 2), {"clientOrderId": "hook-1"}
        )
        assert [(k, c) for k, c, _ in seen] == [(key, "hook-1")]
        assert before <= seen[0][2] <= time.perf_counter()
        with pytest.raises(ccxt.InvalidOrder):  # LOT_SIZE: refused by the venue, still seen
            await client.create_order(
                SYM, "limit", "buy", 10_000.0, round(bid - 50, 2), {"clientOrderId": "hook-2"}
            )
        await wait_until(lambda: len(seen) == 2)
        assert seen[1][:2] == (key, "hook-2")


async def test_hooks_are_off_by_default(quiet_venue: Venue) -> None:
    assert quiet_venue.on_depth_published is None
    assert quiet_venue.on_order_received is None
