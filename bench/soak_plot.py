"""Plots of a soak report (``actors run ... --report FILE``): memory and recovery times.

    python bench/soak_plot.py var/soak.json --out docs/soak

Writes ``memory.png`` (resident memory and open descriptors over the run) and
``recovery.png`` (for each fault, seconds from its end to fresh books and to the next order,
by kind, over the run; and their distribution), and prints the figures RELIABILITY.md quotes.
Needs matplotlib (the ``bench`` extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def memory_plot(report: dict[str, Any], out: Path) -> None:
    """Resident MB and open descriptors against minutes into the run."""
    samples = report["resources"]["samples"]
    minutes = [s[0] / 60 for s in samples]
    fig, rss_axis = plt.subplots(figsize=(9, 4))
    rss_axis.plot(minutes, [s[1] for s in samples], color="tab:blue", label="resident MB")
    rss_axis.set_xlabel("minutes into the run")
    rss_axis.set_ylabel("resident memory (MB)", color="tab:blue")
    rss_axis.set_ylim(bottom=0)
    fds = [s[2] for s in samples]
    if any(f is not None for f in fds):
        fd_axis = rss_axis.twinx()
        fd_axis.plot(minutes, fds, color="tab:orange", label="open descriptors")
        fd_axis.set_ylabel("open descriptors", color="tab:orange")
        fd_axis.set_ylim(bottom=0)
    faults = report["faults"]["total"]
    rss_axis.set_title(f"memory and descriptors, {faults} faults injected")
    fig.tight_layout()
    fig.savefig(out / "memory.png", dpi=110)
    plt.close(fig)


def recovery_plot(report: dict[str, Any], out: Path) -> None:
    """Recovery times of each fault over the run, by kind, and their distributions."""
    records = report["faults"]["records"]
    if not records:
        return
    origin = min(r["started"] for r in records)
    kinds = sorted({r["kind"] for r in records})
    fig, (over_time, spread) = plt.subplots(1, 2, figsize=(12, 4.5))
    for kind in kinds:
        mine = [r for r in records if r["kind"] == kind and r["book_recovery"] is not None]
        over_time.scatter(
            [(r["ends"] - origin) / 60 for r in mine],
            [r["book_recovery"] for r in mine],
            s=12,
            label=kind,
        )
    over_time.set_xlabel("minutes into the run (fault end)")
    over_time.set_ylabel("seconds to fresh books")
    over_time.set_title("recovery to fresh books, per fault")
    over_time.legend(fontsize=7)
    for key, label in (("book_recovery", "to fresh books"), ("order_recovery", "to next order")):
        values = sorted(r[key] for r in records if r[key] is not None)
        if values:
            share = [(i + 1) / len(values) for i in range(len(values))]
            spread.step(values, share, where="post", label=f"{label} (n={len(values)})")
    spread.set_xlabel("seconds after the fault ended")
    spread.set_ylabel("share of faults recovered")
    spread.set_title("recovery, cumulative")
    spread.legend()
    fig.tight_layout()
    fig.savefig(out / "recovery.png", dpi=110)
    plt.close(fig)


def main() -> None:
    """Draw both plots and print the headline figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/soak"))
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    memory_plot(report, args.out)
    recovery_plot(report, args.out)
    faults = report["faults"]
    print(f"duration {report['duration_s']:.0f}s, faults {faults['total']}: {faults['injected']}")
    print(f"recovery: {faults['recovery_s']}")
    print(f"restarts: {sum(report['restarts'].values())} {report['restarts']}")
    checks = report["invariants"]
    print(f"invariants: {'not checked' if checks is None else checks['violations']} violation(s)")
    res = report["resources"]
    print(f"memory: {res.get('rss_mb')}; descriptors: {res.get('fds')}")
    print(f"wrote {args.out / 'memory.png'} and {args.out / 'recovery.png'}")


if __name__ == "__main__":
    main()
