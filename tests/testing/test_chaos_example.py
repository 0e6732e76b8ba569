"""The README's example test ("Testing your own desk under faults"), as a user would copy it.

It runs the paper desk (``config/paper.toml``: two embedded venues, an arbitrage and a market
maker) with a fault plan given in Python, then checks the seven invariants. Keep it in step
with the README: ``test_the_readme_shows_this_test`` compares the two.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from actors.observe.metrics import FaultCollector
from actors.testing import Fault, FaultPlan
from actors.topology.build import build
from actors.topology.load import load
from actors.topology.run import open_plan
from actors.trading.journal import Journal
from actors.trading.messages import FaultInjected

ROOT = Path(__file__).resolve().parents[2]


# --- the example (README) ---
async def test_my_desk_trades_through_faults(tmp_path: Path) -> None:
    topology = load(ROOT / "config" / "paper.toml")  # your topology, with your strategy
    faults = FaultPlan(
        seed=1,
        inject=[
            Fault(kind="crash", actor="/market/sim-a", at=1.0),
            Fault(kind="drop_websockets", venue="sim-b", at=2.0),
            Fault(kind="order_error", venue="sim-a", mode="error_after", at=2.5),
            Fault(kind="stall_streams", venue="sim-a", at=3.0, seconds=1.0),
        ],
    )
    desk = msgspec.structs.replace(topology.desk, journal=str(tmp_path / "journal.sqlite"))
    plan = build(msgspec.structs.replace(topology, desk=desk, faults=faults))
    assert plan.faults is not None
    async with open_plan(plan) as system:
        await plan.faults.finished.wait()  # every fault has fired; each ends by itself
        report = await plan.faults.verify()  # settle, freeze the markets, compare, resume
        assert system.stats()["/market/sim-a"].restarts >= 1
    assert report.ok, report.text()
    assert plan.faults.log.counts() == {
        "crash": 1,
        "drop_websockets": 1,
        "order_error": 1,
        "stall_streams": 1,
    }


# --- end of the example ---


async def test_each_injected_fault_is_journaled_and_counted_in_the_metrics(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.sqlite")
    topology = load(ROOT / "config" / "paper.toml")
    crash = Fault(kind="crash", actor="/strategies/mm", at=0.0)
    faults = FaultPlan(inject=[crash, Fault(kind="sequence_gap", venue="sim-b", at=0.0, count=3)])
    desk = msgspec.structs.replace(topology.desk, journal=journal)
    plan = build(msgspec.structs.replace(topology, desk=desk, faults=faults))
    assert plan.faults is not None
    async with open_plan(plan):
        await plan.faults.finished.wait()
        families = {f.name: f for f in FaultCollector(plan.faults.log).collect()}
        injected = {s.labels["kind"]: s.value for s in families["actors_faults_injected"].samples
                    if s.name.endswith("_total")}  # fmt: skip
        assert injected == {"crash": 1.0, "sequence_gap": 1.0}
    with Journal(journal) as j:
        events = [e for e in j.events() if e.kind == "fault"]
    assert sorted((e.message.fault, e.message.target) for e in events) == [
        ("crash", "/strategies/mm"),
        ("sequence_gap", "sim-b"),
    ]
    assert all(isinstance(e.message, FaultInjected) and e.message.error is None for e in events)


def test_the_readme_shows_this_test() -> None:
    source = Path(__file__).read_text()
    example = source.split("# --- the example (README) ---\n")[1].split("\n\n# --- end")[0]
    readme = (ROOT / "README.md").read_text()
    shown = re.search(
        r"```python\n(async def test_my_desk_trades_through_faults.*?)```", readme, re.S
    )
    assert shown is not None, "the README lost its example test"
    assert shown.group(1).strip() == example.strip().replace(
        'ROOT / "config" / "paper.toml"', '"config/paper.toml"'
    )
