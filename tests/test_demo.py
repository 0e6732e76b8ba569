"""The demo (`make run`: config/paper.toml) trades at once and its feed crash comes back.

The paper desk runs in-process as ``actors run`` builds it, on a live synthetic market, with
its own ``[faults]`` plan brought forward (its crash at 2 s instead of about once a minute):
the market maker fills without a self-inflicted rejection (no rate-limit refusals), sim-a's
feed crashes, the observer's events show the crash and the restart, and its books come back.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from actors.topology.build import build
from actors.topology.load import load
from actors.topology.run import Observe, open_desk
from tests.trading.e2e_helpers import Desk, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


async def test_the_demo_trades_and_its_crashed_feed_comes_back(tmp_path: Path) -> None:
    topology = load(ROOT / "config" / "paper.toml")
    assert topology.faults is not None
    (crash,) = topology.faults.inject
    assert (crash.kind, crash.actor, crash.every) == ("crash", "/market/sim-a", 60.0)
    soon = msgspec.structs.replace(crash, every=None, jitter=0.5, at=2.0)
    faults = msgspec.structs.replace(topology.faults, start_after=0.0, inject=[soon])
    desk_section = msgspec.structs.replace(topology.desk, journal=str(tmp_path / "j.sqlite"))
    topology = msgspec.structs.replace(topology, desk=desk_section, faults=faults)
    plan = build(topology)
    async with open_desk(plan, observe=Observe(metrics_port=0, poll_interval=0.1)) as running:
        desk = Desk(running.system, plan.budgets)
        observer = running.observer
        assert observer is not None
        await wait_for(lambda: desk.restarts("/market/sim-a") >= 1, timeout=30.0)
        kinds = lambda: {(e.kind, e.text.split()[0]) for e in observer.events}  # noqa: E731
        await wait_for(lambda: {("crash", "/market/sim-a"), ("restart", "/market/sim-a")}
                       <= kinds(), timeout=15.0)  # fmt: skip
        for symbol in ("BTC/USDT", "ETH/USDT"):
            await desk.wait_fresh("sim-a", symbol, timeout=30.0)

        def mm_filled() -> bool:
            snapshot = observer.snapshot
            return snapshot is not None and any(
                s.name == "mm" and s.fills > 0 for s in snapshot.strategies
            )

        await wait_for(mm_filled, timeout=60.0)
        rejected = (await desk.risk()).rejected
        assert not {r for r in rejected if r.startswith("RATE_LIMIT")}, rejected
