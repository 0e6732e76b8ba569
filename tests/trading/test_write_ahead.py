"""The write-ahead rule at the venue's door, and the asyncio -> actor hand-off it relies on."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.runtime import Actor, ChildSpec, open_system
from actors.trading.ccxt_bridge import aio, aio_start, aio_wait, open_loop
from actors.venues import VenueConfig, open_venue
from tests.trading.e2e_helpers import price_of, running_desk, wait_for

SYM = "BTC/USDT"


@pytest.mark.e2e
async def test_submit_record_is_committed_before_the_venue_receives_the_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    at_receipt: dict[str, list[str]] = {}

    def on_order(api_key: str, cid: str | None, at: float) -> None:
        # Runs inside the venue's request handler: what does another connection see now?
        assert cid is not None
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT kind FROM events WHERE client_order_id = ? ORDER BY seq", (cid,)
            ).fetchall()
        at_receipt[cid] = [kind for (kind,) in rows]

    async with (
        open_venue(VenueConfig(seed=3, rate_hz=40.0, symbols=(SYM,))) as venue,
        running_desk([venue], str(path)) as desk,
    ):
        venue.on_order_received = on_order
        view = await desk.wait_fresh("sim", SYM)
        assert view.snapshot is not None
        bid = view.snapshot.bids[0][0]
        cids = []
        for _ in range(3):
            cid = await desk.submit(
                venue="sim",
                symbol=SYM,
                side="buy",
                amount=Decimal("0.001"),
                price=price_of(bid * 0.98),
            )
            assert isinstance(cid, str)
            cids.append(cid)
        await wait_for(lambda: _all_seen(at_receipt, cids), timeout=10.0)
    for cid in cids:
        # The intent and risk decision ride in the same transaction as the submit record.
        assert at_receipt[cid] == ["intent", "risk_decision", "submit"], cid


async def _all_seen(seen: dict[str, list[str]], cids: list[str]) -> bool:
    return all(cid in seen for cid in cids)


class _Sink(Actor):
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def handle(self, message: Any) -> None:
        self.seen.append(message)


async def test_send_nowait_from_an_asyncio_task_wakes_a_sleeping_actor() -> None:
    # The market-data pump relies on it: trio-asyncio runs asyncio steps on the trio thread,
    # inside a trio task, where ParkingLot.unpark (trio.lowlevel.reschedule) is allowed.
    seen: list[Any] = []
    async with open_loop(), open_system([ChildSpec("sink", lambda: _Sink(seen))]) as s:
        ref = s.lookup("/sink")
        assert ref is not None
        await trio.sleep(0.01)  # the sink is parked on its empty mailbox

        async def pump() -> None:
            for i in range(3):
                ref.send_nowait(i)
                await asyncio.sleep(0)

        await aio(pump)()
        with trio.fail_after(1):
            while len(seen) < 3:  # noqa: ASYNC110 - the actor must run without our help
                await trio.sleep(0.001)
        assert seen == [0, 1, 2]


async def test_aio_start_runs_now_and_aio_wait_cancels_it() -> None:
    async with open_loop():
        started = asyncio.Event()

        async def forever() -> None:
            started.set()
            await asyncio.sleep(3600)

        async def answer() -> int:
            return 42

        assert await aio_wait(aio_start(answer)) == 42
        fut = aio_start(forever)
        with trio.move_on_after(0.05):
            await aio_wait(fut)
        await trio.sleep(0.01)
        assert started.is_set() and fut.cancelled()
