"""Bounded mailboxes with per-actor overflow policies.

A mailbox is a deque plus two ``trio.lowlevel.ParkingLot``s: one where the receiving actor
sleeps while the box is empty, one where senders wait under the ``block`` policy. Putting a
message appends without yielding and wakes the receiver only if it sleeps; the receive loop
drains what is waiting before it yields. That is 10-30x cheaper per hop than a trio memory
channel, whose every ``send`` is a trip through the scheduler (see BENCHMARKS.md).

Control messages (stop, child exits) travel in a separate deque that is never bounded and
never dropped, and the receiver takes them before ordinary messages.

Fault injection (``actors.testing``) may set ``Mailbox.intercept``: a hook that sees every
ordinary message offered and may let it in, hold it (to offer it again later: a delayed
message) or have it dropped (counted like a drop of the overflow policy). Unset, it costs
nothing: ``put_nowait`` tests one flag, "closed or intercepted", as it tested "closed" before.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final

import trio

from actors.runtime.envelope import Ask
from actors.runtime.errors import MailboxClosed, MailboxFull


class Overflow(enum.Enum):
    """What a full mailbox does with one more message."""

    BLOCK = "block"
    """The sender waits for room (backpressure)."""
    DROP_OLDEST = "drop_oldest"
    """The oldest waiting message is discarded to make room."""
    DROP_NEWEST = "drop_newest"
    """The new message is discarded."""
    CONFLATE = "conflate"
    """A message replaces the waiting one with the same key; latest wins. Messages without
    a key are never dropped: when full they wait for room, as under ``BLOCK``."""
    FAIL = "fail"
    """The sender gets ``MailboxFull``."""


class _Empty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = _Empty()
"""Returned by ``pop_nowait`` when nothing is waiting."""


class Intercepted(enum.Enum):
    """What a ``Mailbox.intercept`` hook did with a message (None: it let it in)."""

    HOLD = "hold"
    """The hook keeps the message and offers it again later (not received yet)."""
    DROP = "drop"
    """The mailbox counts the message as received and dropped, as its policy would."""


Intercept = Callable[[Any], "Intercepted | None"]
"""A fault-injection hook on a mailbox: called with every ordinary message offered."""


@dataclass(frozen=True, slots=True)
class MailboxSpec:
    """Capacity and overflow policy of an actor's mailbox.

    ``key`` is required by ``conflate``: it maps a message to the key under which newer
    messages replace older ones (``None`` means the message is never conflated).

    >>> MailboxSpec(capacity=64, overflow=Overflow.CONFLATE, key=lambda m: m.symbol).capacity
    64
    """

    capacity: int = 1024
    overflow: Overflow = Overflow.BLOCK
    key: Callable[[Any], Hashable | None] | None = None

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"mailbox capacity must be >= 1, got {self.capacity}")
        if not isinstance(self.overflow, Overflow):
            raise ValueError(f"mailbox overflow must be an Overflow, got {self.overflow!r}")
        if self.overflow is Overflow.CONFLATE and self.key is None:
            raise ValueError("mailbox overflow 'conflate' needs a key function")

    def build(self, path: str = "?") -> Mailbox:
        """A fresh, empty mailbox with this spec."""
        if self.overflow is Overflow.CONFLATE:
            assert self.key is not None
            return ConflatingMailbox(self.capacity, self.key, path)
        return Mailbox(self.capacity, self.overflow, path)


class Mailbox:
    """A bounded FIFO of messages for exactly one receiving task.

    Counters: ``received`` (offered), ``dropped`` (discarded by the policy), ``high_water``
    (greatest depth seen). The receiver counts what it processes.
    """

    __slots__ = (
        "_blocked",
        "_closed",
        "_control",
        "_guarded",
        "_intercept",
        "_items",
        "_receiver",
        "_senders",
        "_sleeping",
        "blocking",
        "capacity",
        "dropped",
        "high_water",
        "on_drop",
        "overflow",
        "path",
        "received",
    )

    def __init__(self, capacity: int, overflow: Overflow, path: str = "?") -> None:
        self._items: deque[Any] = deque()
        self._control: deque[Any] = deque()
        self._receiver = trio.lowlevel.ParkingLot()
        self._senders = trio.lowlevel.ParkingLot()
        # Plain counters instead of ParkingLot.__len__: this is the per-message hot path.
        self._sleeping = False
        self._blocked = 0
        self.capacity = capacity
        self.overflow = overflow
        self.blocking = overflow is Overflow.BLOCK
        self.path = path
        self._closed = False
        self._intercept: Intercept | None = None
        # One flag for "closed, or a fault hook is set": the hot path tests only this, as it
        # tested ``closed`` alone before the hook existed.
        self._guarded = False
        self.received = 0
        self.dropped = 0
        self.high_water = 0
        self.on_drop: Callable[[Any], None] | None = None
        """Called with each message the policy discards (the owner fails dropped asks)."""

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether the mailbox refuses messages (its actor stopped for good)."""
        return self._closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._closed = value
        self._guarded = value or self._intercept is not None

    @property
    def intercept(self) -> Intercept | None:
        """Fault-injection hook (see ``Intercepted``); None in normal operation. Control
        messages never pass through it."""
        return self._intercept

    @intercept.setter
    def intercept(self, hook: Intercept | None) -> None:
        self._intercept = hook
        self._guarded = self._closed or hook is not None

    @property
    def has_control(self) -> bool:
        """Whether a control message is waiting."""
        return bool(self._control)

    def _discard(self, message: Any) -> None:
        self.dropped += 1
        if self.on_drop is not None:
            self.on_drop(message)

    def put_nowait(self, message: Any) -> bool:
        """Offer a message without waiting; returns False if the policy discarded it.

        Raises ``MailboxFull`` when full under ``fail`` or ``block``, ``MailboxClosed`` after
        ``close``.
        """
        if self._guarded:
            if self._closed:
                raise MailboxClosed(self.path)
            if (verdict := self._intercept(message)) is not None:  # type: ignore[misc]
                return self._intercepted(message, verdict)
        self.received += 1
        items = self._items
        if len(items) >= self.capacity:
            overflow = self.overflow
            if overflow is Overflow.DROP_NEWEST:
                self._discard(message)
                return False
            if overflow is Overflow.DROP_OLDEST:
                self._discard(items.popleft())
            else:
                self.received -= 1
                raise MailboxFull(self.path, self.capacity)
        items.append(message)
        depth = len(items)
        if depth > self.high_water:
            self.high_water = depth
        if self._sleeping:
            # Clear at once: the receiver runs later, and further puts must not unpark again.
            self._sleeping = False
            self._receiver.unpark()
        return True

    def _intercepted(self, message: Any, verdict: Intercepted) -> bool:
        """Account for a message the intercept hook took: held (True) or dropped (False)."""
        if verdict is Intercepted.DROP:
            self.received += 1
            self._discard(message)
            return False
        return True

    async def put(self, message: Any) -> bool:
        """Offer a message, waiting for room under the ``block`` policy.

        Not a checkpoint unless it has to wait: appending is synchronous, which is what makes
        a hop cheap. A task that only ever sends must checkpoint on its own.
        """
        if self.blocking:
            await self._wait_for_room()
        return self.put_nowait(message)

    async def _wait_for_room(self) -> None:
        while len(self._items) >= self.capacity:
            if self.closed:
                raise MailboxClosed(self.path)
            # Whoever unparks us takes us off the count; only an aborted park must.
            self._blocked += 1
            try:
                await self._senders.park()
            except BaseException:
                self._blocked -= 1
                raise

    def put_control(self, message: Any) -> None:
        """Queue a control message: never bounded, never dropped, taken first."""
        if self.closed:
            raise MailboxClosed(self.path)
        self._control.append(message)
        if self._sleeping:
            # Clear at once: the receiver runs later, and further puts must not unpark again.
            self._sleeping = False
            self._receiver.unpark()

    def pop_control(self) -> Any:
        """Take the oldest control message (call only when ``has_control``)."""
        return self._control.popleft()

    def pop_nowait(self) -> Any:
        """Take the oldest message, or ``EMPTY``."""
        items = self._items
        if not items:
            return EMPTY
        message = items.popleft()
        if self._blocked:
            self._wake_sender()
        return message

    def _wake_sender(self) -> None:
        """Hand the slot just freed to one parked sender (once: it runs later)."""
        self._blocked -= 1
        self._senders.unpark()

    async def wait(self) -> None:
        """Sleep until a message or control message arrives (one receiver only)."""
        if not self._items and not self._control and not self.closed:
            self._sleeping = True
            try:
                await self._receiver.park()
            finally:
                self._sleeping = False

    def remove_if(self, predicate: Callable[[Any], bool]) -> list[Any]:
        """Take out every waiting message for which ``predicate`` is true, keeping order."""
        kept: list[Any] = []
        removed: list[Any] = []
        for message in self._items:
            (removed if predicate(message) else kept).append(message)
        # In place: the receive loop holds a reference to this deque.
        self._items.clear()
        self._items.extend(kept)
        if removed and self._blocked:
            self._blocked = 0
            self._senders.unpark_all()
        return removed

    def drain(self) -> list[Any]:
        """Take out every waiting ordinary message."""
        return self.remove_if(lambda _m: True)

    def close(self) -> list[Any]:
        """Refuse further messages, wake everyone waiting, and return what was left."""
        self.closed = True
        left = self.drain()
        self._control.clear()
        self._blocked = 0
        self._senders.unpark_all()
        self._receiver.unpark_all()
        return left


class ConflatingMailbox(Mailbox):
    """A mailbox where a new message replaces the waiting one with the same key.

    Keyed messages (market data: the key is, say, venue and symbol) are conflated: the
    replaced message keeps its place in line, so a busy symbol cannot starve a quiet one,
    and the receiver always sees the latest value. Superseded messages count as dropped.

    Messages whose key is ``None`` (order updates, fills, asks) are never conflated and never
    dropped: when the mailbox is full, a keyed message makes room by dropping the oldest
    waiting keyed one (or, if only unkeyed messages wait, is dropped itself), while an
    unkeyed one waits for room (``put``, and so ``Ref.send``) or raises ``MailboxFull``
    (``put_nowait``). So one mailbox carries lossy market data and lossless order flow.
    """

    __slots__ = ("_key", "_keyed", "_latest")

    def __init__(self, capacity: int, key: Callable[[Any], Hashable | None], path: str = "?"):
        super().__init__(capacity, Overflow.CONFLATE, path)
        # Senders go through put() when the box is full; put() decides who waits.
        self.blocking = True
        self._key = key
        self._latest: dict[Any, Any] = {}
        self._keyed: dict[Any, None] = {}
        """Keys of the keyed messages waiting, oldest first."""

    def _key_of(self, message: Any) -> Hashable | None:
        # Asks are never conflated: each one has an asker waiting for its own answer.
        return None if type(message) is Ask else self._key(message)

    def put_nowait(self, message: Any) -> bool:
        if self._guarded:
            if self._closed:
                raise MailboxClosed(self.path)
            if (verdict := self._intercept(message)) is not None:  # type: ignore[misc]
                return self._intercepted(message, verdict)
        key = self._key_of(message)
        latest = self._latest
        if key is not None and key in latest:
            self.received += 1
            self._discard(latest[key])
            latest[key] = message
            return True
        if len(self._items) >= self.capacity:
            if key is None:
                raise MailboxFull(self.path, self.capacity)
            if not self._keyed:
                self.received += 1
                self._discard(message)
                return False
            oldest = next(iter(self._keyed))
            del self._keyed[oldest]
            self._items.remove(oldest)  # O(n), but only when full
            self._discard(latest.pop(oldest))
        if key is None:
            key = _Unique()
        else:
            self._keyed[key] = None
        latest[key] = message
        # The line holds keys (room was made above); count, append and wake the receiver.
        self.received += 1
        items = self._items
        items.append(key)
        if len(items) > self.high_water:
            self.high_water = len(items)
        if self._sleeping:
            self._sleeping = False
            self._receiver.unpark()
        return True

    async def put(self, message: Any) -> bool:
        if self._key_of(message) is None:
            await self._wait_for_room()
        return self.put_nowait(message)

    def pop_nowait(self) -> Any:
        if not self._items:
            return EMPTY
        key = self._items.popleft()
        self._keyed.pop(key, None)
        if self._blocked:
            self._wake_sender()
        return self._latest.pop(key)

    def remove_if(self, predicate: Callable[[Any], bool]) -> list[Any]:
        kept: list[Any] = []
        removed: list[Any] = []
        for key in self._items:
            message = self._latest[key]
            if predicate(message):
                removed.append(message)
                del self._latest[key]
                self._keyed.pop(key, None)
            else:
                kept.append(key)
        self._items.clear()
        self._items.extend(kept)
        if removed and self._blocked:
            self._blocked = 0
            self._senders.unpark_all()
        return removed


class _Unique:
    """A key for a message that must never be conflated with another."""

    __slots__ = ()
