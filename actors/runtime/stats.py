"""Per-actor statistics, read without disturbing the actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.runtime.cell import Cell


@dataclass(frozen=True, slots=True)
class ActorStats:
    """A snapshot of one actor's counters.

    ``received = processed + dropped + depth + dead-lettered`` (messages handled, discarded by
    the overflow policy, waiting, and undeliverable), so nothing goes missing uncounted.
    """

    path: str
    state: str
    incarnation: int
    received: int
    processed: int
    dropped: int
    depth: int
    high_water: int
    capacity: int
    dead_letters: int
    restarts: int
    last_crash: str | None
    uptime: float | None
    blocked: int = 0
    """Times the actor held the event loop past the blocking monitor's threshold."""

    @classmethod
    def of(cls, cell: Cell, now: float) -> ActorStats:
        """Read ``cell``'s counters at time ``now``."""
        mailbox = cell.mailbox
        crash = cell.last_crash
        return cls(
            path=cell.path,
            state=cell.state.value,
            incarnation=cell.incarnation,
            received=mailbox.received,
            processed=cell.processed,
            dropped=mailbox.dropped,
            depth=len(mailbox),
            high_water=mailbox.high_water,
            capacity=mailbox.capacity,
            dead_letters=cell.dead_letters,
            restarts=cell.restarts,
            last_crash=describe_crash(crash) if crash is not None else None,
            uptime=now - cell.started_at if cell.started_at is not None and cell.running else None,
            blocked=cell.blocked,
        )


def describe_crash(exc: BaseException) -> str:
    """``Type: message`` of a crash; an exception group (several of an actor's tasks failed
    at once) is listed leaf by leaf, so an operator sees the NetworkError, not the nursery.

    >>> describe_crash(ExceptionGroup("x", [KeyError("a"), ValueError("b")]))
    "KeyError: 'a'; ValueError: b"
    """
    return "; ".join(f"{type(e).__name__}: {e}" for e in _leaves(exc))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]
