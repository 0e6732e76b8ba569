"""Supervisors: actors that start, watch and restart other actors (OTP semantics + backoff).

A supervisor runs its children in its own nursery, in order. When a child exits it decides,
by the child's restart type, whether to restart it; by its strategy, which siblings restart
with it; by its restart intensity, whether to give up. Restarts wait out the crashed child's
backoff in a background task, so the supervisor keeps answering (and can be stopped) while
a child is in a restart loop or hangs in its start hook.

Two deliberate departures from OTP: a child whose ``on_start`` fails is treated like a crash
(restarted with backoff) rather than failing the supervisor's own start, because a venue that
is down at boot should be retried, not take the desk down; and restarts are delayed by a
backoff. Restart intensity still bounds everything: past ``max_restarts`` restarts within
``within`` seconds the supervisor stops its children in reverse start order and fails to its
parent. Limits multiply across levels: a parent allowing 3 restarts of a child supervisor
that allows 3 of its own permits up to 16 crashes of a leaf before the parent gives up.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from actors.runtime.actor import Actor
from actors.runtime.cell import ActorState, Cell, ChildExited
from actors.runtime.envelope import Refuse
from actors.runtime.errors import SupervisorGaveUp
from actors.runtime.events import GaveUp, RestartScheduled
from actors.runtime.spec import ChildSpec, GiveUp, Restart, Strategy

if TYPE_CHECKING:
    from actors.runtime.ref import Ref


@dataclass(frozen=True, slots=True)
class StartChild:
    """Ask a supervisor to start one more child; the reply is its ``Ref``."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class StopChild:
    """Ask a supervisor to stop a child for good and forget it; the reply is True."""

    name: str


@dataclass(frozen=True, slots=True)
class WhichChildren:
    """Ask a supervisor for its children as ``(name, state)`` pairs, in start order."""


class Supervisor(Actor):
    """An actor whose job is keeping its children alive.

    >>> from actors.runtime.spec import ChildSpec, supervisor_spec
    >>> tree = supervisor_spec("feeds", [ChildSpec("binance", Actor)], max_restarts=5)
    """

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within: float = 5.0,
        give_up: GiveUp = GiveUp.ESCALATE,
    ) -> None:
        self.validate("<supervisor>", children, max_restarts, within, strategy, give_up)
        self._specs = tuple(children)
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.within = within
        self.give_up = give_up
        self._children: list[Cell] = []
        self._restart_times: deque[float] = deque()
        self._pending: set[trio.CancelScope] = set()
        self._starting = trio.CancelScope()
        self._stopping = False

    @staticmethod
    def validate(
        name: str,
        children: Sequence[ChildSpec],
        max_restarts: int,
        within: float,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        give_up: GiveUp = GiveUp.ESCALATE,
    ) -> None:
        """Reject a supervisor definition that cannot work, naming what is wrong."""
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"supervisor {name!r}: max_restarts must be an integer >= 0")
        if not 0 < within < math.inf:
            raise ValueError(f"supervisor {name!r}: within must be a finite number > 0 seconds")
        if give_up is GiveUp.STOP_CHILD and strategy is not Strategy.ONE_FOR_ONE:
            raise ValueError(
                f"supervisor {name!r}: give_up stop_child needs the one_for_one strategy"
            )
        seen: set[str] = set()
        for spec in children:
            if spec.name in seen:
                raise ValueError(f"supervisor {name!r}: two children are named {spec.name!r}")
            seen.add(spec.name)

    # -- life ------------------------------------------------------------------------------

    async def on_start(self) -> None:
        # Register every child before starting the first: an early sibling can look up a
        # later one (messages sent to it wait in its mailbox until it runs).
        cells = [self._add(spec) for spec in self._specs]
        with self._starting:
            for cell in cells:
                await self._start(cell)

    def _abort_start(self) -> bool:
        # Stop starting children (a hung on_start is cancelled), then let the normal stop
        # path retire the ones already up, in reverse start order.
        self._stopping = True
        self._starting.cancel()
        return True

    async def on_stop(self) -> None:
        self._stopping = True
        for scope in list(self._pending):
            scope.cancel()
        await self._stop_all("supervisor stopped")

    async def handle(self, message: Any) -> Any:
        # A bad request is refused (the asker gets the error); it never crashes the tree.
        if isinstance(message, StartChild):
            try:
                return (await self._start_new(message.spec)).ref
            except ValueError as exc:
                return Refuse(exc)
        if isinstance(message, StopChild):
            try:
                cell = self._find(message.name)
            except KeyError as exc:
                return Refuse(exc)
            await self._retire(cell, f"stopped by request to {self.ctx.path}")
            return True
        if isinstance(message, WhichChildren):
            return [(cell.name, cell.state.value) for cell in self._children]
        # A supervisor must not crash because someone sent it nonsense.
        self.ctx._cell.dead_letter(message, "supervisors only take StartChild/StopChild/...")
        return None

    async def _on_control(self, message: Any) -> None:
        if not isinstance(message, ChildExited):
            return
        cell = message.cell
        if self._stopping:
            return  # everyone is being stopped; no restarts now
        if cell not in self._children or message.incarnation != cell.incarnation:
            return  # a late report about an incarnation already dealt with
        if cell.expected_exit == message.incarnation:
            return  # we stopped it ourselves
        await self._child_exited(cell, message.error)

    # -- children --------------------------------------------------------------------------

    def _find(self, name: str) -> Cell:
        for cell in self._children:
            if cell.name == name:
                return cell
        raise KeyError(f"supervisor {self.ctx.path} has no child named {name!r}")

    def _add(self, spec: ChildSpec) -> Cell:
        cell = self.ctx._cell.system._new_cell(spec, parent=self.ctx._cell)
        self._children.append(cell)
        return cell

    async def _start_new(self, spec: ChildSpec) -> Cell:
        cell = self._add(spec)
        await self._start(cell)
        return cell

    async def _start(self, cell: Cell) -> None:
        nursery = self.ctx._cell.nursery
        assert nursery is not None
        cell.prepare()  # running from now on: a stop racing this start will find it
        await nursery.start(cell.run)

    async def _stop_child(self, cell: Cell) -> None:
        if cell.running:
            cell.expected_exit = cell.incarnation
            await cell.stop()

    async def _retire(self, cell: Cell, reason: str) -> None:
        await self._stop_child(cell)
        cell.terminate(reason)
        self._children.remove(cell)

    async def _stop_all(self, reason: str) -> None:
        for cell in reversed(list(self._children)):
            await self._retire(cell, reason)

    # -- restarts --------------------------------------------------------------------------

    async def _child_exited(self, cell: Cell, error: BaseException | None) -> None:
        restart = cell.spec.restart
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and error is None):
            cell.terminate(
                "exited and is not restarted" if error is None else f"crashed: {error!r}"
            )
            if restart is Restart.TEMPORARY:
                self._children.remove(cell)
            return
        now = trio.current_time()
        per_child = self.give_up is GiveUp.STOP_CHILD
        times = cell.restart_times if per_child else self._restart_times
        times.append(now)
        while times and times[0] <= now - self.within:
            times.popleft()
        if len(times) > self.max_restarts:
            gave_up = SupervisorGaveUp(
                self.ctx.path, self.max_restarts, self.within, cell.path, error
            )
            system = self.ctx._cell.system
            if per_child:
                self.ctx.log.critical(
                    "%s gave up on %s: more than %d restarts within %gs; it is stopped for "
                    "good, its siblings keep running (last crash: %r)",
                    self.ctx.path,
                    cell.path,
                    self.max_restarts,
                    self.within,
                    error,
                )
                system._publish(
                    GaveUp(self.ctx.path, self.max_restarts, self.within, now, gave_up, cell.path)
                )
                await self._retire(cell, f"{self.ctx.path} gave up on it")
                return
            self.ctx.log.critical(
                "%s gave up: more than %d restarts of its children within %gs; stopping them "
                "and failing to its parent (last crash: %s: %r)",
                self.ctx.path,
                self.max_restarts,
                self.within,
                cell.path,
                error,
            )
            system._publish(GaveUp(self.ctx.path, self.max_restarts, self.within, now, gave_up))
            for scope in list(self._pending):
                scope.cancel()
            await self._stop_all(f"supervisor {self.ctx.path} gave up")
            raise gave_up
        backoff = cell.spec.backoff
        if cell.started_at is not None and now - cell.started_at >= backoff.reset_after:
            cell.attempt = 0
        delay = backoff.delay(cell.attempt, self.ctx._cell.system.rng)
        attempt = cell.attempt
        cell.attempt += 1
        group = await self._restart_group(cell)
        for member in group:
            member.state = ActorState.RESTARTING
            member.restarts += 1
            self.ctx._cell.system._publish(RestartScheduled(member.path, delay, attempt, now))
        scope = trio.CancelScope()
        self._pending.add(scope)
        self.ctx.start_soon(self._restart_later, group, delay, scope)

    async def _restart_group(self, crashed: Cell) -> list[Cell]:
        """Stop the siblings the strategy restarts with ``crashed``; return all to restart."""
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [crashed]
        index = self._children.index(crashed)
        affected = list(
            self._children if self.strategy is Strategy.ONE_FOR_ALL else self._children[index:]
        )
        for sibling in reversed(affected):
            if sibling is not crashed:
                await self._stop_child(sibling)
        group: list[Cell] = []
        for sibling in affected:
            if sibling is not crashed and sibling.spec.restart is Restart.TEMPORARY:
                await self._retire(sibling, f"stopped with {crashed.path} ({self.strategy.value})")
            elif sibling is crashed or sibling.state is not ActorState.STOPPED:
                group.append(sibling)
        return group

    async def _restart_later(
        self, group: list[Cell], delay: float, scope: trio.CancelScope
    ) -> None:
        try:
            with scope:
                await trio.sleep(delay)
                for cell in group:
                    if cell.state is ActorState.RESTARTING and cell in self._children:
                        await self._start(cell)
        finally:
            self._pending.discard(scope)

    def children(self) -> list[Ref]:
        """Refs of the current children in start order."""
        return [cell.ref for cell in self._children]
