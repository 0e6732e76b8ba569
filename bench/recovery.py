"""Recovery: dropped websocket -> trading again on a fresh, synced book; desk vs a bare script.

The venue (``market_load.open_bench_venue``, 100 events/s, the book moving) runs in this
process; each taker runs as its own process, in interleaved blocks (A B A B). A trial drops
every websocket of the venue (``Venue.faults.drop_websockets``: market data and private) and,
in the same instant, posts the marker sell (``market_load``): only a client that has
reconnected, resubscribed and synced a fresh book (REST snapshot + diffs) can see it. The clock
runs from the drop to the taker's order arriving at the venue, so the figure is recovery plus
one tick-to-order; the same run also times markers without a drop (``no drop``), which is the
part of the figure that is not recovery. ``--drop market`` closes the market-data sockets only
(the private session's stay up): the difference says what the private session's recovery
adds.

* ``desk``: the full desk: the market-data connection and the private session resubscribe in
  place on ``NetworkError`` (``actors.trading.resubscribe``; before that change they crashed
  and were restarted after the venue group's backoff, 0.2 s +- 20 %), the book is stale
  until the new snapshot, risk refuses against it meanwhile. The backoff's ``reset_after``
  is shortened from 30 s to 1 s so that, where a drop does restart an actor, drops 3 s
  apart each start from the initial backoff (independent trials) instead of escalating.
* ``bare``: the asyncio ccxt.pro script of ``market_load``: ``watch_order_book`` raises
  ``NetworkError``, the loop calls it again, ccxt reconnects and resyncs at once.

Run: ``.venv/bin/python bench/recovery.py [--trials 8] [--blocks 2] [--out FILE.json]``
(about 2 min; ``--quick``: a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

SCRIPT = str(Path(__file__).resolve())
ROOT = Path(SCRIPT).parents[1]
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from market_load import (  # noqa: E402
    JITTER,
    Clocks,
    bench_venue_config,
    machine,
    open_bench_venue,
    start_client,
    trial,
)
from tick_to_order import pct  # noqa: E402

KINDS = ("desk", "bare")
MARKET = str(ROOT / "bench" / "market_load.py")


def drop(venue: Any, scope: str) -> int:
    """Close the venue's websockets: every one (``all``) or market data only (``market``)."""
    if scope == "all":
        return venue.faults.drop_websockets()
    public = [c for c in venue.hub.conns if not c.private]
    for c in public:
        c.scope.cancel()
    return len(public)


async def main(trials: int, blocks: int, kinds: tuple[str, ...], scope: str) -> dict[str, Any]:
    """Alternate blocks of takers; in each block, drop trials and no-drop trials alternate."""

    res: dict[str, Any] = {k: {"drop": [], "no_drop": [], "missed": 0} for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        async with open_bench_venue(bench_venue_config(rate_hz=100.0)) as venue:
            clocks = Clocks.hooked(venue)
            for _ in range(blocks):
                for kind in kinds:
                    argv = [sys.executable, MARKET, "--client", kind, "--port", str(venue.port)]
                    argv += ["--journal", os.path.join(tmp, f"j-{time.time_ns()}.sqlite")]
                    argv += ["--feed-reset-after", "1.0"]
                    proc, _ = await start_client(argv)
                    try:
                        await trio.sleep(1.5)
                        await _block(venue, clocks, trials, res[kind], scope)
                    finally:
                        proc.kill()
                        await proc.wait()
    return res


async def _block(venue: Any, clocks: Clocks, trials: int, row: dict[str, Any], scope: str) -> None:
    """``trials`` drops, each followed by one marker without a drop."""
    for _ in range(trials):
        dropped = drop(venue, scope)
        got = await trial(venue, clocks, wait=15.0)
        if got is None or not dropped:
            row["missed"] += 1
        else:
            row["drop"].append(got[1])
        await trio.sleep(2.0 + JITTER.uniform(0.0, 0.5))  # reconnected and settled
        got = await trial(venue, clocks)
        if got is not None:
            row["no_drop"].append(got[1])
        await trio.sleep(0.3 + JITTER.uniform(0.0, 0.1))


def report(res: dict[str, Any]) -> str:
    """Markdown table, ratios against ``bare`` of the same run."""
    lines = [
        "| taker | drops | drop -> order p50 / p99 ms | p50 vs bare | no drop (marker -> "
        "order) p50 / p99 ms | missed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = statistics.median(res["bare"]["drop"]) if res.get("bare", {}).get("drop") else None
    for kind, r in res.items():
        d, n = r["drop"], r["no_drop"]
        d_s = f"{statistics.median(d):.0f} / {pct(d, 0.99):.0f}" if d else "-"
        n_s = f"{statistics.median(n):.0f} / {pct(n, 0.99):.0f}" if n else "-"
        ratio = f"{statistics.median(d) / base:.2f}" if d and base else "-"
        lines.append(f"| {kind} | {len(d)} | {d_s} | {ratio} | {n_s} | {r['missed']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="drops per taker and block")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 drops, 1 block")
    parser.add_argument("--out", help="write the raw samples as JSON here (for bench/plots.py)")
    parser.add_argument(
        "--drop",
        choices=("all", "market"),
        default="all",
        help="which websockets to close: all (default) or market data only (private kept)",
    )
    args = parser.parse_args()
    trials, blocks = (2, 1) if args.quick else (args.trials, args.blocks)
    started = time.perf_counter()
    out: dict[str, Any] = trio.run(main, trials, blocks, KINDS, args.drop)
    print(report(out))
    print(f"wall time {time.perf_counter() - started:.1f}s, machine {machine()}")
    if args.out:
        payload = {"result": out, "machine": machine(), "command": " ".join(sys.argv)}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(payload))
