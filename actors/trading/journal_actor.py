"""The journal actor: owns the SQLite journal, group-commits, writes ahead on the trio thread.

``ask(Append(events, durable=True))`` returns the last seq only after the transaction
committed (fsync'd), so the router can await durability before it sends an order.
``send(Append(events, durable=False))`` queues events: they are committed in the same
transaction as the next durable append (ahead of it, in arrival order) or by a flush timer
within ``flush_interval`` seconds. Risk decisions use that, so the write-ahead record of a
submit and the decision before it cost one fsync, not two.

Where the writes run, and why:

* A durable append (the router's write-ahead record, on every order's critical path) commits
  synchronously on the trio thread. Handing it to a worker thread costs two thread wake-ups
  and a GIL hand-back per SQLite call, about as much as the fsync itself (measured, see
  BENCHMARKS.md); meanwhile the router is waiting for exactly this commit anyway. The price:
  the whole process stalls for one fsync (~0.5 ms on the bench machine's disk) per order.
* A timer flush of queued, non-durable events is nobody's critical path: it runs on a worker
  thread so market data keeps flowing meanwhile. A durable append that arrives while such a
  flush is in flight waits for it, so events are committed in arrival order.
* Snapshots (every ``snapshot_every`` records, and at start when the replay was long) run on
  a worker thread too: the actor keeps the replayed state (:class:`Replay`), brings it up to
  the last record, snapshots it and compacts (:meth:`Journal.checkpoint`). The appends go on
  meanwhile; the file's lock is held per page read and per small write only.

At start the journal is opened for this run's venues (:func:`open_journal`: kept, moved
aside for a fresh one, or refused) and recovered from its newest snapshot plus the records
after it. ``ask(ReadState())`` answers the state as of the last record (a ``DeskState``): the
router and risk rebuild from it, so none of them replays the history.

It also keeps the desk's client-id leases (:mod:`actors.trading.leases`, ``<journal>.leases``):
``LeaseIds`` grants the next block of a strategy's ids, fsync'd on a worker thread first (sent
with ``reply_to``, the lease is sent there when it is on disk, and the journal's mailbox never
waits for the fsync); ``ReadLeases`` answers the leases of earlier runs, which the router looks
up at the venues at start-up and then settles (``SettleLeases``).

>>> # await journal_ref.ask(Append(events=(submit,)))   # durable once this returns
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import trio

from actors.runtime import Actor
from actors.trading.ids import format_id
from actors.trading.journal import Journal, Quarantined, Recovery, kind_of
from actors.trading.journal_session import Identify, VenueIdentity, open_journal
from actors.trading.journal_state import DeskState, Replay
from actors.trading.leases import LeaseStore, ids_of, leases_path_of
from actors.trading.messages import Message
from actors.trading.protocol import (
    Append,
    Flush,
    IdLease,
    LeaseIds,
    OutstandingLease,
    ReadJournal,
    ReadLeases,
    ReadState,
    SettleLeases,
)


class JournalActor(Actor):
    """Append-only order-event journal at ``path`` (SQLite, WAL; ``sync`` as in
    :class:`Journal`: ``"normal"`` or ``"full"``), and the desk's client-id leases.

    ``run`` names this run of the desk (its leases are its own; the leases of other runs are
    the ones looked up at start-up). ``identify`` (see
    :func:`actors.trading.journal_session.identify_for`) tells which venue sessions and
    accounts this run trades on; ``desk`` and ``resume`` as in
    :func:`open_journal`; ``snapshot_every``, ``retention`` and ``retain_orders`` as in
    :class:`actors.trading.config.DeskOptions`.
    """

    def __init__(
        self,
        path: str,
        flush_interval: float = 0.05,
        *,
        desk: str | None = None,
        identify: Identify | None = None,
        resume: bool = False,
        snapshot_every: int = 10_000,
        retention: float = 3600.0,
        retain_orders: int = 10_000,
        sync: str = "normal",
        run: str = "",
    ) -> None:
        self.path = path
        self.sync = sync
        self.run = run
        self.leases: LeaseStore | None = None
        self._lease_limiter = trio.CapacityLimiter(1)
        self.leases_granted = 0
        self.flush_interval = flush_interval
        self.desk = desk
        self.identify = identify
        self.resume = resume
        self.snapshot_every = snapshot_every
        self.retention = retention
        self.retain_orders = retain_orders
        self.journal: Journal | None = None
        self._limiter = trio.CapacityLimiter(1)
        self._state_limiter = trio.CapacityLimiter(1)
        """Held by whoever uses ``_replay`` (always on a worker thread)."""
        self._compact_limiter = trio.CapacityLimiter(1)
        """Held while records move to the archive (on a worker thread)."""
        self._replay: Replay | None = None
        self._pending: list[Message] = []
        self._wake = trio.Event()
        self._flushing: trio.Event | None = None
        """Set while a background flush is committing on a worker thread (then: its end)."""
        self._since_snapshot = 0
        self._snapshotting = False
        self._stopping = False
        self.commits = 0
        self.quarantined = 0
        """Records of this journal set aside because they cannot be replayed."""
        self.snapshots = 0
        self.snapshot_errors = 0
        self.archived = 0
        """Records moved to the archive by this actor."""
        self.rotated_to: str | None = None
        """Where the journal of other venue sessions was moved at start (None: it was not)."""
        self.startup_seconds = 0.0
        """How long opening and recovering the journal took."""

    async def on_start(self) -> None:
        """Open the journal for this run's venues and recover it, on a worker thread.

        Recovery starts from the newest usable snapshot and quarantines every record that
        cannot be replayed (see :meth:`Journal.recover`), so the actors that read the
        journal next see only records that apply; each quarantined record is logged once,
        when it is found.
        """
        identities: dict[str, VenueIdentity] = {}
        if self.identify is not None:
            identities, problems = await self.identify()
            for line in problems:
                self.ctx.log.warning("journal %s: %s; its record is left as it is", self.path, line)
        started = time.perf_counter()
        now = trio.current_time()

        def open_and_recover() -> tuple[Journal, Recovery, Any]:
            opened = open_journal(
                self.path,
                desk=self.desk,
                identities=identities,
                resume=self.resume,
                may_rotate=self.ctx.incarnation == 1,
                sync=self.sync,
            )
            try:
                return opened.journal, opened.journal.recover(now), opened
            except BaseException:
                opened.journal.close()
                raise

        # One trip to a worker thread (the file may be large; the loop keeps running).
        self.journal, recovery, opened = await trio.to_thread.run_sync(open_and_recover)
        self.startup_seconds = time.perf_counter() - started
        self.rotated_to = opened.rotated_to
        for level, line in opened.notes:
            getattr(self.ctx.log, level)("%s", line)
        for line in recovery.fallbacks:
            self.ctx.log.error("journal %s: %s", self.path, line)
        if recovery.fallbacks:
            how = (
                f"from the snapshot at seq {recovery.snapshot_seq}"
                if recovery.snapshot_seq
                else "by a full replay of the journal and its archive"
            )
            self.ctx.log.error("journal %s: recovered %s instead", self.path, how)
        self._log_quarantined(recovery.quarantined)
        self.quarantined = recovery.quarantined_total
        if self.quarantined:
            self.ctx.log.warning(
                "journal %s: %d record(s) quarantined in all (table 'quarantine'); "
                "the desk runs on the records that apply",
                self.path,
                self.quarantined,
            )
        assert recovery.replay is not None
        self._replay = recovery.replay
        self.ctx.log.info(
            "journal %s: recovered in %.2fs: snapshot at seq %d + %d record(s); %d order(s), "
            "%d open",
            self.path, self.startup_seconds, recovery.snapshot_seq, recovery.replayed,
            len(recovery.table), len(recovery.table.open_orders()),
        )  # fmt: skip
        self.ctx.start_soon(self._flusher)
        self._since_snapshot = recovery.replayed
        self._maybe_snapshot()

    def _log_quarantined(self, found: list[Quarantined]) -> None:
        for q in found[:20]:
            self.ctx.log.error(
                "journal %s: record seq=%d (%s, order %s) quarantined: %s",
                self.path, q.seq, q.kind, q.client_order_id, q.reason,
            )  # fmt: skip
        if len(found) > 20:
            self.ctx.log.error("... and %d more", len(found) - 20)

    async def handle(self, message: Any) -> Any:
        """Append, flush or read back the journal."""
        if type(message) is Append:
            if message.durable:
                return await self._commit_now(message.events)
            self._pending.extend(message.events)
            self._wake.set()
            return None
        if isinstance(message, Flush):
            return await self._commit_now(())
        if isinstance(message, ReadState):
            await self._commit_now(())
            return await self._state()
        if isinstance(message, ReadJournal):
            await self._commit_now(())
            return await self._read()
        if isinstance(message, LeaseIds):
            if message.reply_to is None:
                return await self._grant(message)
            # The lease is sent when it is on disk; appends go on meanwhile.
            self.ctx.start_soon(self._grant_and_send, message)
            return None
        if isinstance(message, ReadLeases):
            return await self._leases_call(self._outstanding)
        if isinstance(message, SettleLeases):
            return await self._leases_call(lambda: self._store().settle(message.seqs))
        return await super().handle(message)

    # --- client-id leases ----------------------------------------------------------------

    def _store(self, *, create: bool = True) -> LeaseStore | None:
        """The lease file (opened on first use, on a worker thread: a desk without
        strategies never makes one); None if there is none and ``create`` is false."""
        if self.leases is None:
            path = leases_path_of(self.path)
            if not create and path != ":memory:" and not os.path.exists(path):
                return None
            self.leases = LeaseStore(path)
        return self.leases

    async def _leases_call(self, fn: Callable[[], Any]) -> Any:
        return await trio.to_thread.run_sync(fn, limiter=self._lease_limiter)

    def _outstanding(self) -> tuple[OutstandingLease, ...]:
        """Leases of earlier runs, each with its ids the journal does not account for."""
        store = self._store(create=False)
        if store is None:
            return ()
        leases = store.outstanding(self.run)
        assert self.journal is not None
        known = self.journal.accounted_ids(i for lease in leases for i in ids_of(lease, format_id))
        return tuple(
            OutstandingLease(
                lease=lease,
                unknown=tuple(i for i in ids_of(lease, format_id) if i not in known),
            )
            for lease in leases
        )

    async def _grant(self, request: LeaseIds) -> IdLease:
        lease: IdLease = await self._leases_call(
            lambda: self._store().grant(  # type: ignore[union-attr]
                self.run, request.strategy, request.stem, request.count, request.venues,
                request.symbols,
            )
        )  # fmt: skip
        self.leases_granted += 1
        return lease

    async def _grant_and_send(self, request: LeaseIds) -> None:
        lease = await self._grant(request)
        assert request.reply_to is not None
        target = self.ctx.lookup(request.reply_to)
        if target is None:
            self.ctx.log.warning("lease %d for %s: nobody at %s", lease.seq, lease.strategy,
                                 request.reply_to)  # fmt: skip
            return
        await target.send(lease)

    async def _commit_now(self, events: Iterable[Message]) -> int:
        """Commit what is queued plus ``events`` on this thread; the last seq (0: nothing).

        Not a checkpoint unless a background flush is in flight: the write-ahead path must not
        give the scheduler a turn it does not need.
        """
        while self._flushing is not None:
            # An earlier batch is being written on a worker thread: it lands first.
            await self._flushing.wait()
        batch = self._pending
        batch.extend(events)
        self._pending = []
        if not batch:
            return 0
        journal = self.journal
        assert journal is not None
        # Synchronous on purpose (see the module docstring): one fsync, no thread hand-off.
        seqs = journal.append_many([(kind_of(m), m) for m in batch])
        self.commits += 1
        self._since_snapshot += len(batch)
        if self._since_snapshot >= self.snapshot_every > 0:
            self._maybe_snapshot()
        return seqs[-1]

    async def _flush_in_thread(self) -> None:
        """Commit what is queued on a worker thread (timer flushes: off the critical path)."""
        while self._flushing is not None:
            await self._flushing.wait()
        batch, self._pending = self._pending, []
        if not batch:
            return
        journal = self.journal
        assert journal is not None
        items = [(kind_of(m), m) for m in batch]
        done = self._flushing = trio.Event()
        try:
            await trio.to_thread.run_sync(journal.append_many, items, limiter=self._limiter)
            self.commits += 1
            self._since_snapshot += len(items)
        finally:
            self._flushing = None
            done.set()
        self._maybe_snapshot()

    # --- the state, and its snapshots ----------------------------------------------------

    async def _state(self) -> DeskState:
        """The state after the last record (brought up to date on a worker thread)."""
        journal, replay = self.journal, self._replay
        assert journal is not None and replay is not None

        def advance() -> tuple[DeskState, list[Quarantined]]:
            _, found = journal.advance(replay)
            return replay.state(), found

        state, found = await trio.to_thread.run_sync(advance, limiter=self._state_limiter)
        self._count_quarantined(found)
        return state

    def _count_quarantined(self, found: list[Quarantined]) -> None:
        if found:
            self._log_quarantined(found)
            self.quarantined += len(found)

    def _maybe_snapshot(self) -> None:
        """Start a snapshot in the background when enough records came since the last."""
        if (
            self.snapshot_every <= 0
            or self._stopping
            or self._snapshotting
            or self._since_snapshot < self.snapshot_every
            or self._replay is None
        ):
            return
        self._snapshotting = True
        self._since_snapshot = 0
        self.ctx.start_soon(self._snapshot)

    async def _snapshot(self) -> None:
        """Snapshot the state, then archive what it allows (each on a worker thread).

        Only the snapshot holds the state: a ``ReadState`` waits for it, not for the
        compaction, which may move many records (the first one after an upgrade).
        """
        journal, replay = self.journal, self._replay
        assert journal is not None and replay is not None
        started = time.perf_counter()
        snapshot = functools.partial(
            journal.snapshot, replay, retention=self.retention, retain_orders=self.retain_orders
        )

        def run(step: Callable[[], Any]) -> Any:
            # The journal may have closed while this waited for its turn.
            return step() if self.journal is not None else None

        try:
            done = await trio.to_thread.run_sync(run, snapshot, limiter=self._state_limiter)
            if done is None:
                return
            self.snapshots += 1
            self._count_quarantined(done.quarantined)
            compact = functools.partial(journal.compact, done.compact_upto, done.keep)
            archived = await trio.to_thread.run_sync(run, compact, limiter=self._compact_limiter)
        except Exception as exc:
            # The journal itself goes on; start-up just replays more until the next one.
            self.snapshot_errors += 1
            self.ctx.log.error("journal %s: snapshot failed: %r", self.path, exc)
            return
        finally:
            self._snapshotting = False
        self.archived += archived or 0
        self.ctx.log.info(
            "journal %s: snapshot after seq %d (%d order(s), %.0f KB; %d order(s) past "
            "retention dropped, %d record(s) archived) in %.2fs",
            self.path, done.seq, done.orders, done.size / 1e3, done.pruned, archived or 0,
            time.perf_counter() - started,
        )  # fmt: skip

    async def _read(self) -> tuple[Message, ...]:
        journal = self.journal
        assert journal is not None

        def read() -> tuple[Message, ...]:
            return tuple(event.message for event in journal.events())

        return await trio.to_thread.run_sync(read, limiter=self._limiter)

    async def _flusher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            await trio.sleep(self.flush_interval)
            await self._flush_in_thread()

    async def on_stop(self) -> None:
        """Commit what is queued, then close the file."""
        if self.journal is None:
            return
        self._stopping = True
        try:
            await self._commit_now(())
        finally:
            # A snapshot or compaction in flight finishes first (it holds the file).
            async with self._state_limiter, self._compact_limiter:
                journal, self.journal = self.journal, None
                await trio.to_thread.run_sync(journal.close, limiter=self._limiter)
            if self.leases is not None:
                leases, self.leases = self.leases, None
                await self._leases_call(leases.close)
