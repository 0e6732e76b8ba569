"""The cell: what holds an actor across its incarnations.

A cell owns the mailbox, the ``Ref``, the counters and the task that runs one incarnation
(``on_start``, the receive loop, ``on_stop``). Supervisors create cells, run them, stop them
and terminate them; nothing else touches one.

What happens to messages when an actor crashes: ordinary messages waiting in the mailbox are
kept for the restarted actor (the mailbox outlives the incarnation), the message being handled
when it crashed is dead-lettered (so a poison message cannot crash-loop the actor), and every
pending ``ask`` fails at once with ``ActorCrashed`` (and is counted as dead-lettered). When a
child is stopped for good, whatever is left in its mailbox is dead-lettered. Every message is
thus processed, dropped by policy, or dead-lettered, and each of those is counted.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import trio

from actors.runtime.actor import Actor, Context
from actors.runtime.envelope import Ask, Refuse
from actors.runtime.errors import (
    ActorCrashed,
    ActorUnavailable,
    MailboxClosed,
    MessageDropped,
    StallTimeout,
    StartTimeout,
)
from actors.runtime.events import Crashed, Started, Stopped
from actors.runtime.mailbox import Mailbox
from actors.runtime.ref import LocalRef

if TYPE_CHECKING:
    from actors.runtime.spec import ChildSpec
    from actors.runtime.system import System


class ActorState(enum.Enum):
    """Where a cell is in its life."""

    IDLE = "idle"
    """Not running: never started, or exited and awaiting the supervisor's decision."""
    CRASHED = "crashed"
    """Crashed; the supervisor has yet to decide on a restart."""
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    RESTARTING = "restarting"
    STOPPED = "stopped"


class _Stop:
    __slots__ = ()

    def __repr__(self) -> str:
        return "STOP"


STOP: Final = _Stop()
"""Control message: finish the current message, then leave the receive loop."""


@dataclass(frozen=True, slots=True)
class Injected:
    """Control message: run ``fn()`` in the actor's receive loop, as if it were a handler.

    For fault injection: an exception is the actor's crash, a long sleep is a stall.
    """

    fn: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChildExited:
    """Control message to a supervisor: an incarnation of ``cell`` ended."""

    cell: Cell
    incarnation: int
    error: BaseException | None


def unwrap(error: BaseException) -> BaseException:
    """The single exception inside (nested) one-member exception groups, else ``error``."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class Cell:
    """Mailbox, ref, counters and runner of one supervised actor."""

    RUN_CODES: frozenset[Any]

    def __init__(self, spec: ChildSpec, path: str, system: System, parent: Cell | None) -> None:
        self.spec = spec
        self.path = path
        self.name = spec.name or "/"
        self.system = system
        self.parent = parent
        self.log = logging.getLogger("actors" + (path.replace("/", ".") if path != "/" else ""))
        self.mailbox = spec.mailbox.build(path)
        self.mailbox.on_drop = self._on_drop
        self.ref = LocalRef(self)
        self.state = ActorState.IDLE
        self.actor: Actor | None = None
        self.nursery: trio.Nursery | None = None
        self.scope: trio.CancelScope | None = None
        self.exited = trio.Event()
        self.exited.set()
        self.incarnation = 0
        self.processed = 0
        self.restarts = 0
        self.restart_times: deque[float] = deque()
        """When this child was restarted lately (limits counted per child)."""
        self.attempt = 0
        """Consecutive restarts for the backoff; reset after a stable period."""
        self.dead_letters = 0
        self.blocked = 0
        """Times this actor held the event loop past the blocking monitor's threshold."""
        self.last_crash: BaseException | None = None
        self.started_at: float | None = None
        self.stop_deadline: float | None = None
        self.expected_exit: int = 0
        """Incarnation whose exit the supervisor asked for (not a crash to answer)."""
        self._current: Any = None
        self._busy_since: float | None = None
        self._stalled: StallTimeout | None = None
        self._forced = False
        self._prepared = False

    def __repr__(self) -> str:
        return f"<Cell {self.path} {self.state.value}>"

    @property
    def accepts_asks(self) -> bool:
        """Whether an ``ask`` can be answered (the actor is starting or running)."""
        return self.state is ActorState.STARTING or self.state is ActorState.RUNNING

    @property
    def running(self) -> bool:
        """Whether an incarnation is alive."""
        return not self.exited.is_set()

    # -- messages nobody will handle -------------------------------------------------------

    def dead_letter(self, message: Any, reason: str) -> None:
        """Count ``message`` as undeliverable and tell the system."""
        if type(message) is Ask:
            message.reply.set_error(ActorUnavailable(self.path, reason))
            message = message.message
        self.dead_letters += 1
        self.system._dead_letter(self.path, message, reason)

    def _on_drop(self, message: Any) -> None:
        if type(message) is Ask:
            message.reply.set_error(MessageDropped(self.path, self.mailbox.overflow.value))

    # -- one incarnation -------------------------------------------------------------------

    def prepare(self) -> None:
        """Begin a new incarnation now, synchronously, before its task first runs.

        From this moment the cell counts as running, so a ``stop`` that arrives before the
        new task has taken its first step finds it and cancels it, instead of taking it for
        stopped and retiring the cell under a task that is about to run.
        """
        self.incarnation += 1
        self.exited = trio.Event()
        self.scope = trio.CancelScope()
        self.state = ActorState.STARTING
        self.stop_deadline = None
        self.started_at = None
        self._forced = False
        self._stalled = None
        self._current = None
        self._busy_since = None
        self._prepared = True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run one incarnation; ``task_status.started()`` fires once ``on_start`` is done.

        Never raises for a crash: the outcome goes to the parent as ``ChildExited``.
        """
        if not self._prepared:
            self.prepare()
        self._prepared = False
        incarnation = self.incarnation
        actor: Actor | None = None
        error: BaseException | None = None
        stop_hook_ran = False
        reported = False
        assert self.scope is not None
        try:
            with self.scope as scope:
                try:
                    # A stop that came before this first step has cancelled the scope.
                    await trio.lowlevel.checkpoint_if_cancelled()
                    actor = self.spec.factory()
                    actor._ctx = Context(self)
                    self.actor = actor
                    async with trio.open_nursery() as tasks:
                        self.nursery = tasks
                        await self._start(actor)
                        self.state = ActorState.RUNNING
                        self.started_at = trio.current_time()
                        task_status.started()
                        reported = True
                        self.system._publish(Started(self.path, incarnation, self.started_at))
                        if self.spec.stall_timeout is not None:
                            tasks.start_soon(self._watchdog, self.spec.stall_timeout)
                        await self._loop(actor)
                        self.state = ActorState.STOPPING
                        stop_hook_ran = True
                        await self._call_on_stop(actor)
                        tasks.cancel_scope.cancel()
                except Exception as exc:
                    error = unwrap(exc)
            if scope.cancelled_caught and error is None and self._stalled is not None:
                error = self._stalled
        finally:
            self.nursery = None
            if actor is not None and not stop_hook_ran:
                await self._call_on_stop(actor)
            self._finish(incarnation, error)
        if not reported:
            task_status.started()

    async def _start(self, actor: Actor) -> None:
        limit = self.spec.start_timeout
        if limit is None:
            await actor.on_start()
            return
        with trio.move_on_after(limit) as timer:
            await actor.on_start()
        if timer.cancelled_caught:
            raise StartTimeout(self.path, limit)

    async def _loop(self, actor: Actor) -> None:
        # The hot path: locals instead of attribute look-ups, no yield while work is waiting,
        # and the message in hand recorded only when something goes wrong.
        mailbox = self.mailbox
        items = mailbox._items
        control = mailbox._control
        popleft = items.popleft
        conflating = type(mailbox) is not Mailbox
        pop = mailbox.pop_nowait
        handle = actor.handle
        fairness = self.spec.fairness
        watched = self.spec.stall_timeout is not None
        checkpoint = trio.lowlevel.checkpoint
        clock = trio.current_time
        done = 0
        while True:
            if control:
                message = control.popleft()
                if message is STOP:
                    return
                if type(message) is Injected:
                    self._current = message
                    self._busy_since = clock()
                    await message.fn()
                    self._current = self._busy_since = None
                else:
                    await actor._on_control(message)
                continue
            if not items:
                if mailbox.closed:
                    return  # retired under us: nothing can arrive any more
                done = 0
                await mailbox.wait()
                continue
            if conflating:
                message = pop()
            else:
                message = popleft()
                if mailbox._blocked:
                    mailbox._wake_sender()
            if watched:
                self._current = message
                self._busy_since = clock()
            try:
                if type(message) is Ask:
                    result = await handle(message.message)
                    if type(result) is Refuse:
                        message.reply.set_error(result.error)
                    else:
                        message.reply.set_result(result)
                elif type(await handle(message)) is Refuse:
                    self.log.warning("%s refused %r", self.path, message)
            except BaseException:
                self._current = message
                raise
            if watched:
                self._current = None
                self._busy_since = None
            self.processed += 1
            done += 1
            if done >= fairness:
                done = 0
                await checkpoint()

    async def _watchdog(self, limit: float) -> None:
        while True:
            since, seen = self._busy_since, self.processed
            if since is None:
                await trio.sleep(limit)
                continue
            await trio.sleep_until(since + limit)
            if self._busy_since == since and self.processed == seen:
                self._stalled = StallTimeout(self.path, limit, self._current)
                assert self.scope is not None
                self.scope.cancel()
                return

    async def _call_on_stop(self, actor: Actor) -> None:
        # Shielded so a crash or an outer cancellation still releases resources, but bounded.
        grace = self.spec.shutdown_grace
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + grace
            self.system._stop_hooks.add(scope)  # a hard stop may still cut it short
            try:
                await actor.on_stop()
            except Exception:
                self.log.exception("on_stop of %s raised", self.path)
            finally:
                self.system._stop_hooks.discard(scope)
        if scope.cancelled_caught:
            self.log.warning("on_stop of %s overran its %gs grace period", self.path, grace)

    def _finish(self, incarnation: int, error: BaseException | None) -> None:
        now = trio.current_time()
        self.actor = None
        current, self._current = self._current, None
        if self.state is not ActorState.STOPPED:
            self.state = ActorState.IDLE if error is None else ActorState.CRASHED
        if error is not None:
            self.last_crash = error
            self.system._log_crash(self, error)
            self.system._publish(Crashed(self.path, incarnation, now, error))
            if type(current) is Ask:
                current.reply.set_error(ActorCrashed(self.path, error))
            # An injected fault is not a message: never received, so no dead letter either
            # (received = processed + dropped + waiting + dead-lettered).
            if current is not None and type(current) is not Injected:
                self.dead_letter(current, f"crashed while handling it: {error!r}")
        else:
            if current is not None and type(current) is not Injected:
                self.dead_letter(current, "cancelled while handling it")
            self.system._publish(Stopped(self.path, incarnation, now, self._forced))
        failure = ActorCrashed(self.path, error) if error is not None else None
        reason = f"crashed before handling it: {error!r}" if error is not None else "stopped"
        for ask in self.mailbox.remove_if(lambda m: type(m) is Ask):
            ask.reply.set_error(failure or ActorUnavailable(self.path, "stopped"))
            self.dead_letter(ask, reason)  # received, never handled: counted
        self.exited.set()
        self._report(ChildExited(self, incarnation, error))

    def _report(self, exited: ChildExited) -> None:
        if self.parent is None:
            self.system._root_exited(exited)
            return
        # If the supervisor itself is gone, nobody is left to restart us.
        with contextlib.suppress(MailboxClosed):
            self.parent.mailbox.put_control(exited)

    # -- driven by the supervisor ----------------------------------------------------------

    async def stop(self) -> None:
        """Stop the running incarnation: finish the current message within the grace
        period, else be cancelled; then ``on_stop``. Returns once it has ended.

        An actor still in ``on_start`` is cancelled at once: there is nothing to finish.
        """
        if self.exited.is_set():
            return
        assert self.scope is not None
        starting = self.state is ActorState.STARTING
        if starting and not (self.actor is not None and self.actor._abort_start()):
            # Nothing to finish yet (the task may not even have run): cancel the start;
            # on_stop still runs if an actor was made.
            self._forced = True
            self.scope.cancel()
        else:
            self.state = ActorState.STOPPING
            self.stop_deadline = trio.current_time() + self.spec.shutdown_grace
            with contextlib.suppress(MailboxClosed):
                self.mailbox.put_control(STOP)
            with trio.move_on_at(self.stop_deadline):
                await self.exited.wait()
            if not self.exited.is_set():
                self._forced = True
                self.log.warning(
                    "%s did not stop within %gs; cancelling it", self.path, self.spec.shutdown_grace
                )
                self.scope.cancel()
        await self.exited.wait()

    def terminate(self, reason: str) -> None:
        """Retire the cell for good: refuse new messages, dead-letter the rest, unregister."""
        self.state = ActorState.STOPPED
        for message in self.mailbox.close():
            self.dead_letter(message, reason)
        self.system._unregister(self)


Cell.RUN_CODES = frozenset(
    fn.__code__ for fn in (Cell.run, Cell._start, Cell._loop, Cell._call_on_stop)
)
"""Code of the coroutines an incarnation runs in: the blocking monitor looks for them on the
stack to name the actor that holds the event loop."""
