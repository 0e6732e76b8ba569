"""The write-ahead commit cost per order: ``journal.sync = "normal"`` vs ``"full"``.

    python bench/journal_commit.py --orders 200 --blocks 4

Per order the desk commits one transaction before the order leaves: the intent and the risk
decision (queued) and the submit record (durable), :meth:`Journal.append_many`. This times
that commit on two journals in the same directory (same disk), one per mode, in interleaved
blocks (normal, full, normal, full...), so both see the same load; and the client-id lease
that makes ``normal`` safe against a power loss: one fsync'd grant per ``--block`` ids
(``LeaseStore.grant``), its cost spread over the orders that use them. Prints p50/p90/p99
per mode, the same-run ratio full/normal, and the lease's cost per order.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.trading.journal import Journal, kind_of
from actors.trading.leases import LeaseStore
from actors.trading.messages import Message, OrderIntent, RiskApproved, SubmitOrder


def write_ahead(i: int, mode: str) -> list[tuple[str, Message]]:
    """The records committed before order ``i`` leaves: intent, approval, submit."""
    intent = OrderIntent(
        client_order_id=f"axbench{mode}{i:09d}", strategy="mm", venue="sim", symbol="BTC/USDT",
        side="buy", order_type="limit", amount=Decimal("0.001"), price=Decimal("50000"),
        created_at=0.0,
    )  # fmt: skip
    records: list[Message] = [
        intent,
        RiskApproved(intent=intent, at=0.0),
        SubmitOrder(intent=intent, venue="sim", sent_at=0.0, sent_wall=time.time()),
    ]
    return [(kind_of(m), m) for m in records]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per block")
    parser.add_argument("--blocks", type=int, default=4, help="blocks per mode, interleaved")
    parser.add_argument("--block", type=int, default=16, help="ids per lease (journal.id_block)")
    parser.add_argument("--dir", default=None, help="where the journals go (default: a temp dir)")
    args = parser.parse_args()
    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        journals = {m: Journal(Path(tmp) / f"{m}.sqlite", sync=m) for m in ("normal", "full")}
        leases = LeaseStore(Path(tmp) / "normal.sqlite.leases")
        times: dict[str, list[float]] = {m: [] for m in journals}
        grants: list[float] = []
        n = 0
        for _ in range(args.blocks):
            for mode, journal in journals.items():
                for _ in range(args.orders):
                    records = write_ahead(n, mode)
                    n += 1
                    started = time.perf_counter()
                    journal.append_many(records)
                    times[mode].append(time.perf_counter() - started)
            for _ in range(max(1, args.orders // args.block)):
                started = time.perf_counter()
                leases.grant("bench", "mm", "axbenchstem", args.block)
                grants.append(time.perf_counter() - started)
        for journal in journals.values():
            journal.close()
        leases.close()

    print(f"write-ahead commit per order, {args.blocks} x {args.orders} orders per mode "
          f"(interleaved), directory {args.dir or tempfile.gettempdir()}:")  # fmt: skip
    for mode, samples in times.items():
        print(
            f"  sync={mode:6s} p50 {pct(samples, 0.5) * 1e3:7.3f} ms  "
            f"p90 {pct(samples, 0.9) * 1e3:7.3f} ms  p99 {pct(samples, 0.99) * 1e3:7.3f} ms  "
            f"mean {statistics.fmean(samples) * 1e3:7.3f} ms"
        )
    ratio = pct(times["full"], 0.5) / pct(times["normal"], 0.5)
    mean_ratio = statistics.fmean(times["full"]) / statistics.fmean(times["normal"])
    print(f"  same-run ratio full/normal: p50 {ratio:.1f}x, mean {mean_ratio:.1f}x")
    per_order = statistics.fmean(grants) / args.block
    print(
        f"  lease grant (fsync'd, {args.block} ids): p50 {pct(grants, 0.5) * 1e3:.3f} ms, "
        f"mean {statistics.fmean(grants) * 1e3:.3f} ms = {per_order * 1e3:.3f} ms per order, "
        "on a worker thread before the ids are needed (off the order path)"
    )


if __name__ == "__main__":
    main()
