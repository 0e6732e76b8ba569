"""A short soak in CI: ``actors run`` of config/chaos.toml, faults every few seconds, its report.

The desk and its plan are config/chaos.toml's (the paper desk, crashed and stalled feeds,
dropped sockets, 5xx after accepted orders, sequence gaps), only faster: every fault fires
every 2.5-3.5 s for the 9 s the faults run (the schedule is seeded: the same every time). The
30-minute run of the same file is in RELIABILITY.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.topology.toml_writer import dumps

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "actors"
ACTORS = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "actors.cli"]
DURATION = 15.0

pytestmark = pytest.mark.e2e


def faster_chaos(tmp_path: Path) -> Path:
    """config/chaos.toml with every fault every 2.5-3.5 s and a shorter warm-up and settle."""
    data = tomllib.loads((ROOT / "config" / "chaos.toml").read_text())
    data["desk"]["journal"] = str(tmp_path / "chaos.journal.sqlite")
    data["observe"] = {"status_interval": 0.0, "control": False}
    faults = data["faults"]
    faults.update(start_after=2.0, settle=4.0)
    for i, fault in enumerate(faults["inject"]):
        fault["every"] = 2.5 + (i % 3) * 0.5
        if "seconds" in fault:
            fault["seconds"] = min(fault["seconds"], 4.0)
    path = tmp_path / "chaos.toml"
    path.write_text(dumps(data))
    return path


def test_a_short_chaos_run_trades_through_its_faults_and_reports_zero_violations(
    tmp_path: Path,
) -> None:
    config = faster_chaos(tmp_path)
    report = tmp_path / "report.json"
    run = subprocess.run(
        [*ACTORS, "run", str(config), "--duration", str(DURATION), "--report", str(report),
         "--summary-json", str(tmp_path / "summary.json"), "--view", "lines"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    content = json.loads(report.read_text())
    faults = content["faults"]
    # Every kind of config/chaos.toml was injected, and none failed to apply.
    kinds = {f["kind"] for f in tomllib.loads(config.read_text())["faults"]["inject"]}
    assert set(faults["injected"]) == kinds, faults["injected"]
    assert faults["total"] >= 2 * len(kinds) - 2 and not faults["failed"]
    assert all(r["ended"] for r in faults["records"])
    # It recovered from them: books fresh again after each fault that touched them. (How soon
    # the next order goes out depends on the market's moves, so it is reported, not asserted.)
    recovery = faults["recovery_s"]
    assert recovery["book"]["count"] >= 3 and recovery["book"]["p50"] is not None
    assert set(recovery["order"]) == {"count", "p50", "p99", "max"}
    assert content["restarts"].get("/market/sim-a", 0) >= 1
    # Zero violations: all seven invariants checked, every one passed.
    checks = content["invariants"]
    assert checks["violations"] == 0, json.dumps(checks, indent=1)
    names = [r["name"] for r in checks["results"]]
    assert sorted(names) == sorted(
        ["approved", "unique", "reconciled", "positions", "books", "accounting", "contained"]
    )
    assert all(r["ok"] is True for r in checks["results"]), checks
    # Memory and descriptors were sampled over the whole run.
    resources = content["resources"]
    assert len(resources["samples"]) >= 10
    assert resources["rss_mb"]["max"] > 0 and resources["fds"]["max"] > 0
    # The operator saw it: each fault logged, the summary and the report printed.
    assert run.stderr.count("fault injected:") == faults["total"]
    assert f"faults injected: {faults['total']}" in run.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["faults"] == {"injected": faults["injected"], "failed": {}}
    assert set(summary["malformed_frames"]) == {"sim-a", "sim-b"}  # per venue, 0 or more
    assert set(summary["resubscribes"]) == {"sim-a", "sim-b"}
    assert "invariants: 0 violation(s)" in run.stderr
