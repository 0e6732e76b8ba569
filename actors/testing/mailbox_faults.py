"""Message faults on one actor's mailbox: delay, drop, and taps that watch what arrives.

One :class:`MailboxFaults` is the mailbox's ``intercept`` hook (``actors.runtime.mailbox``)
while anything uses it, and is detached when nothing does, so a mailbox without faults pays
one attribute test per message. Accounting stays exact: a dropped message is counted by the
mailbox as received and dropped (an ``ask`` fails with ``MessageDropped``); a delayed one is
not received until it is delivered, through the actor's ``Ref`` (so a full ``block`` mailbox
makes the delivery wait, and a stopped actor dead-letters it). Held messages keep their order;
when a delay ends, what is still held is delivered at its due time and newer messages queue
behind it.

>>> # faults = MailboxFaults(system, "/router", random.Random(1)); faults.delay_for(0.2)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import Any

import trio

from actors.runtime import Intercepted, MailboxFull, System
from actors.runtime.envelope import Ask

Tap = Callable[[Any], None]
"""Called with every message offered to the mailbox (an ask's inner message)."""


class _Nothing:
    __slots__ = ()


_NOTHING = _Nothing()


class MailboxFaults:
    """The intercept hook of the mailbox at ``path``: taps, a drop rate, a delay."""

    def __init__(self, system: System, path: str, rng: random.Random) -> None:
        self.path = path
        self._mailbox = system.mailbox(path)
        ref = system.lookup(path)
        assert ref is not None
        self._ref = ref  # valid for good: a retired actor's ref dead-letters what it is sent
        self._rng = rng
        self.taps: list[Tap] = []
        self.drop_probability = 0.0
        self.delay: float | None = None
        self.held: deque[tuple[float, Any]] = deque()
        self._wake = trio.Event()
        self._passing: Any = _NOTHING
        self._dropping: Any = _NOTHING
        self.delayed = 0
        self.dropped = 0

    # -- the hook ------------------------------------------------------------------------------

    def __call__(self, message: Any) -> Intercepted | None:
        if message is self._passing:
            return None
        if message is self._dropping:
            return Intercepted.DROP
        inner = message.message if type(message) is Ask else message
        for tap in self.taps:
            tap(inner)
        if self.drop_probability and self._rng.random() < self.drop_probability:
            self.dropped += 1
            return Intercepted.DROP
        if self.delay is not None or self.held:
            due = trio.current_time() + (self.delay or 0.0)
            if self.held:
                due = max(due, self.held[-1][0])  # never overtake what is held
            self.held.append((due, message))
            self.delayed += 1
            self._wake.set()
            return Intercepted.HOLD
        return None

    # -- what uses it ----------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether anything needs the hook."""
        return bool(self.taps or self.drop_probability or self.delay is not None or self.held)

    def attach(self) -> None:
        """Install as the mailbox's hook (idempotent)."""
        self._mailbox.intercept = self

    def detach_if_idle(self) -> None:
        """Remove the hook once nothing uses it."""
        if not self.active and self._mailbox.intercept is self:
            self._mailbox.intercept = None

    async def deliver(self) -> None:
        """Deliver held messages at their due time, in order (run as a task while attached)."""
        try:
            while True:
                while not self.held:
                    self._wake = trio.Event()
                    await self._wake.wait()
                due, message = self.held[0]
                await trio.sleep_until(due)
                self.held.popleft()
                await self._put(message)
                self.detach_if_idle()
        finally:
            self.flush()

    def flush(self) -> None:
        """Deliver everything still held now, without waiting (a mailbox with no room
        counts the message as dropped): nothing held is ever lost uncounted."""
        while self.held:
            _, message = self.held.popleft()
            self._put_nowait(message)
        self.detach_if_idle()

    async def _put(self, message: Any) -> None:
        self._passing = message
        try:
            await self._ref.send(message)  # waits for room under block; dead-letters if closed
        except MailboxFull:  # the fail policy
            self._drop(message)
        finally:
            self._passing = _NOTHING

    def _put_nowait(self, message: Any) -> None:
        self._passing = message
        try:
            self._ref.send_nowait(message)
        except MailboxFull:
            self._drop(message)
        finally:
            self._passing = _NOTHING

    def _drop(self, message: Any) -> None:
        """Offer ``message`` again with the verdict DROP: the mailbox counts it."""
        self._dropping = message
        try:
            self._mailbox.put_nowait(message)
        finally:
            self._dropping = _NOTHING
