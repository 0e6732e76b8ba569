"""Start-up time of the journal: how long recovery (the total replay) takes for N events.

    python bench/journal_startup.py --events 1000000

Writes a journal of ``--events`` order events (orders of five events each: intent, risk
approval, submit, ack, cancel; every 50th order partly filled), then times what a desk does
at start-up: open the file and :meth:`Journal.recover` it (decode, replay into the order
table and the portfolio, quarantine what does not apply). Replay is linear in the history:
this measures the cost that a snapshot + compaction would bound (not implemented yet).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.trading.journal import Journal, kind_of
from actors.trading.messages import (
    CancelOrder,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RiskApproved,
    SubmitOrder,
)


def order_events(i: int) -> list[Message]:
    cid = f"axbench-{i:09d}"
    intent = OrderIntent(
        client_order_id=cid, strategy="bench", venue="sim", symbol="BTC/USDT",
        side="buy" if i % 2 else "sell", order_type="limit", amount=Decimal("0.01"),
        price=Decimal("50000.00"), created_at=0.0,
    )  # fmt: skip
    ack = OrderUpdate(
        client_order_id=cid, venue="sim", venue_order_id=str(i), status=OrderStatus.OPEN,
        filled=Decimal(0), remaining=Decimal("0.01"),
    )  # fmt: skip
    last: Message = CancelOrder(client_order_id=cid, reason="requote")
    if i % 50 == 0:
        last = Fill(
            client_order_id=cid, venue="sim", symbol="BTC/USDT", side=intent.side,
            price=Decimal("50000.00"), amount=Decimal("0.004"), trade_id=f"t{i}",
        )  # fmt: skip
    return [intent, RiskApproved(intent=intent), SubmitOrder(intent=intent, venue="sim"), ack, last]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="where to write the journal (a temp dir)")
    args = parser.parse_args()
    path = Path(args.dir or tempfile.mkdtemp(prefix="journal-bench-")) / "journal.sqlite"
    started = time.perf_counter()
    with Journal(path) as journal:
        batch: list[tuple[str, Message]] = []
        i = 0
        written = 0
        while written < args.events:
            for msg in order_events(i):
                batch.append((kind_of(msg), msg))
            i += 1
            written += 5
            if len(batch) >= 20_000:
                journal.append_many(batch)
                batch = []
        if batch:
            journal.append_many(batch)
    wrote = time.perf_counter() - started
    size = os.path.getsize(path) / 1e6
    print(f"wrote {written} events ({i} orders) in {wrote:.1f}s; file {size:.0f} MB")
    started = time.perf_counter()
    with Journal(path) as journal:
        recovery = journal.recover()
    took = time.perf_counter() - started
    print(
        f"start-up (open + recover): {took:.2f}s for {written} events "
        f"({took / written * 1e6:.1f} us/event); {len(recovery.table)} orders, "
        f"{len(recovery.table.open_orders())} open, {len(recovery.quarantined)} quarantined"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
