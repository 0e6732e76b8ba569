"""References to actors: the only way to talk to one.

``Ref`` is the interface (``send``, ``send_nowait``, ``ask``, ``path``); it assumes nothing about
where the actor lives, so a remote transport can implement the same interface later.
``LocalRef`` delivers into a mailbox in this process.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import trio

from actors.runtime.envelope import Ask, Reply
from actors.runtime.errors import (
    ActorUnavailable,
    AskTimeout,
    MailboxClosed,
)

if TYPE_CHECKING:
    from actors.runtime.cell import Cell

DEFAULT_ASK_TIMEOUT = 5.0


class Ref(abc.ABC):
    """Address of an actor.

    ``await ref.send(msg)`` delivers without waiting for processing; the target's overflow
    policy applies (``block`` waits for room, ``fail`` raises ``MailboxFull``, drop policies
    discard and count). ``await ref.ask(msg, timeout=2)`` waits for the handler's return value.

    >>> # await feed.send(Subscribe("BTC/USDT"))
    >>> # book = await book_ref.ask(GetBook(), timeout=1.0)
    """

    __slots__ = ()

    @property
    @abc.abstractmethod
    def path(self) -> str:
        """The actor's path in the tree, e.g. ``/feeds/binance``."""

    @abc.abstractmethod
    async def send(self, message: Any) -> None:
        """Deliver ``message`` (fire-and-forget)."""

    @abc.abstractmethod
    def send_nowait(self, message: Any) -> None:
        """Deliver ``message`` from synchronous code; a full ``block`` mailbox raises."""

    @abc.abstractmethod
    async def ask(self, message: Any, *, timeout: float = DEFAULT_ASK_TIMEOUT) -> Any:
        """Send ``message`` and wait up to ``timeout`` seconds for the handler's reply.

        Fails at once with ``ActorUnavailable`` if the actor is not running, with
        ``ActorCrashed`` if it crashes before replying, with ``AskTimeout`` past the deadline.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


class LocalRef(Ref):
    """A ``Ref`` to an actor in this process; valid across the actor's restarts."""

    __slots__ = ("_cell", "_mailbox")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self._mailbox = cell.mailbox  # outlives every incarnation, so safe to keep

    @property
    def path(self) -> str:
        return self._cell.path

    async def send(self, message: Any) -> None:
        mailbox = self._mailbox
        try:
            if mailbox.blocking and len(mailbox._items) >= mailbox.capacity:
                await mailbox.put(message)
            else:
                mailbox.put_nowait(message)
        except MailboxClosed:
            self._cell.dead_letter(message, "actor stopped")

    def send_nowait(self, message: Any) -> None:
        try:
            self._mailbox.put_nowait(message)
        except MailboxClosed:
            self._cell.dead_letter(message, "actor stopped")

    async def ask(self, message: Any, *, timeout: float = DEFAULT_ASK_TIMEOUT) -> Any:
        cell = self._cell
        if not cell.accepts_asks:
            raise ActorUnavailable(cell.path, cell.state.value)
        reply = Reply()
        try:
            with trio.fail_after(timeout):
                try:
                    await cell.mailbox.put(Ask(message, reply))
                except MailboxClosed:
                    raise ActorUnavailable(cell.path, cell.state.value) from None
                return await reply.wait()
        except trio.TooSlowError:
            raise AskTimeout(cell.path, message, timeout) from None
        finally:
            if not reply.done:
                reply.abandoned = True
