"""The asyncio loop under every ccxt client: trio-asyncio's, draining callbacks in batches.

trio-asyncio runs asyncio on top of trio: its loop is a trio task that takes one asyncio
callback (a ``Handle``) from a trio memory channel, runs it, and awaits the channel again.
That ``await`` is a trio checkpoint, so every asyncio callback costs a full pass of trio's
scheduler: a websocket frame that wakes ccxt's parser, which resolves a future, which wakes
the coroutine waiting on it, is three passes, each behind every runnable trio task. On the
desk that added 14-38% to a bare ccxt.pro script's tick-to-order time (BENCHMARKS.md).

``BatchingTrioEventLoop`` runs what is already queued in one pass: after the callback it
waited for, it keeps taking callbacks that are ready now (and timers that are due), without
yielding, up to ``BATCH`` of them, then goes back to the channel's ``await``, which is where
trio tasks get their turn. Order is unchanged (FIFO, timers as before); only the number of
scheduler passes shrinks.

It overrides one private method of trio-asyncio, so it is pinned: it is used only on the
versions whose ``_main_loop_one`` it was read against (``TESTED``, checked by source hash at
start-up and by a test); on any other version the desk logs a warning and runs on the plain
loop, correct and slower. The change belongs upstream (a ``batch`` option of
``open_loop``); until then, this is the whole of it.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from typing import Any

import trio
import trio_asyncio
from trio_asyncio._loop import TrioEventLoop

log = logging.getLogger("actors.trading.aio_loop")

BATCH = 64
"""Asyncio callbacks run back to back before trio's other tasks get a turn."""

TESTED: dict[str, str] = {"0.16.0": "cbe727d658663f07"}
"""trio-asyncio version -> sha256 prefix of the ``_main_loop_one`` this adapter was read
against."""


def internals_fingerprint() -> tuple[str, str]:
    """The installed trio-asyncio version and the hash of the method we override."""
    source = inspect.getsource(TrioEventLoop._main_loop_one)
    return trio_asyncio.__version__, hashlib.sha256(source.encode()).hexdigest()[:16]


def batching_supported() -> bool:
    """Whether the installed trio-asyncio is one this adapter was tested on."""
    version, digest = internals_fingerprint()
    return TESTED.get(version) == digest


class BatchingTrioEventLoop(TrioEventLoop):  # type: ignore[misc]
    """trio-asyncio's loop, running every already-queued callback in one scheduler pass."""

    batch = BATCH

    async def _main_loop_one(self, no_wait: bool = False) -> None:
        await super()._main_loop_one(no_wait)
        if no_wait:
            return  # shutdown drains one at a time on its own
        for _ in range(self.batch - 1):
            if self._stopped.is_set():
                return
            try:
                # Takes a due timer or a queued callback without waiting; WouldBlock when
                # neither is there, and then we go back to waiting (a trio checkpoint).
                await super()._main_loop_one(no_wait=True)
            except trio.WouldBlock:
                return


def adopt(loop: Any) -> bool:
    """Make a freshly opened trio-asyncio ``loop`` drain in batches; False if unsupported.

    Changes the class of that one loop object (the class adds no state, only the method),
    before its main loop takes the next callback.
    """
    if not batching_supported():
        version, digest = internals_fingerprint()
        log.warning(
            "trio-asyncio %s (internals %s) is not one the batching adapter was tested on "
            "(%s): running on its plain loop, one asyncio callback per trio pass",
            version,
            digest,
            ", ".join(TESTED),
        )
        return False
    if type(loop) is TrioEventLoop:
        loop.__class__ = BatchingTrioEventLoop
    return isinstance(loop, BatchingTrioEventLoop)
