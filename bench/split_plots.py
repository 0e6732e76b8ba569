"""PNG plots of the split-desk benchmarks (one desk across processes on NATS).

    python bench/plots.py docs/bench

``bench/plots.py`` draws these too, from what ``remote_hop.py``, ``tick_to_order.py`` (split
takers) and ``split_scale.py`` wrote with ``--out`` (``remote_hop.json``,
``split_tick_to_order.json``, ``split_scale.json``). Each plot names the machine it ran on
and the command that produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from plots import _footer, _machine


def _cdf(axis: Any, values: list[float], label: str, scale: float = 1.0) -> None:
    ordered = sorted(v * scale for v in values)
    n = len(ordered)
    axis.plot(ordered, [(i + 1) / n for i in range(n)], label=f"{label} (n={n})")


def remote_hop_plot(data: dict[str, Any], out: Path) -> None:
    """Ask round trips (CDF) and send throughput, in-process against over NATS."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (("local", "in-process"), ("remote", "NATS, 2 processes"),
                       ("raw", "bare nats-py")):  # fmt: skip
        _cdf(left, data[key]["rtts"], label, 1e6)
    left.set_xscale("log")
    left.set(xlabel="ask round trip (us, log)", ylabel="share of asks", title="ask latency")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    bars = {
        "in-process": data["local"]["rate"],
        "NATS": data["remote"]["rate"],
        "NATS durable": data["remote"]["durable"],
    }
    right.bar(list(bars), list(bars.values()), color=["C0", "C1", "C3"])
    for x, value in enumerate(bars.values()):
        right.text(x, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=8)
    right.set_yscale("log")
    right.set(ylabel="messages/s (log)", title="one sender's throughput")
    fig.suptitle(f"Remote hop over NATS against the in-process mailbox ({_machine(data)})")
    _footer(fig, data)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out / "remote_hop.png", dpi=110)
    plt.close(fig)


def split_tick_plot(data: dict[str, Any], out: Path) -> None:
    """Tick-to-order (CDF) of the single-process desk against the split ones."""
    fig, axis = plt.subplots(figsize=(7.5, 4.2))
    for kind, samples in data["samples_ms"].items():
        if samples:
            _cdf(axis, samples, kind)
    axis.set(xlabel="tick-to-order (ms: depth update emitted -> order received)",
             ylabel="share of trials")  # fmt: skip
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.suptitle(f"Tick-to-order of a split desk ({_machine(data)})")
    _footer(fig, data)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out / "split_tick_to_order.png", dpi=110)
    plt.close(fig)


def split_scale_plot(data: dict[str, Any], out: Path) -> None:
    """Tops into the execution node and each process's CPU against the books fed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 4.6))
    for n, mode in enumerate(("per-venue", "one-node")):
        rows = sorted((r for r in data["rows"] if r["mode"] == mode or r["venues"] == 1),
                      key=lambda r: r["books"])  # fmt: skip
        if not rows:
            continue
        books = [r["books"] for r in rows]
        style = "-" if n == 0 else "--"
        label = "md node per venue" if mode == "per-venue" else "one md node"
        left.plot(books, [r["exec_received"] for r in rows], style, marker="o", color="C0",
                  label=f"exec received/s, {label}")  # fmt: skip
        left.plot(books, [r["exec_conflated"] for r in rows], style, marker="x", color="C3",
                  label=f"exec conflated/s, {label}")  # fmt: skip
        right.plot(books, [r["exec_cpu"] for r in rows], style, marker="o", color="C0",
                   label=f"exec, {label}")  # fmt: skip
        right.plot(books, [max(r["md_cpu"]) for r in rows], style, marker="s", color="C2",
                   label=f"busiest md node, {label}")  # fmt: skip
        right.plot(books, [sum(r["md_cpu"]) for r in rows], style, marker="D", color="C4",
                   label=f"md nodes together, {label}")  # fmt: skip
        right.plot(books, [r["machine_busy"] for r in rows], style, marker="^", color="grey",
                   label=f"machine (all cores), {label}")  # fmt: skip
    left.set(xlabel="books (venues x symbols)", ylabel="messages/s",
             title="tops into the execution node")  # fmt: skip
    right.axhline(100, color="black", lw=0.8)
    right.set(xlabel="books (venues x symbols)", ylabel="CPU % (process: of one core)",
              title="CPU (machine: % of all its cores)")  # fmt: skip
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"Market-data nodes into one execution node ({_machine(data)})")
    _footer(fig, data)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out / "split_scale.png", dpi=110)
    plt.close(fig)


PLOTS = {
    "remote_hop.json": remote_hop_plot,
    "split_tick_to_order.json": split_tick_plot,
    "split_scale.json": split_scale_plot,
}
