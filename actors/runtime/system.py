"""The actor system: root of the supervision tree, registry, event bus, dead letters, signals."""

from __future__ import annotations

import functools
import logging
import math
import random
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from actors.runtime.cell import STOP, Cell, ChildExited, Injected, unwrap
from actors.runtime.events import DeadLetter, Event, EventBus, EventStream, GaveUp
from actors.runtime.mailbox import Mailbox
from actors.runtime.monitor import BlockingMonitor
from actors.runtime.ref import Ref
from actors.runtime.spec import ChildSpec, Strategy
from actors.runtime.stats import ActorStats
from actors.runtime.supervisor import Supervisor

log = logging.getLogger("actors.system")

CRASH_TRACEBACK_EVERY = 60.0
"""Seconds between two tracebacks of the same crash (the repeats are logged in one line)."""


def _raise_site(error: BaseException) -> str:
    """Where ``error`` was raised: the innermost frame of its traceback, as ``file:line``."""
    tb = error.__traceback__
    if tb is None:
        return "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


class System:
    """The root supervisor and everything that is global to one tree of actors.

    Top-level children live at ``/name``; their children at ``/name/child``. ``run`` returns
    once the tree has stopped (``stop()``, cancellation, SIGINT/SIGTERM when asked to handle
    signals) and raises ``SupervisorGaveUp`` if the root supervisor exceeded its restart
    intensity.

    >>> # system = System([ChildSpec("echo", Echo)], max_restarts=5, within=10)
    >>> # trio.run(system.run)
    """

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within: float = 5.0,
        seed: int | None = None,
        blocked_after: float | None = 0.5,
        resolver: Callable[[str], Ref | None] | None = None,
    ) -> None:
        specs = tuple(children)
        self.resolver = resolver
        """Consulted by ``lookup`` for a path with no actor in this process: returns a ``Ref``
        to an actor that lives elsewhere (``actors.remote``'s node installs one), or None.
        May be set after construction."""
        self.monitor = BlockingMonitor(blocked_after) if blocked_after is not None else None
        """Reports handlers that block the event loop longer than ``blocked_after`` seconds
        (see ``actors.runtime.monitor``); None when switched off."""
        Supervisor.validate("/", specs, max_restarts, within)
        self.rng = random.Random(seed)
        """Source of backoff jitter; seed it for reproducible runs."""
        self.events = EventBus()
        self.dead_letters = 0
        self._registry: dict[str, Cell] = {}
        self._retired: dict[str, ActorStats] = {}
        root_spec = ChildSpec(
            "root",
            lambda: Supervisor(specs, strategy=strategy, max_restarts=max_restarts, within=within),
            shutdown_grace=math.inf,
            start_timeout=None,
        )
        self._root = Cell(root_spec, "/", self, None)
        self._registry["/"] = self._root
        self._root_error: BaseException | None = None
        self._stop_requested = False
        self._hard = trio.CancelScope(shield=True)
        self.ready = trio.Event()
        """Set once every top-level child has started."""
        self.stopped = trio.Event()
        """Set once the whole tree has stopped (``run`` is about to return)."""
        self._stop_hooks: set[trio.CancelScope] = set()
        self.gave_up: list[GaveUp] = []
        """Every time a supervisor gave up (on a child, or on itself), in order."""
        self._crash_logged: dict[tuple[str, type, str], tuple[float, int]] = {}

    # -- running ---------------------------------------------------------------------------

    async def run(
        self,
        *,
        handle_signals: bool = False,
        task_status: trio.TaskStatus[System] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run the tree until it stops; ``task_status.started`` fires once all children are up.

        Cancelling ``run`` stops the tree gracefully (reverse start order, grace periods)
        before the cancellation goes on. With ``handle_signals``, the first SIGINT or SIGTERM
        does the same, and a second one cancels the tree outright.
        """
        up = _Up()
        async with trio.open_nursery() as nursery:
            # Not nursery.start(): the tree is shielded, so a cancelled start() would wait
            # forever for a root stuck in on_start. Waiting on an event stays cancellable.
            if self.monitor is not None:
                await nursery.start(self.monitor.run)
            self._root.prepare()  # so a stop() from now on finds the root running
            nursery.start_soon(self._run_tree, up)
            try:
                await up.event.wait()
                self.ready.set()
                if handle_signals:
                    await nursery.start(self._watch_signals)
                task_status.started(self)
                await self._root.exited.wait()
            finally:
                with trio.CancelScope(shield=True):
                    await self.stop()
                nursery.cancel_scope.cancel()  # the signal watcher and the monitor
                self.stopped.set()
        if self._root_error is not None:
            raise self._root_error

    async def _run_tree(self, up: _Up) -> None:
        # Shielded so that cancelling run() turns into an orderly stop, not a massacre;
        # only a second signal (or _hard.cancel()) cuts it short.
        with self._hard:
            await self._root.run(task_status=up)  # type: ignore[arg-type]

    async def stop(self) -> None:
        """Stop every actor in reverse start order, each within its grace period."""
        self._stop_requested = True
        await self._root.stop()

    def kill(self) -> None:
        """Cancel every actor now, stop hooks included: the way out of a stuck shutdown."""
        self._hard.cancel()
        for scope in list(self._stop_hooks):
            scope.cancel()

    async def _watch_signals(self, *, task_status: trio.TaskStatus[None]) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if self._stop_requested:
                    log.warning("second %s: cancelling everything now", name)
                    self.kill()
                    return
                log.info("%s received: stopping gracefully", name)
                self._stop_requested = True
                self._root.mailbox.put_control(STOP)

    def _root_exited(self, exited: ChildExited) -> None:
        self._root_error = exited.error
        self._root.terminate("system stopped")

    # -- registry --------------------------------------------------------------------------

    def _new_cell(self, spec: ChildSpec, parent: Cell) -> Cell:
        path = ("" if parent.path == "/" else parent.path) + "/" + spec.name
        if path in self._registry:
            raise ValueError(f"an actor already lives at {path}")
        cell = Cell(spec, path, self, parent)
        self._registry[path] = cell
        return cell

    def _unregister(self, cell: Cell) -> None:
        if self._registry.get(cell.path) is cell:
            del self._registry[cell.path]
            self._retired[cell.path] = ActorStats.of(cell, trio.current_time())

    def lookup(self, path: str) -> Ref | None:
        """The ``Ref`` of the live actor at ``path`` (e.g. ``/feeds/binance``), or None.

        A path with no actor in this process is handed to ``resolver`` when one is set, so a
        ``Ref`` to an actor on another node comes back the same way (location transparency).
        """
        cell = self._registry.get(path)
        if cell is not None:
            return cell.ref
        return self.resolver(path) if self.resolver is not None else None

    def lookup_local(self, path: str) -> Ref | None:
        """Like ``lookup``, but only actors of this process (never the resolver)."""
        cell = self._registry.get(path)
        return cell.ref if cell is not None else None

    def inject(self, path: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn()`` inside the actor at ``path`` as if it were one of its handlers.

        The runtime half of fault injection (see ``actors.testing``): an exception raised by
        ``fn`` is the actor's crash; a long sleep is a stuck handler for the stall watchdog.
        Raises ``LookupError`` when no actor lives at ``path``.
        """
        cell = self._registry.get(path)
        if cell is None:
            raise LookupError(f"no actor lives at {path}")
        cell.mailbox.put_control(Injected(fn))

    def mailbox(self, path: str) -> Mailbox:
        """The mailbox of the actor at ``path`` (it outlives the actor's incarnations).

        For fault injection and introspection (``actors.testing`` sets its ``intercept`` hook
        and lowers its ``capacity``); actors talk through ``Ref``s. Raises ``LookupError``.
        """
        cell = self._registry.get(path)
        if cell is None:
            raise LookupError(f"no actor lives at {path}")
        return cell.mailbox

    def paths(self) -> list[str]:
        """Paths of every registered actor, the root first."""
        return list(self._registry)

    def stats(self) -> dict[str, ActorStats]:
        """A snapshot of every registered actor's counters, by path."""
        now = trio.current_time()
        return {path: ActorStats.of(cell, now) for path, cell in self._registry.items()}

    def all_stats(self) -> dict[str, ActorStats]:
        """Like ``stats``, plus the final counters of actors that have stopped for good."""
        return {**self._retired, **self.stats()}

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, capacity: int = 1024) -> EventStream:
        """A stream of lifecycle events from now on (bounded: a slow reader loses the oldest)."""
        return self.events.subscribe(capacity)

    def _publish(self, event: Event) -> None:
        if type(event) is GaveUp:
            self.gave_up.append(event)
        self.events.publish(event)

    def _log_crash(self, cell: Cell, error: BaseException) -> None:
        """Log a crash: with its traceback the first time in a while, else in one line.

        A crash loop must neither hide its cause nor flood the log: the traceback of each
        distinct error (actor, exception type, where it was raised) is logged at most once
        per ``CRASH_TRACEBACK_EVERY`` seconds, and the repeats in between are one line each.
        """
        key = (cell.path, type(error), _raise_site(error))
        now = trio.current_time()
        last, repeats = self._crash_logged.get(key, (-math.inf, 0))
        if now - last >= CRASH_TRACEBACK_EVERY:
            self._crash_logged[key] = (now, 0)
            again = f" (and {repeats} more times since the last traceback)" if repeats else ""
            cell.log.error(
                "%s crashed%s: %r",
                cell.path,
                again,
                error,
                exc_info=(type(error), error, error.__traceback__),
            )
        else:
            self._crash_logged[key] = (last, repeats + 1)
            cell.log.error(
                "%s crashed again: %r (traceback above, %.0fs ago)", cell.path, error, now - last
            )

    def _dead_letter(self, path: str, message: Any, reason: str) -> None:
        self.dead_letters += 1
        log.debug("dead letter to %s (%s): %r", path, reason, message)
        self.events.publish(DeadLetter(path, message, reason, trio.current_time()))


class _Up:
    """A ``task_status`` stand-in that sets an event once the root has started."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def started(self, value: object = None) -> None:
        self.event.set()


@asynccontextmanager
async def open_system(
    children: Sequence[ChildSpec] = (), *, handle_signals: bool = False, **options: Any
) -> AsyncIterator[System]:
    """Run a ``System`` for the duration of an ``async with`` block, then stop it.

    If the root gives up, its ``SupervisorGaveUp`` is raised from the block. With
    ``handle_signals`` the tree also stops on SIGINT/SIGTERM (see ``System.run``); the block
    can wait for that with ``await system.stopped.wait()``.

    >>> # async with open_system([ChildSpec("echo", Echo)]) as system:
    >>> #     await system.lookup("/echo").ask("hi")
    """
    system = System(children, **options)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(system.run, handle_signals=handle_signals))
            try:
                yield system
            finally:
                with trio.CancelScope(shield=True):
                    await system.stop()
    except BaseExceptionGroup as group:
        error = unwrap(group)
        if isinstance(error, BaseExceptionGroup):
            raise
        raise error from None
