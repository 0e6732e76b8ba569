"""Exceptions raised by the actor runtime.

Every error names the actor path it concerns, so a log line or a failed ``ask`` says where.
"""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """Base class of every runtime error."""


class MailboxFull(ActorError):
    """A mailbox at capacity refused a message (``fail`` policy, or ``block`` without waiting)."""

    def __init__(self, path: str, capacity: int) -> None:
        super().__init__(f"mailbox of {path} is full ({capacity} messages)")
        self.path = path
        self.capacity = capacity


class MailboxClosed(ActorError):
    """The mailbox belongs to an actor that has stopped for good."""

    def __init__(self, path: str) -> None:
        super().__init__(f"mailbox of {path} is closed: the actor has stopped")
        self.path = path


class ActorUnavailable(ActorError):
    """An ``ask`` reached an actor that is not running (stopped, or waiting to restart)."""

    def __init__(self, path: str, state: str) -> None:
        super().__init__(f"actor {path} is not running ({state})")
        self.path = path
        self.state = state


class ActorCrashed(ActorError):
    """The actor crashed before it answered an ``ask``; ``__cause__`` is the crash."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"actor {path} crashed before replying: {cause!r}")
        self.path = path
        self.cause = cause
        self.__cause__ = cause


class AskTimeout(ActorError, TimeoutError):
    """No reply arrived within the ask's deadline."""

    def __init__(self, path: str, message: Any, timeout: float) -> None:
        super().__init__(
            f"ask to {path} timed out after {timeout:g}s waiting for a reply to {message!r}"
        )
        self.path = path
        self.message = message
        self.timeout = timeout


class MessageDropped(ActorError):
    """The target's overflow policy discarded an ``ask`` before it was handled."""

    def __init__(self, path: str, policy: str) -> None:
        super().__init__(f"ask to {path} was dropped by its mailbox ({policy} policy)")
        self.path = path
        self.policy = policy


class StallTimeout(ActorError):
    """A handler ran longer than the child's stall limit; counts as a crash."""

    def __init__(self, path: str, limit: float, message: Any) -> None:
        super().__init__(
            f"actor {path} stalled: handling {type(message).__name__} took longer than {limit:g}s"
        )
        self.path = path
        self.limit = limit


class StartTimeout(ActorError):
    """``on_start`` did not finish within the child's start timeout; counts as a crash."""

    def __init__(self, path: str, limit: float) -> None:
        super().__init__(f"actor {path} did not finish on_start within {limit:g}s")
        self.path = path
        self.limit = limit


class SupervisorGaveUp(ActorError):
    """Restart intensity was exceeded: the supervisor stopped its children and failed."""

    def __init__(
        self, path: str, restarts: int, within: float, child: str, last_error: BaseException | None
    ) -> None:
        super().__init__(
            f"supervisor {path} gave up: more than {restarts} restarts within {within:g}s; "
            f"last crash was {child}: {last_error!r}"
        )
        self.path = path
        self.restarts = restarts
        self.within = within
        self.child = child
        self.last_error = last_error


class UnhandledMessage(ActorError):
    """An actor received a message its ``handle`` does not know; a bug in the sender."""

    def __init__(self, path: str, message: Any) -> None:
        super().__init__(f"actor {path} cannot handle {type(message).__name__}: {message!r}")
        self.path = path
        self.message = message
