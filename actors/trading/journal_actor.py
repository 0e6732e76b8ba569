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

>>> # await journal_ref.ask(Append(events=(submit,)))   # durable once this returns
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import trio

from actors.runtime import Actor
from actors.trading.journal import Journal, Recovery, kind_of
from actors.trading.messages import Message
from actors.trading.protocol import Append, Flush, ReadJournal


class JournalActor(Actor):
    """Append-only order-event journal at ``path`` (SQLite, WAL, synchronous=FULL)."""

    def __init__(self, path: str, flush_interval: float = 0.05) -> None:
        self.path = path
        self.flush_interval = flush_interval
        self.journal: Journal | None = None
        self._limiter = trio.CapacityLimiter(1)
        self._pending: list[Message] = []
        self._wake = trio.Event()
        self._flushing: trio.Event | None = None
        """Set while a background flush is committing on a worker thread (then: its end)."""
        self.commits = 0
        self.quarantined = 0
        """Records of this journal set aside because they cannot be replayed."""

    async def on_start(self) -> None:
        """Open (or create) the journal file and recover it, on a worker thread.

        Recovery quarantines every record that cannot be replayed (see
        :meth:`Journal.recover`), so the actors that read the journal next see only records
        that apply; each quarantined record is logged once, when it is found.
        """

        def open_and_recover() -> tuple[Journal, Recovery]:
            journal = Journal(self.path)
            try:
                return journal, journal.recover()
            except BaseException:
                journal.close()
                raise

        # One trip to a worker thread (the file may be large; the loop keeps running).
        self.journal, recovery = await trio.to_thread.run_sync(open_and_recover)
        for q in recovery.quarantined[:20]:
            self.ctx.log.error(
                "journal %s: record seq=%d (%s, order %s) quarantined: %s",
                self.path, q.seq, q.kind, q.client_order_id, q.reason,
            )  # fmt: skip
        if len(recovery.quarantined) > 20:
            self.ctx.log.error("... and %d more", len(recovery.quarantined) - 20)
        self.quarantined = recovery.quarantined_total
        if self.quarantined:
            self.ctx.log.warning(
                "journal %s: %d record(s) quarantined in all (table 'quarantine'); "
                "the desk runs on the records that apply",
                self.path,
                self.quarantined,
            )
        self.ctx.start_soon(self._flusher)

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
        if isinstance(message, ReadJournal):
            await self._commit_now(())
            return await self._read()
        return await super().handle(message)

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
        finally:
            self._flushing = None
            done.set()

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
        try:
            await self._commit_now(())
        finally:
            journal, self.journal = self.journal, None
            await trio.to_thread.run_sync(journal.close, limiter=self._limiter)
