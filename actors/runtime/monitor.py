"""Noticing a blocked event loop: a handler that never reaches a checkpoint.

Everything in a process runs on one trio thread, so a handler that blocks it (``time.sleep``,
a CPU-bound loop, a synchronous HTTP call) freezes every actor, the stall watchdog and
shutdown alike; the watchdog itself is a trio task and cannot fire until the handler yields.
Like asyncio's debug mode warning about slow callbacks, a small monitor thread keeps asking
the trio thread to run a no-op (``TrioToken.run_sync_soon``); when that has not happened
within ``threshold`` seconds the loop is blocked, and the monitor logs which actor holds it
(found on the trio thread's stack) with that stack, and counts the episode on the actor
(``ActorStats.blocked``). Costs nothing on the message path: one wake-up of the loop every
``threshold / 2`` seconds.

>>> # System(children, blocked_after=0.5)  # the default; None switches the monitor off
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from types import FrameType
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from actors.runtime.cell import Cell

log = logging.getLogger("actors.monitor")


class BlockingMonitor:
    """Watches the trio thread from a helper thread while ``run`` runs."""

    def __init__(self, threshold: float) -> None:
        if not threshold > 0 or threshold == float("inf"):
            raise ValueError(f"blocked_after must be a finite number > 0, got {threshold!r}")
        self.threshold = threshold
        self.episodes = 0
        """How often the loop was found blocked (actor or not)."""
        self._stop = threading.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled."""
        token = trio.lowlevel.current_trio_token()
        thread = threading.Thread(
            target=self._watch,
            args=(token, threading.get_ident()),
            name="actors-blocking-monitor",
            daemon=True,
        )
        self._stop.clear()
        thread.start()
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            self._stop.set()
            thread.join()

    def _watch(self, token: trio.lowlevel.TrioToken, trio_thread: int) -> None:
        while not self._stop.wait(self.threshold / 2):
            answered = threading.Event()
            try:
                token.run_sync_soon(answered.set)
            except trio.RunFinishedError:
                return
            began = time.monotonic()
            if answered.wait(self.threshold) or self._stop.is_set():
                continue
            self.episodes += 1
            frame = sys._current_frames().get(trio_thread)
            cell = _innermost_cell(frame)
            if cell is not None:
                cell.blocked += 1
            where = f"actor {cell.path}" if cell is not None else "code outside any actor"
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "?"
            log.warning(
                "event loop blocked for over %.2gs by %s: it has not reached a checkpoint "
                "(a blocking call or a long computation in a handler freezes every actor); "
                "its stack:\n%s",
                self.threshold,
                where,
                stack,
            )
            while not answered.wait(0.05):
                if self._stop.is_set():
                    return
            log.warning("event loop free again after %.2fs (%s)", time.monotonic() - began, where)


def _innermost_cell(frame: FrameType | None) -> Cell | None:
    """The cell whose incarnation is running on the stack ending in ``frame``, if any."""
    from actors.runtime.cell import Cell

    codes = Cell.RUN_CODES
    while frame is not None:
        if frame.f_code in codes:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, Cell):
                return candidate
        frame = frame.f_back
    return None
