"""How a supervisor runs a child: restart type, backoff, mailbox, time limits."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.runtime.backoff import Backoff
from actors.runtime.mailbox import MailboxSpec

if TYPE_CHECKING:
    from actors.runtime.actor import Actor


class Restart(enum.Enum):
    """When a child is restarted (OTP meanings)."""

    PERMANENT = "permanent"
    """Always, whether it crashed or returned."""
    TRANSIENT = "transient"
    """Only after a crash."""
    TEMPORARY = "temporary"
    """Never; it is removed from its supervisor when it exits."""


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them crashes (OTP meanings)."""

    ONE_FOR_ONE = "one_for_one"
    """Only the crashed child."""
    ONE_FOR_ALL = "one_for_all"
    """All children: the others are stopped (reverse start order), then all start again."""
    REST_FOR_ONE = "rest_for_one"
    """The crashed child and every child started after it."""


class GiveUp(enum.Enum):
    """What a supervisor's restart intensity counts, and what happens past it."""

    ESCALATE = "escalate"
    """OTP: the restarts of all children count together; past ``max_restarts`` within
    ``within`` the supervisor stops its children (reverse start order) and fails to its
    parent, which handles that like any crash of a child."""
    STOP_CHILD = "stop_child"
    """Akka's one-for-one: each child's restarts count on their own; a child past the limit
    is stopped for good and reported (a ``GaveUp`` event naming it), its siblings keep
    running, and the supervisor itself never fails. Needs ``Strategy.ONE_FOR_ONE``."""


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    """How a supervisor child supervises its own children (for display and checks)."""

    strategy: Strategy
    max_restarts: int
    within: float
    give_up: GiveUp


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """A child of a supervisor: a name, a factory for fresh instances, and its policies.

    A restart calls ``factory`` again, so every incarnation starts from fresh state; the
    mailbox (and the ``Ref``) outlive incarnations.

    >>> from actors.runtime.actor import Actor
    >>> spec = ChildSpec("echo", Actor, restart=Restart.TRANSIENT, shutdown_grace=2.0)
    >>> spec.name
    'echo'
    """

    name: str
    factory: Callable[[], Actor]
    restart: Restart = Restart.PERMANENT
    backoff: Backoff = field(default_factory=Backoff)
    mailbox: MailboxSpec = field(default_factory=MailboxSpec)
    shutdown_grace: float = 5.0
    """Seconds to finish the current message once asked to stop, and again for ``on_stop``."""
    start_timeout: float | None = 30.0
    """``on_start`` running longer than this counts as a crash (None: no limit)."""
    stall_timeout: float | None = None
    """A handler running longer than this counts as a crash (None: no watchdog).

    The watchdog is a trio task: it catches a handler that awaits for too long (a stuck
    network call), not one that blocks the thread without ever reaching a checkpoint
    (``time.sleep``, a CPU loop), which freezes every actor, this watchdog included, until
    it returns. Those are reported by the system's blocking monitor (``System(blocked_after=)``,
    ``ActorStats.blocked``); keep blocking work off the event loop (``trio.to_thread``)."""
    fairness: int = 64
    """Messages handled back to back before the actor yields to the scheduler."""
    supervises: bool = False
    """Whether this child is a supervisor made by ``supervisor_spec``."""
    children: tuple[ChildSpec, ...] = ()
    """A supervisor's children, for display and checks."""
    supervision: SupervisorSettings | None = None
    """A supervisor's strategy and restart intensity, for display and checks."""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"child name must be non-empty and contain no '/', got {self.name!r}")
        if not callable(self.factory):
            raise ValueError(f"child {self.name!r}: factory must be callable")
        if not self.shutdown_grace >= 0:
            raise ValueError(f"child {self.name!r}: shutdown_grace must be >= 0")
        for attr in ("start_timeout", "stall_timeout"):
            value = getattr(self, attr)
            if value is not None and not value > 0:
                raise ValueError(f"child {self.name!r}: {attr} must be > 0 or None, got {value}")
        if self.fairness < 1:
            raise ValueError(f"child {self.name!r}: fairness must be >= 1")


def supervisor_spec(
    name: str,
    children: list[ChildSpec] | tuple[ChildSpec, ...] = (),
    *,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    within: float = 5.0,
    restart: Restart = Restart.PERMANENT,
    backoff: Backoff | None = None,
    shutdown_grace: float = math.inf,
    give_up: GiveUp = GiveUp.ESCALATE,
) -> ChildSpec:
    """A ``ChildSpec`` for a nested supervisor.

    Its shutdown grace defaults to infinity, as in OTP: each of its own children is bounded
    by its own grace period, so stopping the subtree is bounded all the same.

    >>> feeds = supervisor_spec("feeds", [], strategy=Strategy.ONE_FOR_ONE, max_restarts=5)
    >>> feeds.name
    'feeds'
    """
    from actors.runtime.supervisor import Supervisor

    specs = tuple(children)

    def make() -> Supervisor:
        return Supervisor(
            specs, strategy=strategy, max_restarts=max_restarts, within=within, give_up=give_up
        )

    Supervisor.validate(name, specs, max_restarts, within, strategy, give_up)
    return ChildSpec(
        name,
        make,
        restart=restart,
        backoff=backoff or Backoff(),
        shutdown_grace=shutdown_grace,
        start_timeout=None,
        supervises=True,
        children=specs,
        supervision=SupervisorSettings(strategy, max_restarts, within, give_up),
    )


def with_children(spec: ChildSpec, children: list[ChildSpec] | tuple[ChildSpec, ...]) -> ChildSpec:
    """Supervisor ``spec`` with other ``children`` (a share of them), its policies kept.

    >>> from actors.runtime.actor import Actor
    >>> feeds = supervisor_spec("feeds", [ChildSpec("a", Actor), ChildSpec("b", Actor)])
    >>> [c.name for c in with_children(feeds, feeds.children[1:]).children]
    ['b']
    """
    settings = spec.supervision
    if settings is None:
        raise ValueError(f"{spec.name!r} is not a supervisor")
    return supervisor_spec(
        spec.name,
        children,
        strategy=settings.strategy,
        max_restarts=settings.max_restarts,
        within=settings.within,
        restart=spec.restart,
        backoff=spec.backoff,
        shutdown_grace=spec.shutdown_grace,
        give_up=settings.give_up,
    )
