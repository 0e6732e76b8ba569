"""PNG plots of the benchmark suite's JSON results, for BENCHMARKS.md.

    python bench/plots.py docs/bench

Reads what ``market_load.py``, ``recovery.py`` and ``desk_load.py scale|burst`` wrote with
``--out`` into that folder (``market_load.json``, ``recovery.json``, ``scale.json``,
``burst.json``; and the split desk's, ``bench/split_plots.py``; a missing one is skipped) and
writes one PNG beside each. Each plot names the machine it ran on (cores, python). Needs
matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tick_to_order import pct


def _machine(data: dict[str, Any]) -> str:
    m = data.get("machine", {})
    load = m.get("loadavg")
    busy = f", load {load[0]:.1f}" if load else ""
    return f"{m.get('nproc', '?')} cores, python {m.get('python', '?')}{busy}"


def _footer(fig: Any, data: dict[str, Any]) -> None:
    """The command that produced the figures, at the bottom of the image."""
    command = data.get("command")
    if command:
        fig.text(0.005, 0.005, f"command: {command}", fontsize=7, color="grey")


def market_load_plot(data: dict[str, Any], out: Path) -> None:
    """Tick-to-order and book age (p50 and p99) against the event rate, one line per taker."""
    rates = sorted(data["rates"], key=int)
    kinds = list(data["rates"][rates[0]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind in kinds:
        for axis, key in ((left, "tick"), (right, "age")):
            xs, p50, p99 = [], [], []
            for r in rates:
                v = [x for x in data["rates"][r][kind][key] if x == x]
                if v:
                    xs.append(int(r))
                    p50.append(pct(v, 0.5))
                    p99.append(pct(v, 0.99))
            if xs:
                (line,) = axis.plot(xs, p50, marker="o", label=f"{kind} p50")
                axis.plot(xs, p99, marker="x", ls="--", color=line.get_color(), label=f"{kind} p99")
    titles = (
        (left, "tick-to-order (update sent -> order in)"),
        (right, "book age at decision (change -> order in)"),
    )
    for axis, title in titles:
        axis.set_xscale("log")
        axis.set_xlabel("synthetic events/s (BTC/USDT)")
        axis.set_ylabel("ms")
        axis.set_title(title, fontsize=10)
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=7)
    fig.suptitle(f"market_load.py: desk vs bare ccxt.pro vs REST poller ({_machine(data)})")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _footer(fig, data)
    fig.savefig(out / "market_load.png", dpi=100)
    plt.close(fig)


def recovery_plot(data: dict[str, Any], out: Path) -> None:
    """Drop -> order and no-drop marker -> order, per taker, as box plots."""
    res = data["result"]
    labels, series = [], []
    for kind, r in res.items():
        for key, name in (("drop", "drop"), ("no_drop", "no drop")):
            if r[key]:
                labels.append(f"{kind}\n{name}")
                series.append(r[key])
    fig, axis = plt.subplots(figsize=(7, 4))
    axis.boxplot(series, whis=(1, 99))
    axis.set_xticks(range(1, len(labels) + 1), labels)
    axis.set_yscale("log")
    axis.set_ylabel("ms to the taker's order (log)")
    axis.set_title(
        f"recovery.py: websocket drop -> order on a fresh book\n({_machine(data)})", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _footer(fig, data)
    fig.savefig(out / "recovery.png", dpi=100)
    plt.close(fig)


def scale_plot(data: dict[str, Any], out: Path) -> None:
    """CPU per update and tick-to-order by shape; CPU share against the aggregate rate."""
    rows = data["result"]
    common = max((r["aggregate"] for r in rows), key=[r["aggregate"] for r in rows].count)
    fixed = [r for r in rows if r["aggregate"] == common]
    ramp = [r for r in rows if r["shape"] == "1x10"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [r["shape"] for r in fixed]
    left.bar(names, [r["cpu_us_per_update"] for r in fixed], color="tab:blue")
    left.set_ylabel("desk CPU us per depth update", color="tab:blue")
    twin = left.twinx()
    twin.plot(names, [r["t2o_p99"] for r in fixed], color="tab:red", marker="o")
    twin.set_ylabel("tick-to-order p99 ms", color="tab:red")
    twin.set_yscale("log")
    left.set_title(f"{common:,.0f} events/s over venues x symbols", fontsize=10)
    xs = [r["aggregate"] for r in ramp]
    right.plot(xs, [r["cpu_share"] * 100 for r in ramp], marker="o", label="desk process")
    right.plot(xs, [r["venue_cpu_share"] * 100 for r in ramp], marker="x", label="venues (bench)")
    right.axhline(100, color="grey", ls=":")
    right.set_xscale("log")
    right.set_xlabel("aggregate events/s, 1 venue x 10 symbols")
    right.set_ylabel("% of one core")
    right.set_title("where one core saturates", fontsize=10)
    right.legend(fontsize=8)
    fig.suptitle(f"desk_load.py scale ({_machine(data)})")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _footer(fig, data)
    fig.savefig(out / "scale.png", dpi=100)
    plt.close(fig)


def burst_plot(data: dict[str, Any], out: Path) -> None:
    """Messages waiting in all mailboxes and resident memory over the burst."""
    r = data["result"]
    t = [p["t"] for p in r["series"]]
    fig, axis = plt.subplots(figsize=(9, 4))
    axis.axvspan(r["burst_start"], r["burst_end"], color="orange", alpha=0.2, label="10x rate")
    axis.plot(t, [p["depth"] for p in r["series"]], color="tab:blue", label="messages waiting")
    axis.set_xlabel("seconds")
    axis.set_ylabel("messages waiting, all mailboxes", color="tab:blue")
    twin = axis.twinx()
    twin.plot(t, [p["rss_mb"] for p in r["series"]], color="tab:green", label="RSS")
    twin.set_ylabel("desk RSS MB", color="tab:green")
    axis.legend(loc="upper left", fontsize=8)
    axis.set_title(
        f"desk_load.py burst: 1 x {r['symbols']} symbols, {r['base_rate']:.0f} -> "
        f"{r['burst_rate']:.0f} events/s per symbol ({_machine(data)})",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    _footer(fig, data)
    fig.savefig(out / "burst.png", dpi=100)
    plt.close(fig)


PLOTS = {
    "market_load.json": market_load_plot,
    "recovery.json": recovery_plot,
    "scale.json": scale_plot,
    "burst.json": burst_plot,
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    from split_plots import PLOTS as SPLIT_PLOTS  # the split desk's benches (imports this)

    for name, plot in {**PLOTS, **SPLIT_PLOTS}.items():
        path = args.folder / name
        if path.exists():
            plot(json.loads(path.read_text()), args.folder)
            print(f"wrote {args.folder / name.replace('.json', '.png')}")
        else:
            print(f"skipped {name}: not found")
