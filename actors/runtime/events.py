"""Lifecycle events the system publishes, and the bounded streams observers read them from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.runtime.mailbox import EMPTY, Mailbox, Overflow


@dataclass(frozen=True, slots=True)
class Started:
    """An actor finished ``on_start`` and is processing messages."""

    path: str
    incarnation: int
    at: float


@dataclass(frozen=True, slots=True)
class Stopped:
    """An actor stopped without crashing (asked to, or its handler loop ended)."""

    path: str
    incarnation: int
    at: float
    forced: bool = False
    """True when the grace period ran out and the actor was cancelled."""


@dataclass(frozen=True, slots=True)
class Crashed:
    """An actor's start hook, handler or background task raised."""

    path: str
    incarnation: int
    at: float
    error: BaseException

    @property
    def reason(self) -> str:
        """The exception as ``Type: message``."""
        return f"{type(self.error).__name__}: {self.error}"


@dataclass(frozen=True, slots=True)
class RestartScheduled:
    """A supervisor will restart ``path`` after ``delay`` seconds (restart ``attempt``, 0-based)."""

    path: str
    delay: float
    attempt: int
    at: float


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A supervisor exceeded its restart intensity.

    With ``child`` None the supervisor at ``path`` stopped its children and failed upward
    (OTP); otherwise it stopped only the child at ``child`` for good (``GiveUp.STOP_CHILD``).
    """

    path: str
    restarts: int
    within: float
    at: float
    error: BaseException
    child: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that no actor will handle: its target stopped, or it crashed while handling."""

    path: str
    message: Any
    reason: str
    at: float


Event = Started | Stopped | Crashed | RestartScheduled | GaveUp | DeadLetter


class EventStream:
    """One observer's view of the event bus: an async iterator over a bounded mailbox.

    A slow observer loses the oldest events (counted in ``dropped``), never slows the system.

    >>> # async with system.subscribe() as events:
    >>> #     async for event in events: ...
    """

    def __init__(self, bus: EventBus, capacity: int) -> None:
        self._bus = bus
        self._mailbox = Mailbox(capacity, Overflow.DROP_OLDEST, "<event stream>")

    @property
    def dropped(self) -> int:
        """Events this observer lost because it fell behind."""
        return self._mailbox.dropped

    def _push(self, event: Event) -> None:
        self._mailbox.put_nowait(event)

    def pending(self) -> list[Event]:
        """Take every event waiting, without blocking."""
        return self._mailbox.drain()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while True:
            event = self._mailbox.pop_nowait()
            if event is not EMPTY:
                return event  # type: ignore[no-any-return]
            if self._mailbox.closed:
                raise StopAsyncIteration
            await self._mailbox.wait()

    def close(self) -> None:
        """Unsubscribe; a reader waiting in ``async for`` stops."""
        self._bus.unsubscribe(self)
        self._mailbox.closed = True
        self._mailbox._receiver.unpark_all()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of lifecycle events to every current subscriber."""

    def __init__(self) -> None:
        self._streams: list[EventStream] = []
        self.published = 0

    def subscribe(self, capacity: int = 1024) -> EventStream:
        """A new stream that receives every event published from now on."""
        stream = EventStream(self, capacity)
        self._streams.append(stream)
        return stream

    def unsubscribe(self, stream: EventStream) -> None:
        """Stop delivering to ``stream``."""
        if stream in self._streams:
            self._streams.remove(stream)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber without waiting."""
        self.published += 1
        for stream in self._streams:
            stream._push(event)
