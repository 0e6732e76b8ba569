"""Journal: durability on a real SQLite file, refusal of foreign files, rebuild == live state."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.trading.journal import SCHEMA_VERSION, Journal, JournalCorrupt, JournalError, kind_of
from actors.trading.messages import (
    CancelOrder,
    Fill,
    Message,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SetTradingState,
    SubmitOrder,
    SubmitUnknown,
    TradingState,
    TradingStateChanged,
)
from actors.trading.orders import OrderError, OrderTable

D = Decimal


def intent(cid: str, amount: str = "2") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        strategy="s",
        venue="sim",
        symbol="BTC/USDT",
        side="buy",
        order_type="limit",
        amount=D(amount),
        price=D("100"),
        created_at=0.0,
    )


def update(cid: str, status: OrderStatus, filled: str = "0", amount: str = "2") -> OrderUpdate:
    return OrderUpdate(
        client_order_id=cid,
        venue="sim",
        venue_order_id=f"v-{cid}",
        status=status,
        filled=D(filled),
        remaining=D(amount) - D(filled),
    )


def fill(cid: str, amount: str, trade_id: str) -> Fill:
    return Fill(
        client_order_id=cid,
        venue="sim",
        symbol="BTC/USDT",
        side="buy",
        price=D("100"),
        amount=D(amount),
        fee=D("0.01"),
        fee_currency="USDT",
        trade_id=trade_id,
    )


def scenario() -> list[Message]:
    a, b, c = intent("a"), intent("b"), intent("c")
    return [
        a,
        RiskApproved(intent=a),
        SubmitOrder(intent=a, venue="sim"),
        update("a", OrderStatus.OPEN),
        fill("a", "0.5", "t1"),
        b,
        RiskRejected(intent=b, reason=RejectReason.AMOUNT_LIMIT, detail="too big"),
        c,
        RiskApproved(intent=c),
        SubmitOrder(intent=c, venue="sim"),
        SubmitUnknown(client_order_id="c", venue="sim", reason="timeout"),
        CancelOrder(client_order_id="a", reason="requote"),
        TradingStateChanged(state=TradingState.HALTED, previous=TradingState.ACTIVE, reason="k"),
    ]


def live_table(msgs: list[Message]) -> OrderTable:
    table = OrderTable()
    for msg in msgs:
        table.apply(msg, 0.0)
    return table


def test_append_returns_increasing_seq_and_events_round_trip(tmp_path: Path) -> None:
    msgs = scenario()
    with Journal(tmp_path / "j.db", wall_clock=lambda: 123.0) as j:
        seqs = [j.append_message(m) for m in msgs]
        assert seqs == list(range(1, len(msgs) + 1))
        events = list(j.events())
        assert [e.message for e in events] == msgs
        assert events[0].kind == "intent" and events[0].client_order_id == "a"
        assert events[0].at == 123.0
        assert [e.seq for e in j.events(since_seq=10)] == [11, 12, 13]
        assert [e.kind for e in j.events(client_order_id="c")] == [
            "intent",
            "risk_decision",
            "submit",
            "state",
        ]
        assert j.last_seq() == len(msgs)


def test_kinds_of_order_updates() -> None:
    assert kind_of(update("a", OrderStatus.OPEN)) == "ack"
    assert kind_of(update("a", OrderStatus.CANCELLED)) == "cancel"
    assert kind_of(update("a", OrderStatus.FILLED, "2")) == "state"
    assert kind_of(fill("a", "1", "t")) == "fill"


def test_pragma_wal_and_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_rebuild_after_reopen_matches_live_state(tmp_path: Path) -> None:
    msgs = scenario()
    path = tmp_path / "j.db"
    with Journal(path) as j:
        for m in msgs:
            j.append_message(m)
    with Journal(path) as j:
        rebuilt = j.rebuild(now=500.0)
        assert rebuilt.snapshot() == live_table(msgs).snapshot()
        assert rebuilt["a"].status is OrderStatus.CANCELLING and rebuilt["a"].filled == D("0.5")
        assert rebuilt["b"].status is OrderStatus.REJECTED
        assert rebuilt["c"].status is OrderStatus.UNKNOWN
        assert rebuilt["c"].submitted_at == 500.0  # grace restarts from the restart time
        assert j.last_trading_state() is TradingState.HALTED
        pf = j.rebuild_portfolio()
        assert pf.net_quantity("BTC/USDT") == D("0.5")
        assert pf.position("sim", "BTC/USDT").fees == D("0.01")


def test_killed_writer_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    code = f"""
import os
from decimal import Decimal
from actors.trading.journal import Journal
from actors.trading.messages import OrderIntent
j = Journal({str(path)!r})
for i in range(5):
    j.append("intent", OrderIntent(client_order_id=f"k{{i}}", strategy="s", venue="sim",
        symbol="BTC/USDT", side="buy", order_type="limit", amount=Decimal("1"),
        price=Decimal("1"), created_at=0.0))
os._exit(9)  # killed: no close, no checkpoint
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], timeout=60)
    assert proc.returncode == 9
    with Journal(path) as j:
        assert sorted(o.client_order_id for o in j.rebuild()) == [f"k{i}" for i in range(5)]


def test_second_connection_sees_each_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    writer = Journal(path)
    reader = Journal(path)
    try:
        writer.append_message(intent("x"))
        assert [e.client_order_id for e in reader.events()] == ["x"]
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        raw.close()
    finally:
        writer.close()
        reader.close()


def test_append_many_is_all_or_nothing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        assert j.append_many([("intent", intent("a")), ("intent", intent("b"))]) == [1, 2]
        with pytest.raises(JournalError, match="kind 'fill' cannot carry OrderIntent"):
            j.append_many([("intent", intent("c")), ("fill", intent("d"))])
        assert j.last_seq() == 2


def test_append_validates_kind(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        with pytest.raises(JournalError, match="unknown kind 'bogus'"):
            j.append("bogus", intent("a"))
        with pytest.raises(JournalError, match="kind 'ack' cannot carry OrderIntent"):
            j.append("ack", intent("a"))
        assert j.last_seq() == 0


def test_refuses_non_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database at all, just some text " * 100)
    with pytest.raises(JournalError, match=f"{path}.*not an SQLite database"):
        Journal(path)


def test_refuses_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=f"{path}: not a journal"):
        Journal(path)


def test_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    newer = SCHEMA_VERSION + 1
    with pytest.raises(JournalError, match=f"{path}: schema version {newer} is newer"):
        Journal(path)


def test_corrupt_payload_names_the_seq(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        j.append_message(intent("a"))
        j.append_message(intent("b"))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET payload = X'7b6e6f' WHERE seq = 2")
    conn.commit()
    conn.close()
    with Journal(path) as j:
        with pytest.raises(JournalCorrupt, match=r"seq=2: undecodable payload") as err:
            list(j.events())
        assert err.value.seq == 2
        assert [e.seq for e in j.events(since_seq=2)] == []


def test_a_record_that_cannot_be_replayed_is_quarantined_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as j:
        j.append_message(intent("a"))
        j.append_message(fill("a", "1", "t1"))  # a fill for an order never submitted
        recovery = j.recover()
        assert [(q.seq, q.client_order_id) for q in recovery.quarantined] == [(2, "a")]
        assert "cannot replay: order a" in recovery.quarantined[0].reason
        assert [e.seq for e in j.events()] == [1]  # reads skip it from now on
    conn = sqlite3.connect(path)
    conn.execute("UPDATE events SET kind = 'ack' WHERE seq = 1")
    conn.commit()
    conn.close()
    with Journal(path) as j:
        with pytest.raises(JournalCorrupt, match="seq=1: kind 'ack' holds"):
            list(j.events())  # not recovered yet: a direct read still refuses it
        recovery = j.recover()
        assert "kind 'ack' holds a OrderIntent" in recovery.quarantined[0].reason
        assert recovery.quarantined_total == 2 and list(j.events()) == []


BROKEN = {
    "undecodable bytes": ("intent", b"\x00\xff{not json"),
    "unknown kind": ("teleport", None),
    "NaN amount": ("intent", "nan"),
    "duplicate intent": ("intent", "dup"),
    "ack before submit": ("ack", "early"),
    "ack for an unknown order": ("ack", "ghost"),
    "overfill": ("fill", "over"),
    "out of order terminal": ("state", "late"),
}


def write_broken_journal(path: Path) -> dict[str, int]:
    """A journal of good orders with every kind of broken record between them; seq by case."""
    seqs: dict[str, int] = {}
    with Journal(path) as j:
        for msg in scenario():
            j.append_message(msg)
        good = intent("good")
        for msg in (good, RiskApproved(intent=good), SubmitOrder(intent=good, venue="sim")):
            j.append_message(msg)
        j.append_message(update("good", OrderStatus.OPEN))
        bad = OrderIntent(**{**{f: getattr(good, f) for f in good.__struct_fields__},
                             "client_order_id": "nan", "amount": D("NaN")})  # fmt: skip
        raw = {
            "NaN amount": bad,
            "duplicate intent": intent("a"),
            "ack before submit": None,
            "ack for an unknown order": update("ghost", OrderStatus.OPEN),
            "overfill": fill("good", "5", "t-over"),
            "out of order terminal": update("b", OrderStatus.FILLED),
        }
        early = intent("early")
        j.append_message(early)
        seqs["ack before submit"] = j.append_message(update("early", OrderStatus.OPEN))
        for case, msg in raw.items():
            if msg is not None:
                seqs[case] = j.append_message(msg)
        seqs["undecodable bytes"] = j.append_message(intent("x"))
        seqs["unknown kind"] = j.append_message(intent("y"))
        j.append_message(fill("good", "1", "t-good"))
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE events SET payload = ? WHERE seq = ?",
        (BROKEN["undecodable bytes"][1], seqs["undecodable bytes"]),
    )
    conn.execute("UPDATE events SET kind = 'teleport' WHERE seq = ?", (seqs["unknown kind"],))
    conn.commit()
    conn.close()
    return seqs


def test_replay_is_total_every_kind_of_broken_record_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    seqs = write_broken_journal(path)
    with Journal(path) as j:
        recovery = j.recover()
        assert {q.seq for q in recovery.quarantined} == set(seqs.values())
        table = recovery.table
        # Everything that applies is there: the good order with its fill, the scenario.
        assert table["good"].status is OrderStatus.PARTIALLY_FILLED
        assert table["good"].filled == D("1")
        assert table["a"].filled == D("0.5") and "nan" not in table
        assert table["early"].status is OrderStatus.NEW
        assert recovery.portfolio.net_quantity("BTC/USDT") == D("1.5")
        assert recovery.trading_state is TradingState.HALTED
    with Journal(path) as j:  # a second start finds nothing new and the same state
        again = j.recover()
        assert again.quarantined == [] and again.quarantined_total == len(seqs)
        assert again.table.snapshot() == table.snapshot()


def test_usable_from_a_worker_thread(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    seqs: list[int] = []

    def work() -> None:
        for i in range(20):
            seqs.append(j.append_message(intent(f"t{i}")))

    worker = threading.Thread(target=work)
    worker.start()
    j.append_message(SetTradingState(state=TradingState.ACTIVE, reason="main thread"))
    worker.join()
    assert j.last_seq() == 21 and len(seqs) == 20
    j.close()


async def test_works_through_trio_to_thread(tmp_path: Path) -> None:
    import trio

    j = Journal(tmp_path / "j.db")
    limiter = trio.CapacityLimiter(1)
    seq = await trio.to_thread.run_sync(j.append_message, intent("z"), limiter=limiter)
    assert seq == 1
    table = await trio.to_thread.run_sync(j.rebuild, limiter=limiter)
    assert "z" in table
    j.close()


# --- property: rebuild == live state for random event streams ------------------------------

_example = itertools.count()
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["new", "submit", "ack", "fill", "unknown", "cancel", "cancelled"]),
        st.integers(0, 3),
        st.integers(1, 5),
    ),
    max_size=40,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(STEPS)
def test_rebuild_equals_live_state(tmp_path: Path, steps) -> None:
    path = tmp_path / f"p{next(_example)}.db"
    live = OrderTable()
    trade = 0
    with Journal(path) as j:
        for step, idx, qty in steps:
            cid = f"o{idx}"
            order = live.get(cid)
            msg: Message
            if step == "new":
                msg = intent(cid)
            elif order is None:
                continue
            elif step == "submit":
                msg = SubmitOrder(intent=order.intent, venue="sim")
            elif step == "ack":
                msg = update(cid, OrderStatus.OPEN, str(order.venue_filled))
            elif step == "fill":
                trade += 1
                msg = fill(cid, f"0.{qty}", f"t{trade}")
            elif step == "unknown":
                msg = SubmitUnknown(client_order_id=cid, venue="sim", reason="t")
            elif step == "cancel":
                msg = CancelOrder(client_order_id=cid)
            else:
                msg = update(cid, OrderStatus.CANCELLED, str(max(order.filled, order.venue_filled)))
            try:
                live.apply(msg, 0.0)
            except OrderError:
                continue  # refused live: the actor would not journal it
            j.append_message(msg)
    with Journal(path) as j:
        assert j.rebuild().snapshot() == live.snapshot()
