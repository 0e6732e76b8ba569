"""Order entry over the websocket API, on both protocols, with REST while the socket is down.

The venue counts order requests per transport, so every assertion says which path served.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.trading.messages import OrderStatus
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import FROZEN, Desk, frozen_book, price_of, running_desk, wait_for

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"
SESSION = "/exec/sim"


async def _rest_far(desk: Desk, venue: Venue) -> str:
    """A buy resting well under the frozen touch; its client id once the venue has it."""
    view = await desk.book("sim", SYM)
    assert view.snapshot is not None
    price = price_of(view.snapshot.bids[0][0] * 0.99)
    cid = await desk.submit(
        venue="sim", symbol=SYM, side="buy", amount=Decimal("0.001"), price=price
    )
    assert isinstance(cid, str), cid
    await wait_for(lambda: _status(desk, cid, OrderStatus.OPEN), timeout=15.0)
    return cid


async def _status(desk: Desk, cid: str, status: OrderStatus) -> bool:
    order = (await desk.orders()).get(cid)
    return order is not None and order.status is status


async def _cancel(desk: Desk, cid: str) -> None:
    await desk.ref("/strategies/probe").ask(("cancel", cid))
    await wait_for(lambda: _status(desk, cid, OrderStatus.CANCELLED), timeout=15.0)


def _entry(desk: Desk) -> Any:
    """The session's order path, or None while it restarts."""
    try:
        return desk.peek(SESSION).entry
    except AssertionError:
        return None


async def _on(desk: Desk, transport: str) -> Any:
    """Wait until the session sends orders over ``transport`` (``rest``: because it found
    the socket down, not because it is still starting); its path then."""

    def settled() -> Any:
        e = _entry(desk)
        if e is None or e.transport() != transport:
            return None
        return e if transport == "ws" or e.down_reason is not None else None

    return await wait_for(settled, timeout=30.0)


def _served(venue: Venue) -> dict[str, int]:
    return {k: v for k, v in venue.entry.requests.items() if v}


@pytest.mark.parametrize("protocol", ["binance", "okx"])
async def test_orders_go_over_the_socket_and_over_rest_while_it_is_down(
    tmp_path: Path, protocol: str
) -> None:
    config = VenueConfig(name="sim", protocol=protocol, seed=61, rate_hz=40.0, symbols=(SYM,))
    async with (
        open_venue(config) as venue,
        running_desk(
            [venue], str(tmp_path / "j.sqlite"), **FROZEN(str(tmp_path / "j.sqlite"))
        ) as desk,
    ):
        await frozen_book(desk, venue)
        await _on(desk, "ws")
        first = await _rest_far(desk, venue)
        await _cancel(desk, first)
        assert _served(venue) == {"ws.place": 1, "ws.cancel": 1}

        # The venue drops and refuses the private socket (REST goes on): the session
        # resubscribes in place, finds the socket refused and trades over REST instead of
        # crash-looping.
        venue.faults.refuse_private_websockets(600)
        entry = await _on(desk, "rest")
        assert entry.down_reason and entry.fallbacks == 1
        second = await _rest_far(desk, venue)
        await _cancel(desk, second)
        assert _served(venue) == {"ws.place": 1, "ws.cancel": 1, "rest.place": 1, "rest.cancel": 1}

        # The socket comes back: orders over it again, and nothing was lost on the way.
        venue.faults.reset()
        await _on(desk, "ws")
        third = await _rest_far(desk, venue)
        assert venue.entry.requests["ws.place"] == 2 and venue.entry.requests["rest.place"] == 1
        stats = await desk.ref(SESSION).ask("stats")
        # One session all along (resubscribed in place, not restarted): it counted them all.
        assert stats["requests"] == _served(venue)
        assert stats["requests"] == {
            "rest.cancel": 1,
            "rest.place": 1,
            "ws.cancel": 1,
            "ws.place": 2,
        }
        assert stats["order_entry"] == "ws"
        assert len(desk.peek(SESSION)._stream_scopes) == 3  # one set of user streams
        await _cancel(desk, third)
        assert desk.restarts(SESSION) == 0
        await desk.verify(hit=["sim"])


async def test_order_entry_rest_keeps_every_order_off_the_socket(tmp_path: Path) -> None:
    config = VenueConfig(name="sim", seed=62, rate_hz=40.0, symbols=(SYM,))
    settings = FROZEN(str(tmp_path / "j.sqlite"))
    settings["venue_overrides"]["order_entry"] = "rest"
    async with (
        open_venue(config) as venue,
        running_desk([venue], str(tmp_path / "j.sqlite"), **settings) as desk,
    ):
        await frozen_book(desk, venue)
        cid = await _rest_far(desk, venue)
        await _cancel(desk, cid)
        assert _served(venue) == {"rest.place": 1, "rest.cancel": 1}
        assert desk.peek(SESSION).entry.describe() == "REST"
