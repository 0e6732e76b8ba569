"""The journal actor: owns the SQLite journal, writes on a worker thread, group-commits.

``ask(Append(events, durable=True))`` returns the last seq only after the transaction
committed (fsync'd), so the router can await durability before it sends an order.
``send(Append(events, durable=False))`` queues events: they are committed in the same
transaction as the next durable append (ahead of it, in arrival order) or by a flush timer
within ``flush_interval`` seconds. Risk decisions use that, so the write-ahead record of a
submit and the decision before it cost one fsync, not two.

>>> # await journal_ref.ask(Append(events=(submit,)))   # durable once this returns
"""

from __future__ import annotations

from typing import Any

import trio

from actors.runtime import Actor
from actors.trading.journal import Journal, kind_of
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
        self.commits = 0

    async def on_start(self) -> None:
        """Open (or create) the journal file on a worker thread."""
        self.journal = await trio.to_thread.run_sync(Journal, self.path)
        self.ctx.start_soon(self._flusher)

    async def handle(self, message: Any) -> Any:
        """Append, flush or read back the journal."""
        if isinstance(message, Append):
            if message.durable:
                return await self._commit(list(message.events))
            self._pending.extend(message.events)
            self._wake.set()
            return None
        if isinstance(message, Flush):
            return await self._commit([])
        if isinstance(message, ReadJournal):
            await self._commit([])
            return await self._read()
        return await super().handle(message)

    async def _commit(self, events: list[Message]) -> int:
        # Taking the pending list synchronously keeps arrival order: the limiter is FIFO.
        batch, self._pending = self._pending + events, []
        if not batch:
            return 0
        journal = self.journal
        assert journal is not None
        items = [(kind_of(m), m) for m in batch]
        seqs = await trio.to_thread.run_sync(journal.append_many, items, limiter=self._limiter)
        self.commits += 1
        return seqs[-1]

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
            await self._commit([])

    async def on_stop(self) -> None:
        """Commit what is queued, then close the file."""
        if self.journal is None:
            return
        try:
            await self._commit([])
        finally:
            journal, self.journal = self.journal, None
            await trio.to_thread.run_sync(journal.close, limiter=self._limiter)
