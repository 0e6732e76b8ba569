"""Start-up time of the journal for a history of N events: snapshots vs a full replay.

    python bench/journal_startup.py --events 10000 100000 1000000 --baseline ee9093a

For each N it writes a journal of N order events the way a desk does (orders of six events:
intent, risk approval, submit, ack, cancel request, cancelled; every 50th partly filled
first; the last 100 left open; wall-clock stamps at the demo's 25 events/s), snapshotting
every ``--snapshot-every`` records as the journal actor does (with compaction: finished
orders older than an hour leave the state and their records move to the archive); the last
snapshot is ``--snapshot-every`` records before the end (the worst case for start-up). Then
it times, same run, same history:

* ``snapshot``: what a desk's start-up does now: open the journal, recover it from the
  newest snapshot plus the records after it, and hand the state to the router and risk
  (``DeskState``, then their order table and portfolio);
* ``full replay``: the same start from no snapshot (the fall-back when every snapshot is
  unreadable): every record, archive and journal;
* ``baseline`` (with ``--baseline REV``): the program at git revision REV on the same history
  (a copy without snapshots): what its desk did at start-up, ``Journal.recover`` and then the
  router's and risk's own replays of every record (``ReadJournal``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.trading.journal import Journal, archive_path_of, kind_of
from actors.trading.journal_state import Replay
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

ROOT = Path(__file__).resolve().parents[1]
RATE = 25.0
"""Events per second of the paper demo (the wall-clock stamps of the history)."""


def order_events(i: int, last: bool) -> list[Message]:
    """The journal records of order ``i`` (``last``: one of the orders still open)."""
    cid = f"axbench-{i:09d}"
    side = "buy" if i % 2 else "sell"
    intent = OrderIntent(
        client_order_id=cid, strategy="bench", venue="sim", symbol="BTC/USDT", side=side,
        order_type="limit", amount=Decimal("0.01"), price=Decimal("50000.00"), created_at=0.0,
    )  # fmt: skip
    events: list[Message] = [
        intent,
        RiskApproved(intent=intent),
        SubmitOrder(intent=intent, venue="sim"),
        update(cid, i, OrderStatus.OPEN, Decimal(0)),
    ]
    filled = Decimal(0)
    if i % 50 == 0:
        filled = Decimal("0.004")
        fill = Fill(
            client_order_id=cid, venue="sim", symbol="BTC/USDT", side=side,
            price=Decimal("50000.00"), amount=filled, trade_id=f"t{i}",
        )  # fmt: skip
        events.append(fill)
    if not last:
        events.append(CancelOrder(client_order_id=cid, reason="requote"))
        events.append(update(cid, i, OrderStatus.CANCELLED, filled))
    return events


def update(cid: str, i: int, status: OrderStatus, filled: Decimal) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=cid, venue="sim", venue_order_id=str(i), status=status, filled=filled,
        remaining=Decimal("0.01") - filled,
    )  # fmt: skip


class HistoryClock:
    """Wall-clock stamps of a history written at ``RATE`` events per second, ending now."""

    def __init__(self, events: int) -> None:
        self.now = time.time() - events / RATE

    def advance(self, events: int) -> None:
        self.now += events / RATE

    def __call__(self) -> float:
        return self.now


def write(path: Path, events: int, snapshot_every: int) -> tuple[int, list[float]]:
    """Write the history, snapshotting every ``snapshot_every`` records (0: never); the
    number of orders and the seconds each checkpoint took (snapshot and compaction)."""
    clock = HistoryClock(events)
    replay = Replay()
    checkpoints: list[float] = []
    with Journal(path, wall_clock=clock) as journal:
        batch: list[tuple[str, Message]] = []
        written = snapshotted = orders = 0
        while written + len(batch) < events:
            last = events - written - len(batch) <= 600  # the last 100 orders stay open
            batch += [(kind_of(m), m) for m in order_events(orders, last)]
            orders += 1
            if len(batch) < 2000:
                continue
            journal.append_many(batch)
            clock.advance(len(batch))
            written += len(batch)
            batch = []
            # As the journal actor does (every snapshot_every records), and the last one
            # snapshot_every records before the end: the longest tail a start replays.
            final = events - snapshot_every
            due = (written - snapshotted >= snapshot_every and written < final) or (
                snapshotted < final <= written
            )
            if snapshot_every and due:
                started = time.perf_counter()
                journal.checkpoint(replay)
                checkpoints.append(time.perf_counter() - started)
                snapshotted = written
        if batch:
            journal.append_many(batch)
    return orders, checkpoints


def size_mb(path: Path) -> float:
    return sum(os.path.getsize(p) for p in (path, Path(archive_path_of(path))) if p.exists()) / 1e6


def start_with_snapshots(path: Path) -> tuple[float, str]:
    """A desk's start-up now: recover from the newest snapshot, hand the state over."""
    started = time.perf_counter()
    with Journal(path) as journal:
        recovery = journal.recover()
        assert recovery.replay is not None
        state = recovery.replay.state()  # ReadState, to the router and to risk
        table = state.order_table(0.0, wall_now=time.time())
        portfolio = state.portfolio()
    took = time.perf_counter() - started
    return took, (
        f"snapshot at seq {recovery.snapshot_seq} + {recovery.replayed} records; "
        f"{len(table)} orders in the state, {len(table.open_orders())} open, "
        f"position {portfolio.net_quantity('BTC/USDT')}"
    )


def full_replay(path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    with Journal(path) as journal:
        recovery = journal.recover(snapshots=False)
    took = time.perf_counter() - started
    return took, (
        f"{recovery.replayed} records; {len(recovery.table)} orders, "
        f"{len(recovery.table.open_orders())} open, "
        f"position {recovery.portfolio.net_quantity('BTC/USDT')}"
    )


BASELINE = """
import sys, time
from actors.trading.journal import Journal
from actors.trading.messages import Fill
from actors.trading.orders import replay
from actors.trading.positions import Portfolio
started = time.perf_counter()
with Journal(sys.argv[1]) as journal:
    recovery = journal.recover()                                  # the journal actor
    recovered = time.perf_counter() - started
    messages = tuple(event.message for event in journal.events())  # ReadJournal
table = replay(messages, 0.0, strict=False)                       # the router
portfolio = Portfolio()                                            # risk
for msg in messages:
    if isinstance(msg, Fill):
        portfolio.apply_fill(msg)
replay(messages, 0.0, strict=False)
took = time.perf_counter() - started
print(f"{took:.3f} {recovered:.3f} {len(table)} {len(table.open_orders())} "
      f"{portfolio.net_quantity('BTC/USDT')}")
"""


def baseline(path: Path, source: Path) -> tuple[float, str]:
    """The program at ``source`` on a copy of the history it can read (schema version 1)."""
    copy = path.with_name("baseline.sqlite")
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TABLE snapshots")
    conn.execute("DROP TABLE venues")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    conn.commit()
    conn.close()
    env = {**os.environ, "PYTHONPATH": str(source)}
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, str(copy)],
        env=env, cwd=source, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    copy.unlink()
    took, recovered, orders, open_, position = out
    return float(took), (
        f"Journal.recover {float(recovered):.2f}s + router and risk replays; {orders} orders, "
        f"{open_} open, position {position}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--snapshot-every", type=int, default=10_000)
    parser.add_argument("--baseline", help="git revision to compare with (e.g. main)")
    parser.add_argument("--dir", default=None, help="where to write the journals (a temp dir)")
    args = parser.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="journal-bench-"))
    source = None
    if args.baseline:
        source = root / "baseline-src"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    for events in args.events:
        work = root / f"n{events}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        plain, snapped = work / "plain.sqlite", work / "journal.sqlite"
        started = time.perf_counter()
        write(plain, events, 0)
        orders, checkpoints = write(snapped, events, args.snapshot_every)
        wrote = time.perf_counter() - started
        print(f"\n{events} events ({orders} orders), written twice in {wrote:.1f}s")
        if checkpoints:
            print(
                f"  {len(checkpoints)} checkpoints while writing: mean "
                f"{sum(checkpoints) / len(checkpoints) * 1e3:.0f} ms, max "
                f"{max(checkpoints) * 1e3:.0f} ms"
            )
        print(
            f"  files: {size_mb(plain):.1f} MB without compaction; {size_mb(snapped):.1f} MB "
            f"(journal {snapped.stat().st_size / 1e6:.1f} MB + archive) with it"
        )
        runs = [("snapshot", start_with_snapshots, snapped), ("full replay", full_replay, snapped)]
        if source is not None:
            runs.append((f"baseline {args.baseline}", lambda p: baseline(p, source), plain))
        results = []
        for name, start, path in runs:
            # The best of two: the first run also warms the file system cache.
            took, detail = min(start(path) for _ in range(2))
            results.append((name, took, detail))
        for name, took, detail in results:
            print(f"  start-up, {name:<20} {took:8.3f} s  ({detail})")
        if source is not None:
            print(f"  baseline / snapshot: {results[-1][1] / results[0][1]:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
