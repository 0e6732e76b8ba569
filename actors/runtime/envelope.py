"""What an ``ask`` puts in a mailbox: the message and a one-shot reply slot."""

from __future__ import annotations

from typing import Any

import trio


class Reply:
    """A one-shot slot an ``ask`` waits on; the runtime fills it once."""

    __slots__ = ("_error", "_event", "_value", "abandoned")

    def __init__(self) -> None:
        self._event = trio.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self.abandoned = False
        """The asker gave up (timeout or cancellation); nobody reads the answer."""

    @property
    def done(self) -> bool:
        """Whether a value or an error has been set."""
        return self._event.is_set()

    def set_result(self, value: Any) -> None:
        """Answer the ask (ignored if already answered)."""
        if not self._event.is_set():
            self._value = value
            self._event.set()

    def set_error(self, error: BaseException) -> None:
        """Fail the ask (ignored if already answered)."""
        if not self._event.is_set():
            self._error = error
            self._event.set()

    async def wait(self) -> Any:
        """The answer, or raise the error."""
        await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value


class Ask:
    """Envelope of an ``ask`` in a mailbox: the message and where its answer goes."""

    __slots__ = ("message", "reply")

    def __init__(self, message: Any, reply: Reply) -> None:
        self.message = message
        self.reply = reply

    def __repr__(self) -> str:
        return f"Ask({self.message!r})"


class Refuse:
    """Return this from ``handle`` to fail an ``ask`` with ``error`` without crashing.

    For bad requests: the asker gets the error, the actor keeps its state and goes on.
    Returned for a plain ``send``, the error is logged and the message counted as handled.

    >>> # async def handle(self, message):
    >>> #     if message.amount <= 0:
    >>> #         return Refuse(ValueError(f"amount must be > 0, got {message.amount}"))
    """

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Refuse({self.error!r})"
