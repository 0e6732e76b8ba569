"""Journal snapshots and compaction: start-up from a snapshot is the full replay, cheaper.

Start-up equivalence (hypothesis over random event streams, broken records included), a
corrupt snapshot (the older one, then a full replay of journal and archive, logged, never a
failed start), compaction that leaves a record in both files when interrupted, and a real
process SIGKILLed while it snapshots and compacts.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.runtime import ChildSpec, open_system
from actors.trading.journal import Journal, Recovery, archive_path_of
from actors.trading.journal_actor import JournalActor
from actors.trading.journal_state import Replay
from actors.trading.messages import (
    CancelOrder,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    SetTradingState,
    SubmitOrder,
    TradingState,
)
from actors.trading.orders import OrderError, OrderTable
from actors.trading.protocol import Append, ReadState
from tests.trading.e2e_helpers import wait_for

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
FOREVER = 1e12


def intent(cid: str, side: str = "buy", amount: str = "1") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid, strategy="s", venue="sim", symbol="BTC/USDT", side=side,
        order_type="limit", amount=D(amount), price=D("100"), created_at=0.0,
    )  # fmt: skip


def update(cid: str, status: OrderStatus, filled: Decimal | None = None) -> OrderUpdate:
    filled = filled or D(0)
    return OrderUpdate(
        client_order_id=cid, venue="sim", venue_order_id=f"v-{cid}", status=status,
        filled=filled, remaining=D(1) - filled,
    )  # fmt: skip


def fill(cid: str, side: str, amount: D, price: int, trade: int) -> Fill:
    return Fill(
        client_order_id=cid, venue="sim", symbol="BTC/USDT", side=side, price=D(price),
        amount=amount, fee=D("0.01"), fee_currency="USDT", trade_id=f"t{trade}",
    )  # fmt: skip


def full_state(recovery: Recovery) -> dict[str, Any]:
    """Everything a restart rebuilds, in comparable form (no clock values)."""
    return {
        "orders": orders_of(recovery.table),
        "positions": {
            (p.venue, p.symbol): (
                tuple((lot.quantity, lot.price) for lot in p.lots),
                p.realized_pnl,
                p.fees,
                p.other_fees,
                p.bought,
                p.sold,
                p.cash_flow,
                p.fill_count,
            )
            for p in recovery.portfolio.positions()
        },
        "trading_state": recovery.trading_state,
    }


def orders_of(table: OrderTable) -> dict[str, tuple[object, ...]]:
    return {
        o.client_order_id: (o.snapshot(), o.cancel_reason, o.submitted_wall, o.open_quantity)
        for o in table
    }


class Clock:
    """A wall clock that moves one second per reading."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


STEP = st.tuples(
    st.sampled_from(
        ["new", "submit", "ack", "fill", "cancel", "cancelled", "halt", "checkpoint", "junk"]
    ),
    st.integers(0, 5),
    st.integers(1, 9),
)
_example = itertools.count()


def event_for(step: str, cid: str, qty: int, live: OrderTable, trade: int) -> Message | None:
    """The message a random step journals (None: the step does not apply to this order)."""
    order = live.get(cid)
    side = "buy" if int(cid[1:]) % 2 else "sell"
    if step == "new":
        return intent(cid, side)
    if step == "halt":
        state = TradingState.HALTED if qty > 5 else TradingState.ACTIVE
        return SetTradingState(state=state, reason=f"r{qty}")
    if step == "junk":  # records that never apply: they are quarantined by either start
        return fill(f"ghost{qty}", side, D("0.1"), 100, trade)
    if order is None:
        return None
    if step == "submit":
        return SubmitOrder(intent=order.intent, venue="sim", sent_wall=float(qty))
    if step == "ack":
        return update(cid, OrderStatus.OPEN, order.venue_filled)
    if step == "fill":
        return fill(cid, order.side, D(qty) / 10, 90 + qty, trade)
    if step == "cancel":
        return CancelOrder(client_order_id=cid, reason=f"r{qty}")
    return update(cid, OrderStatus.CANCELLED, max(order.filled, order.venue_filled))


def play(j: Journal, steps: list[tuple[str, int, int]], *, prune: bool) -> None:
    """Journal ``steps``; a "checkpoint" step snapshots (and compacts) the state so far.

    Without ``prune`` every message is journaled as is (broken ones too) and nothing leaves
    the state; with it, only messages that apply live, none for a finished order, and the
    checkpoints drop finished orders (retention 0 .. 9 s, at most 0 .. 9 of them).
    """
    live = OrderTable()
    replay = Replay()
    for trade, (step, idx, qty) in enumerate(steps):
        if step == "checkpoint":
            retention, keep = (float(qty), qty % 4) if prune else (FOREVER, 1_000_000)
            j.checkpoint(replay, retention=retention, retain_orders=keep)
            continue
        cid = f"o{idx}"
        msg = event_for(step, cid, qty, live, trade)
        if msg is None:
            continue
        if prune:
            order = live.get(cid)
            if step == "junk" or (order is not None and order.is_terminal):
                continue
            try:
                live.apply(msg, 0.0)
            except OrderError:
                continue
        else:
            with contextlib.suppress(OrderError):  # journaled all the same: replay sets it aside
                live.apply(msg, 0.0)
        j.append_message(msg)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(STEP, max_size=60))
def test_start_from_a_snapshot_equals_a_full_replay(tmp_path: Path, steps) -> None:
    path = tmp_path / f"s{next(_example)}.db"
    with Journal(path, wall_clock=Clock()) as j:
        play(j, steps, prune=False)
    copy = path.with_suffix(".copy")
    shutil.copyfile(path, copy)  # closed: the WAL is in the file
    if os.path.exists(archive_path_of(path)):
        shutil.copyfile(archive_path_of(path), archive_path_of(copy))
    with Journal(path) as j, Journal(copy) as c:
        from_snapshot = j.recover()
        full = c.recover(snapshots=False)
        assert full_state(from_snapshot) == full_state(full)
        # The same records set aside, whether found by a checkpoint or at the start.
        assert {q.seq for q in j.quarantined()} == {q.seq for q in c.quarantined()}
        assert from_snapshot.fallbacks == []
        assert from_snapshot.snapshot_seq == max(j.snapshot_seqs(), default=0)


def assert_pruned_from(start: dict[str, Any], history: dict[str, Any]) -> None:
    """``start`` is ``history`` less some finished orders: same positions and trading state,
    every order it kept as the history has it, every open order kept."""
    assert start["positions"] == history["positions"]
    assert start["trading_state"] == history["trading_state"]
    assert {cid: history["orders"][cid] for cid in start["orders"]} == start["orders"]
    gone = set(history["orders"]) - set(start["orders"])
    assert all(history["orders"][cid][3] == 0 for cid in gone)  # nothing open was dropped


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(STEP, max_size=60))
def test_pruned_snapshots_keep_every_open_order_and_every_position(tmp_path: Path, steps) -> None:
    path = tmp_path / f"p{next(_example)}.db"
    with Journal(path, wall_clock=Clock()) as j:
        play(j, steps, prune=True)
    with Journal(path) as j:
        start = j.recover()
        history = j.recover(snapshots=False)  # journal + archive: every record ever written
    assert start.quarantined == [] == history.quarantined
    assert_pruned_from(full_state(start), full_state(history))


def busy_journal(path: Path, orders: int = 30) -> dict[str, Any]:
    """A journal with finished and open orders, two snapshots and an archive; its state."""
    with Journal(path, wall_clock=Clock()) as j:
        replay = Replay()
        archived = 0
        for i in range(orders):
            cid = f"o{i}"
            side = "buy" if i % 2 else "sell"
            j.append_message(intent(cid, side))
            j.append_message(SubmitOrder(intent=intent(cid, side), venue="sim"))
            j.append_message(update(cid, OrderStatus.OPEN))
            j.append_message(fill(cid, side, D("0.5"), 100 + i, i))
            if i % 3:
                j.append_message(update(cid, OrderStatus.CANCELLED, D("0.5")))
            if i in (orders // 3, 2 * orders // 3):
                archived += j.checkpoint(replay, retention=0.0, retain_orders=2).archived
        assert archived > 0 and len(j.snapshot_seqs()) == 2
        j.append_message(SetTradingState(state=TradingState.HALTED, reason="x"))
        return full_state(j.recover(snapshots=False))


def corrupt_snapshot(path: Path, seq: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE snapshots SET body = X'00ff00ff' WHERE seq = ?", (seq,))
    conn.commit()
    conn.close()


def test_a_corrupt_snapshot_falls_back_to_the_older_one_then_to_the_whole_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    state = busy_journal(path)
    with Journal(path) as j:
        older, newer = j.snapshot_seqs()
        recovery = j.recover()
        assert recovery.snapshot_seq == newer and recovery.fallbacks == []
        assert_pruned_from(full_state(recovery), state)
    corrupt_snapshot(path, newer)
    with Journal(path) as j:
        recovery = j.recover()
        assert recovery.snapshot_seq == older
        assert recovery.fallbacks == [
            f"snapshot at seq {newer} cannot be used: digest mismatch (the body is not what "
            "was written)"
        ]
        assert_pruned_from(full_state(recovery), state)
    corrupt_snapshot(path, older)
    with Journal(path) as j:
        recovery = j.recover()
        assert recovery.snapshot_seq == 0 and len(recovery.fallbacks) == 2
        assert full_state(recovery) == state  # the archive holds what compaction moved


async def test_the_journal_actor_starts_on_a_full_replay_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.db"
    state = busy_journal(path)
    with Journal(path) as j:
        seqs = j.snapshot_seqs()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE snapshots SET digest = 'x'")  # both unreadable
    conn.commit()
    conn.close()
    caplog.set_level(logging.INFO)
    spec = ChildSpec(
        "journal", lambda: JournalActor(str(path), snapshot_every=5, retention=FOREVER)
    )
    async with open_system([spec]) as system:
        journal = system.lookup("/journal")
        assert journal is not None
        desk = await journal.ask(ReadState(), timeout=30)
        assert desk.trading_state is TradingState.HALTED
        assert {o.intent.client_order_id for o in desk.orders} == set(state["orders"])
        # Appends go on, and the next snapshot (every 5 records) is a good one again.
        for i in range(5):
            await journal.ask(Append(events=(intent(f"n{i}"),)))
        await wait_for(lambda: newest_snapshot(path) > max(seqs), timeout=30)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"snapshot at seq {seqs[1]} cannot be used" in line for line in errors)
    assert any("recovered by a full replay of the journal and its archive" in e for e in errors)
    with Journal(path) as j:
        recovery = j.recover()
        assert recovery.fallbacks == [] and recovery.snapshot_seq > max(seqs)
        assert set(state["orders"]) < set(orders_of(recovery.table))


def newest_snapshot(path: Path) -> int:
    """The newest snapshot's seq, read as another process would."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT MAX(seq) FROM snapshots").fetchone()[0] or 0)
    finally:
        conn.close()


def test_an_interrupted_compaction_leaves_a_record_in_both_files_and_it_counts_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    state = busy_journal(path)
    archive = sqlite3.connect(archive_path_of(path))
    moved = archive.execute("SELECT seq, at, kind, client_order_id, payload FROM events").fetchall()
    archive.close()
    conn = sqlite3.connect(path)  # as if killed between the archive's commit and the delete
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", moved)
    conn.execute("DELETE FROM snapshots")
    conn.commit()
    conn.close()
    with Journal(path) as j:
        recovery = j.recover()
        assert recovery.quarantined == [] and full_state(recovery) == state


CHILD = """
import sys
import time
from decimal import Decimal
from actors.trading.journal import Journal
from actors.trading.journal_state import Replay
from actors.trading.messages import OrderIntent, OrderStatus, OrderUpdate, SubmitOrder

def intent(cid):
    return OrderIntent(client_order_id=cid, strategy="s", venue="sim", symbol="BTC/USDT",
        side="buy", order_type="limit", amount=Decimal(1), price=Decimal(100), created_at=0.0)

j = Journal(sys.argv[1])
replay = Replay()
n = 0
while True:
    batch = []
    for _ in range(400):
        cid = f"o{n}"
        batch += [("intent", intent(cid)), ("submit", SubmitOrder(intent=intent(cid), venue="sim"))]
        if n % 4:  # three in four end; the rest stay open (and in every snapshot)
            batch.append(("cancel", OrderUpdate(client_order_id=cid, venue="sim",
                venue_order_id=str(n), status=OrderStatus.CANCELLED, filled=Decimal(0),
                remaining=Decimal(1))))
        n += 1
    last = j.append_many(batch)[-1]
    print(f"APPENDED {last}", flush=True)
    # Journal.checkpoint step by step, each step announced (the test kills in one of them).
    print("PHASE advance", flush=True)
    j.advance(replay)
    replay.prune(time.time(), 0.0, 100)
    state = replay.state()
    print("PHASE write", flush=True)
    oldest = j.write_snapshot(state)
    print("PHASE compact", flush=True)
    j.compact(oldest, {o.intent.client_order_id for o in state.orders})
"""


@pytest.mark.parametrize("phase", ["advance", "write", "compact"])
def test_sigkill_while_snapshotting_and_compacting_loses_nothing(
    tmp_path: Path, phase: str
) -> None:
    path = tmp_path / "j.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    committed = 0
    seen = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("APPENDED"):
                committed = int(line.split()[1])
            elif line.strip() == f"PHASE {phase}":
                seen += 1
                if seen == 4:  # killed as its fourth snapshot enters that phase
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Journal(path) as j:
        recovery = j.recover()
        full = j.recover(snapshots=False)
        snapshots = j.snapshot_seqs()
    assert recovery.fallbacks == [] and recovery.quarantined == [] and snapshots
    # Every committed record is in the journal or its archive, once: 400 orders per batch,
    # 1100 records (a quarter of the orders stay open).
    history = orders_of(full.table)
    assert committed % 1100 == 0
    assert {f"o{n}" for n in range(committed // 1100 * 400)} <= set(history)
    assert len(full.quarantined) == 0
    # The start from the snapshot has every open order, each as the history has it.
    kept = orders_of(recovery.table)
    assert {cid for cid, o in history.items() if o[3] > 0} <= set(kept)
    assert {cid: history[cid] for cid in kept} == kept
    assert full_state(recovery)["trading_state"] == full_state(full)["trading_state"]
