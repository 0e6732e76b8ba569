"""SIGKILL the desk process mid-trading, restart it, and check nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import trio

from actors.trading.journal import Journal
from actors.trading.messages import CancelOrder, SubmitOrder
from actors.venues import Venue, VenueConfig, open_venue
from tests.trading.e2e_helpers import journal_vs_venue

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A desk subprocess whose stdout lines are read in the background."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def pump(self) -> None:
        """Collect stdout lines."""
        assert self.proc.stdout is not None
        buf = b""
        async for chunk in self.proc.stdout:
            buf += chunk
            *done, buf = buf.split(b"\n")
            self.lines.extend(line.decode() for line in done)

    async def wait_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with ``prefix``."""
        with trio.fail_after(timeout):
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                if self.proc.returncode is not None:
                    raise AssertionError(f"desk exited with {self.proc.returncode}")
                await trio.sleep(0.02)


async def start(nursery: trio.Nursery, venue: Venue, journal: Path, mode: str) -> Proc:
    """Start ``python -m tests.trading.desk_process``."""
    cmd = [
        sys.executable, "-m", "tests.trading.desk_process",
        "--port", str(venue.port), "--journal", str(journal), "--mode", mode,
    ]  # fmt: skip
    proc = await trio.lowlevel.open_process(
        cmd, stdout=subprocess.PIPE, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    p = Proc(proc)
    nursery.start_soon(p.pump)
    return p


def account_orders(venue: Venue) -> list:  # type: ignore[type-arg]
    """Every order the desk's account ever placed on the venue."""
    key = venue.config.api_key
    return [o for o in venue.engine.account_orders.values() if o.account == key]


async def test_sigkill_mid_trading_recovers_every_open_order_without_duplicates(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "desk.sqlite"
    config = VenueConfig(seed=9, rate_hz=80.0, symbols=("BTC/USDT",))
    async with open_venue(config) as venue, trio.open_nursery() as nursery:
        first = await start(nursery, venue, journal, "trade")
        await first.wait_line("READY", 30)
        with trio.fail_after(30):
            while len(account_orders(venue)) < 12:  # noqa: ASYNC110 - polling the venue
                await trio.sleep(0.005)
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
        assert first.proc.returncode == -signal.SIGKILL
        # Freeze the market: from here on only the restarted desk changes the venue's orders.
        venue.pause_market()
        with Journal(journal) as j:
            cancelling = {
                e.message.client_order_id for e in j.events() if isinstance(e.message, CancelOrder)
            }

        second = await start(nursery, venue, journal, "recover")
        line = await second.wait_line("RECOVERED", 60)
        recovered = json.loads(line.split(" ", 1)[1])
        open_at_venue = {o.client_id for o in venue.engine.open_orders(venue.config.api_key, None)}
        try:
            # Every order open at the venue is open in the restarted desk, and the desk
            # believes nothing else is live; a cancel journaled before the kill but never
            # sent was sent again, so no order the desk meant to cancel is left resting.
            assert set(recovered) == open_at_venue
            assert set(recovered.values()) <= {"OPEN", "PARTIALLY_FILLED"}
            assert not cancelling & open_at_venue
            # Write-ahead: every order the venue ever saw was journaled before it was
            # sent, and no client order id reached the venue twice.
            with Journal(journal) as j:
                submitted = {
                    e.message.client_order_id
                    for e in j.events()
                    if isinstance(e.message, SubmitOrder)
                }
            placed = Counter(o.client_id for o in account_orders(venue))
            assert set(placed) <= submitted
            assert max(placed.values()) == 1
            assert len(placed) >= 12
            # Stopped gracefully, the journal says what the venue says (invariants 1-4:
            # approvals, unique ids, same states and fills, same positions).
            second.proc.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                await second.proc.wait()
            assert journal_vs_venue(str(journal), venue) == []
        finally:
            if second.proc.returncode is None:
                second.proc.kill()
            await second.proc.wait()
        nursery.cancel_scope.cancel()
