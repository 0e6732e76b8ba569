"""Power loss: SIGKILL the desk mid-trading, drop the journal's last records as a power loss
would (``synchronous=NORMAL`` commits that never reached the disk), restart, and every order
the venue holds for the account comes back from the durable client-id leases, none twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from actors.testing.invariants import InvariantResult, journal_invariants
from actors.testing.venues import LocalVenue
from actors.trading.journal import Journal
from actors.trading.leases import LeaseStore, leases_path_of
from actors.trading.messages import OrderStatus, SubmitOrder
from actors.trading.shutdown import ShutdownReport
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import (
    FROZEN,
    frozen_book,
    journal_vs_venue,
    price_of,
    running_desk,
    wait_for,
)
from tests.trading.test_sigkill import account_orders, start

pytestmark = pytest.mark.e2e
SYM = "BTC/USDT"
LOST_SUBMITS = 6
"""Submit records the simulated power loss takes (with every record after the first)."""


def drop_tail(journal: Path, submits: int) -> set[str]:
    """Delete the journal's records from the intent of the ``submits``-th last submitted
    order on (a suffix of commits, as a power loss takes it); the client ids whose submit
    record went."""
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT seq, client_order_id FROM events WHERE kind = 'submit' ORDER BY seq"
        ).fetchall()
        assert len(rows) >= submits, f"only {len(rows)} submits journaled"
        first_lost = rows[-submits][1]
        (cut,) = conn.execute(
            "SELECT MIN(seq) FROM events WHERE client_order_id = ?", (first_lost,)
        ).fetchone()
        lost = {cid for seq, cid in rows if seq >= cut}
        conn.execute("BEGIN")
        conn.execute("DELETE FROM events WHERE seq >= ?", (cut,))
        conn.execute("DELETE FROM snapshots WHERE seq >= ?", (cut,))
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", (cut - 1,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return lost


async def _invariants_failing_after(
    journal: Path, venue: Venue, timeout: float
) -> list[InvariantResult]:
    """The journal invariants that still fail after ``timeout`` (none: all hold)."""
    failing: list[InvariantResult] = []
    with trio.move_on_after(timeout):
        while True:
            ledger = LocalVenue(venue).ledger("ax")
            results = journal_invariants(str(journal), {"sim": ledger})
            failing = [r for r in results if r.ok is not True]
            if not failing:
                return []
            await trio.sleep(0.2)
    return failing


async def test_lost_journal_tail_every_venue_order_recovered_from_leases_none_twice(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "desk.sqlite"
    config = VenueConfig(seed=9, rate_hz=80.0, symbols=("BTC/USDT",))
    async with open_venue(config) as venue, trio.open_nursery() as nursery:
        first = await start(nursery, venue, journal, "trade")
        await first.wait_line("READY", 30)
        with trio.fail_after(30):
            while len(account_orders(venue)) < 20:  # noqa: ASYNC110 - polling the venue
                await trio.sleep(0.005)
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
        venue.pause_market()  # from here on only the restarted desk changes the orders

        lost = drop_tail(journal, LOST_SUBMITS)
        placed = {o.client_id for o in account_orders(venue)}
        # The power loss took records of orders the venue holds (a submit record is
        # committed before its order leaves, so the last ones may be unsent: at most one).
        assert len(lost & placed) >= LOST_SUBMITS - 1
        with LeaseStore(leases_path_of(journal)) as leases:
            assert leases.outstanding("next-run"), "the first run leased no ids"

        second = await start(nursery, venue, journal, "recover")
        line = await second.wait_line("RECOVERED", 60)
        adopted = json.loads((await second.wait_line("LEASES", 5)).split(" ", 1)[1])
        recovered = json.loads(line.split(" ", 1)[1])
        try:
            assert adopted["adopted"] == len(lost & placed)
            assert adopted["lookups"] >= len(lost)
            # Every order at the venue is journaled again, in the venue's state with its
            # fills; no client id was submitted twice; positions agree with the trades.
            # (The journal catches up with what reconciliation applies: bounded wait.)
            failing = await _invariants_failing_after(journal, venue, timeout=30.0)
            assert not failing, [(r.name, r.evidence) for r in failing]
            open_at_venue = {
                o.client_id for o in venue.engine.open_orders(venue.config.api_key, None)
            }
            assert set(recovered) == open_at_venue
            with Journal(journal) as j:
                submitted = [
                    e.message.client_order_id
                    for e in j.events()
                    if isinstance(e.message, SubmitOrder)
                ]
            assert placed <= set(submitted)
            assert len(submitted) == len(set(submitted))
            # The earlier run's leases are settled: a third start looks nothing up.
            with LeaseStore(leases_path_of(journal)) as leases:
                assert leases.outstanding("next-run") == []
        finally:
            second.proc.kill()
            await second.proc.wait()
        nursery.cancel_scope.cancel()


async def test_on_okx_the_lost_orders_are_found_by_clordid_with_their_fills(
    tmp_path: Path,
) -> None:
    journal = str(tmp_path / "j.sqlite")
    frozen = FROZEN(journal)
    config = VenueConfig(name="okx", protocol="okx", seed=83, rate_hz=30.0, symbols=(SYM,))
    async with open_venue(config) as venue:
        async with running_desk([venue], journal, **frozen) as desk:
            view = await frozen_book(desk, venue)
            assert view.snapshot is not None
            bid, ask = view.snapshot.bids[0][0], view.snapshot.asks[0][0]
            amount = Decimal("0.001")
            resting = await desk.submit(venue="okx", symbol=SYM, side="buy", amount=amount,
                                        price=price_of(bid * 0.98))  # fmt: skip
            taking = await desk.submit(venue="okx", symbol=SYM, side="buy", amount=amount,
                                       price=price_of(ask * 1.01))  # fmt: skip

            async def settled() -> bool:
                orders = await desk.orders()
                return (orders[resting].status, orders[taking].status) == (
                    OrderStatus.OPEN, OrderStatus.FILLED
                )  # fmt: skip

            await wait_for(settled, timeout=30.0)
        # The desk stopped (the resting order left open); a power loss takes both orders'
        # records: the restarted desk finds them at OKX by clOrdId, the fill included.
        assert drop_tail(Path(journal), 2) == {resting, taking}
        report = ShutdownReport()
        async with running_desk([venue], journal, report=report, **frozen) as desk:
            orders = await desk.orders()
            assert orders[resting].status is OrderStatus.OPEN
            assert orders[taking].status is OrderStatus.FILLED
            assert report.lease_adopted == 2 and report.lease_lookups >= 2
        assert journal_vs_venue(journal, venue) == []
