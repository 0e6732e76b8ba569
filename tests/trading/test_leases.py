"""Client-id leases: the store (pure), the leased generator, the journal's lease requests, a
strategy that refills before it runs out, and the journal's sync modes."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from actors.runtime import Actor, ChildSpec, System, open_system
from actors.trading.ids import ClientIdFormat, ClientOrderIdGenerator, IdsExhausted, format_id
from actors.trading.journal import Journal, JournalError
from actors.trading.journal_actor import JournalActor
from actors.trading.leases import LeaseError, LeaseStore, ids_of, leases_path_of
from actors.trading.messages import (
    OrderIntent,
    RejectReason,
    RiskApproved,
    RiskRejected,
    SubmitOrder,
)
from actors.trading.protocol import (
    Append,
    GetOrders,
    IdLease,
    LeaseIds,
    OutstandingLease,
    ReadLeases,
    SettleLeases,
)
from actors.trading.strategy import Strategy

STEM = "ax2mmloyw3v286sl"


@pytest.fixture
def vclock() -> trio.testing.MockClock:
    """Virtual time that jumps only after 20 ms of real idleness (leases fsync on a thread)."""
    return trio.testing.MockClock(autojump_threshold=0.02)


@asynccontextmanager
async def ticking() -> AsyncIterator[None]:
    """Virtual time advances in 10 ms steps while a worker thread fsyncs, never in one jump
    to the next time-out (which would fire it however fast the disk is)."""

    async def tick() -> None:
        while True:  # noqa: ASYNC110 - a clock tick, not a wait for a condition
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        yield
        nursery.cancel_scope.cancel()


# --- the store -----------------------------------------------------------------------------


def test_grants_are_consecutive_per_stem_and_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite.leases"
    with LeaseStore(path) as store:
        a = store.grant("r1", "mm", STEM, 16, ("sim",), ("BTC/USDT",))
        b = store.grant("r1", "mm", STEM, 8)
        other = store.grant("r1", "mm", "ax2mmother", 4)
        assert [(a.first, a.end), (b.first, b.end), (other.first, other.end)] == [
            (0, 16), (16, 24), (0, 4)
        ]  # fmt: skip
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with LeaseStore(path) as store:
        # A new run continues after every counter ever leased for that stem.
        assert store.grant("r2", "mm", STEM, 4).first == 24
        assert [x.seq for x in store.outstanding("r2")] == [a.seq, b.seq, other.seq]
        assert store.outstanding("r1")[-1].run == "r2"
        assert store.outstanding("r2")[0].venues == ("sim",)
        assert store.settle([a.seq, other.seq]) == 2
        assert [x.seq for x in store.outstanding("r2")] == [b.seq]


def test_bad_requests_and_files_are_refused(tmp_path: Path) -> None:
    with (
        LeaseStore(":memory:") as store,
        pytest.raises(ValueError, match=r"count: expected 1\.\.1000000 ids, got 0"),
    ):
        store.grant("r", "mm", STEM, 0)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(LeaseError, match=r"other.sqlite: not a lease file \(tables \['x'\]\)"):
        LeaseStore(other)


def test_ids_of_a_lease_are_the_generator_ids() -> None:
    gen = ClientOrderIdGenerator("mm", leased=True, rng=random.Random(3))
    lease = IdLease(seq=1, run="r", strategy="mm", stem=gen.stem, first=30, end=34)
    gen.grant(lease.first, lease.end)
    assert [gen.next() for _ in range(4)] == list(ids_of(lease, format_id))


# --- the leased generator ------------------------------------------------------------------


def test_a_leased_generator_uses_only_granted_counters_in_order() -> None:
    gen = ClientOrderIdGenerator("mm", leased=True, rng=random.Random(1))
    assert gen.remaining == 0
    with pytest.raises(IdsExhausted, match="no leased client order id left for strategy 'mm'"):
        gen.next()
    gen.grant(0, 2)
    gen.grant(5, 6)
    assert gen.remaining == 3
    assert [gen.next() for _ in range(3)] == [format_id(gen.stem, n) for n in (0, 1, 5)]
    with pytest.raises(IdsExhausted):
        gen.next()
    with pytest.raises(ValueError, match=r"bad counters 4\.\.4"):
        gen.grant(4, 4)
    assert ClientIdFormat(block=16).low_water == 4 and ClientIdFormat(block=2).low_water == 1


# --- the journal ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sync", "pragma"), [("normal", 1), ("full", 2)])
def test_journal_sync_modes(tmp_path: Path, sync: str, pragma: int) -> None:
    with Journal(tmp_path / "j.sqlite", sync=sync) as journal:
        assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == pragma


def test_a_bad_sync_mode_is_refused_naming_the_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"j.sqlite: sync must be one of .*got 'off'"):
        Journal(tmp_path / "j.sqlite", sync="off")


@pytest.mark.parametrize("archived", [False, True])
def test_the_journal_accounts_for_sent_and_risk_rejected_ids_archived_or_not(
    tmp_path: Path, archived: bool
) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        sent, refused, approved = _submit("a"), _submit("b").intent, _submit("c").intent
        no = RiskRejected(intent=refused, reason=RejectReason.AMOUNT_LIMIT, detail="x")
        journal.append_many(
            [("intent", sent.intent), ("submit", sent), ("intent", refused),
             ("risk_decision", no), ("intent", approved),
             ("risk_decision", RiskApproved(intent=approved))]
        )  # fmt: skip
        if archived:
            assert journal.compact(journal.last_seq(), keep=set()) == 6
            assert list(journal.events()) == []
        # c was approved but has no submit record: sent or not, only the venue knows.
        assert journal.accounted_ids(["a", "b", "c", "d"]) == {"a", "b"}


def _submit(cid: str) -> SubmitOrder:
    intent = OrderIntent(
        client_order_id=cid, strategy="mm", venue="sim", symbol="BTC/USDT", side="buy",
        order_type="limit", amount=Decimal("1"), price=Decimal("100"), created_at=0.0,
    )  # fmt: skip
    return SubmitOrder(intent=intent, venue="sim", sent_at=0.0)


class Inbox(Actor):
    """Keeps what it is sent; answers ``GetOrders`` with nothing (a router stand-in)."""

    def __init__(self, got: list[Any]) -> None:
        self.got = got

    async def handle(self, message: Any) -> Any:
        self.got.append(message)
        if isinstance(message, OrderIntent):
            return RiskApproved(intent=message)
        if isinstance(message, GetOrders):
            return ()
        return None


async def test_the_journal_grants_leases_and_answers_earlier_runs_ids_it_has_no_submit_of(
    tmp_path: Path, vclock: trio.testing.MockClock
) -> None:
    path = str(tmp_path / "j.sqlite")
    got: list[Any] = []
    first = [
        ChildSpec("journal", lambda: JournalActor(path, run="run-1")),
        ChildSpec("inbox", lambda: Inbox(got)),
    ]
    async with ticking(), open_system(first) as system:
        journal = system.lookup("/journal")
        assert journal is not None
        assert await journal.ask(ReadLeases()) == ()  # no lease file yet: none made
        lease = await journal.ask(LeaseIds(strategy="mm", stem=STEM, count=4))
        assert (lease.run, lease.first, lease.end) == ("run-1", 0, 4)
        await journal.send(LeaseIds(strategy="mm", stem=STEM, count=4, reply_to="/inbox"))
        with trio.fail_after(30):
            while not got:  # noqa: ASYNC110 - waits for the lease's fsync on a worker thread
                await trio.sleep(0.01)
        assert isinstance(got[0], IdLease) and (got[0].first, got[0].end) == (4, 8)
        # The first two ids were sent (their submit records are journaled); one only got an
        # intent record (a power loss may have taken its submit): it is looked up.
        ids = list(ids_of(lease, format_id))
        records = (_submit(ids[0]), _submit(ids[1]), _submit(ids[2]).intent)
        await journal.ask(Append(events=records))
        assert await journal.ask(ReadLeases()) == ()  # this run's own leases: none
    second = [ChildSpec("journal", lambda: JournalActor(path, run="run-2"))]
    async with ticking(), open_system(second) as system:
        journal = system.lookup("/journal")
        assert journal is not None
        outstanding = await journal.ask(ReadLeases())
        assert [type(x) for x in outstanding] == [OutstandingLease, OutstandingLease]
        assert outstanding[0].unknown == tuple(ids[2:])
        assert len(outstanding[1].unknown) == 4
        assert await journal.ask(SettleLeases(seqs=(outstanding[0].lease.seq,))) == 1
        assert [x.lease.seq for x in await journal.ask(ReadLeases())] == [got[0].seq]


# --- a strategy ----------------------------------------------------------------------------


class Submitter(Strategy):
    """Submits one order per ``"go"`` message and answers its client id."""

    async def handle(self, message: Any) -> Any:
        if message == "go":
            return await self.submit("BTC/USDT", "buy", 1, 100, venue="sim")
        return await super().handle(message)


def _actor(system: System, path: str) -> Any:
    cell = system._registry.get(path)  # test-only introspection
    assert cell is not None and cell.actor is not None
    return cell.actor


async def test_a_strategy_refills_its_lease_before_it_runs_out(
    tmp_path: Path, vclock: trio.testing.MockClock
) -> None:
    path = str(tmp_path / "j.sqlite")
    seen: list[Any] = []
    fmt = ClientIdFormat(block=4)
    specs = [
        ChildSpec("journal", lambda: JournalActor(path, run="r")),
        ChildSpec("risk", lambda: Inbox(seen)),
        ChildSpec("router", lambda: Inbox(seen)),
        ChildSpec("s", lambda: Submitter("mm", markets={"sim": ("BTC/USDT",)}, client_ids=fmt)),
    ]
    async with ticking(), open_system(specs) as system:
        strategy, ref = _actor(system, "/s"), system.lookup("/s")
        assert ref is not None and strategy.ids.leased and strategy.ids.remaining == 4
        cids = []
        for _ in range(14):
            cids.append(await ref.ask("go"))
            with trio.fail_after(30):
                while strategy._lease_pending:  # noqa: ASYNC110 - the refill's fsync
                    await trio.sleep(0.01)
        assert len(set(cids)) == 14
        # Every id came from a lease on disk, and no order waited for one.
        with LeaseStore(leases_path_of(path)) as store:
            leased = {i for lease in store.outstanding("next") for i in ids_of(lease, format_id)}
        assert set(cids) <= leased
        assert strategy.lease_waits == 0


async def test_no_lease_reachable_is_a_refusal_the_strategy_sees(
    tmp_path: Path, vclock: trio.testing.MockClock
) -> None:
    class NoJournal(Actor):
        async def handle(self, message: Any) -> Any:
            raise RuntimeError("journal broken")

    seen: list[Any] = []
    specs = [
        ChildSpec("journal", NoJournal),
        ChildSpec("risk", lambda: Inbox(seen)),
        ChildSpec("router", lambda: Inbox(seen)),
        ChildSpec("s", lambda: Submitter("mm", markets={"sim": ("BTC/USDT",)})),
    ]
    async with open_system(specs) as system:
        strategy, ref = _actor(system, "/s"), system.lookup("/s")
        assert ref is not None
        rejected: list[Any] = []

        async def on_reject(rejection: Any) -> None:
            rejected.append(rejection)

        strategy.on_reject = on_reject
        assert await ref.ask("go") is None
        [rejection] = rejected
        assert rejection.reason.value == "NO_CLIENT_ID"
        assert not [m for m in seen if isinstance(m, OrderIntent)]  # risk never asked
