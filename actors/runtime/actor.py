"""The ``Actor`` base class and the ``Context`` an actor sees of the runtime."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from actors.runtime.errors import MailboxClosed, UnhandledMessage
from actors.runtime.ref import DEFAULT_ASK_TIMEOUT, Ref

if TYPE_CHECKING:
    from actors.runtime.cell import Cell
    from actors.runtime.spec import ChildSpec


class Actor:
    """Private state, one mailbox, messages in and out.

    Subclass it and override ``handle``; the return value of ``handle`` is the reply to an
    ``ask``. ``on_start`` runs before the first message, ``on_stop`` after the last one, also
    after a crash (so resources such as an exchange client are always released). An exception
    anywhere is a crash, which the supervisor answers with a restart.

    >>> class Counter(Actor):
    ...     def __init__(self) -> None:
    ...         self.count = 0
    ...
    ...     async def handle(self, message: object) -> int:
    ...         self.count += 1
    ...         return self.count
    """

    _ctx: Context

    @property
    def ctx(self) -> Context:
        """The runtime, as this actor may use it."""
        return self._ctx

    async def on_start(self) -> None:
        """Acquire resources and start background tasks; runs before any message."""

    async def handle(self, message: Any) -> Any:
        """Process one message; the result answers an ``ask``."""
        raise UnhandledMessage(self._ctx.path, message)

    async def on_stop(self) -> None:
        """Release resources; runs after the last message and after a crash."""

    async def _on_control(self, message: Any) -> None:
        """Runtime-internal control messages (only supervisors receive any)."""

    def _abort_start(self) -> bool:
        """Cut ``on_start`` short so a stop can proceed in order; False: just cancel us."""
        return False


class Context:
    """An actor's handle on the runtime: its ref, its path, look-up, spawn, tasks and a logger."""

    __slots__ = ("_cell", "log")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self.log: logging.Logger = cell.log

    @property
    def ref(self) -> Ref:
        """This actor's own ``Ref`` (stable across restarts)."""
        return self._cell.ref

    @property
    def path(self) -> str:
        """This actor's path, e.g. ``/feeds/binance``."""
        return self._cell.path

    @property
    def name(self) -> str:
        """The last part of the path."""
        return self._cell.name

    @property
    def incarnation(self) -> int:
        """1 for the first start, +1 for every restart."""
        return self._cell.incarnation

    @property
    def parent(self) -> Ref | None:
        """The supervisor of this actor (None for the root)."""
        parent = self._cell.parent
        return parent.ref if parent is not None else None

    def lookup(self, path: str) -> Ref | None:
        """The ``Ref`` of the live actor at ``path``, or None."""
        return self._cell.system.lookup(path)

    async def spawn(self, spec: ChildSpec, *, timeout: float = DEFAULT_ASK_TIMEOUT) -> Ref:
        """Start ``spec`` as a sibling under this actor's supervisor and return its ``Ref``.

        Not from ``on_start``: the supervisor is busy starting this very actor then.
        """
        from actors.runtime.supervisor import StartChild

        parent = self.parent
        if parent is None:
            raise RuntimeError("the root supervisor cannot spawn siblings")
        ref: Ref = await parent.ask(StartChild(spec), timeout=timeout)
        return ref

    def stop(self) -> None:
        """Stop this actor after the current message: a normal exit, not a crash."""
        from actors.runtime.cell import STOP

        with contextlib.suppress(MailboxClosed):
            self._cell.mailbox.put_control(STOP)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> trio.CancelScope:
        """Run ``fn(*args)`` beside the handler; it ends with the actor, and its crash is ours.

        Returns the task's cancel scope, so the actor can end it earlier (say, a stream loop
        in ``on_stop``, before the client it reads from is closed).
        """
        nursery = self._cell.nursery
        if nursery is None:
            raise RuntimeError(f"actor {self.path} is not running: cannot start a task")
        scope = trio.CancelScope()

        async def task() -> None:
            with scope:
                await fn(*args)

        nursery.start_soon(task)
        return scope

    async def start(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Like ``start_soon`` but wait for ``fn``'s ``task_status.started(value)``; return value.

        For servers that must be listening before the actor counts as started.
        """
        nursery = self._cell.nursery
        if nursery is None:
            raise RuntimeError(f"actor {self.path} is not running: cannot start a task")
        return await nursery.start(fn, *args)

    def send_after(self, delay: float, message: Any) -> None:
        """Deliver ``message`` to this actor after ``delay`` seconds (a timer)."""

        async def later() -> None:
            await trio.sleep(delay)
            await self._cell.ref.send(message)

        self.start_soon(later)
