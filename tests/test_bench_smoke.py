"""The benchmark suite's scripts still run: tiny parameters, structure checked, no timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import market_load  # noqa: E402


def test_market_load_report_renders_every_row() -> None:
    """Rates and takers become rows; the poller has no tick-to-order; ratios are vs bare."""
    res = {
        "rates": {
            "100": {
                "bare": {"tick": [2.0, 4.0], "age": [40.0, 60.0], "missed": 0},
                "poll": {"tick": [float("nan")], "age": [30.0], "missed": 1},
            }
        },
        "updates_per_s": {"100": [90.0]},
    }
    table = market_load.report(res).splitlines()
    assert len(table) == 4
    bare, poll = table[2].split("|"), table[3].split("|")
    assert bare[3].strip() == "bare" and bare[6].strip() == "1.00"
    assert poll[5].strip() == "-" and poll[8].strip() == "0.75" and poll[9].strip() == "1"


def test_marker_rule_fires_once_per_book() -> None:
    """A bare taker buys on the marker size only, and not twice on the same nonce."""
    book = {"asks": [[100.0, float(market_load.MARKER)]], "nonce": 7}
    assert market_load._fire(book, fired=-1) == (100.0, 7)
    assert market_load._fire(book, fired=7) is None
    assert market_load._fire({"asks": [[100.0, 0.5]], "nonce": 8}, fired=-1) is None


@pytest.mark.e2e
def test_market_load_runs_end_to_end(tmp_path: Path) -> None:
    """One bare taker, one rate, two markers: the script completes and accounts for both."""
    out = tmp_path / "ml.json"
    argv = [sys.executable, str(ROOT / "bench" / "market_load.py"), "--kinds", "bare"]
    argv += ["--rates", "100", "--trials", "2", "--blocks", "1", "--out", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(out.read_text())["rates"]["100"]["bare"]
    assert len(row["age"]) + row["missed"] == 2
    assert "| 100 |" in done.stdout


def test_plots_write_pngs(tmp_path: Path) -> None:
    """Each JSON result found becomes a PNG (matplotlib: the bench extra)."""
    pytest.importorskip("matplotlib")
    import plots

    res = {
        "rates": {
            r: {"bare": {"tick": [2.0, 3.0], "age": [40.0, 50.0], "missed": 0}}
            for r in ("100", "1000")
        },
        "machine": {"nproc": 2, "python": "3"},
    }
    (tmp_path / "market_load.json").write_text(json.dumps(res))
    rec = {"result": {"bare": {"drop": [40.0, 50.0], "no_drop": [60.0], "missed": 0}}}
    (tmp_path / "recovery.json").write_text(json.dumps(rec))
    for name in ("market_load", "recovery"):
        plots.PLOTS[f"{name}.json"](json.loads((tmp_path / f"{name}.json").read_text()), tmp_path)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
