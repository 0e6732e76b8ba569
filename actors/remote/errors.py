"""Errors of the remote transport; each names the path, subject or lease it concerns."""

from __future__ import annotations

from actors.runtime import ActorError


class NotRegistered(ActorError, TypeError):
    """A message of a type the codec does not know was handed to a remote ``Ref``."""

    def __init__(self, what: str, cls: type) -> None:
        super().__init__(
            f"{what}: {cls.__module__}.{cls.__qualname__} is not registered with the node's "
            "codec (register it: Registry.register(cls, ...))"
        )
        self.cls = cls


class Undecodable(ActorError):
    """Bytes from the wire that are not a message this node accepts (dropped and counted)."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"cannot decode a message on {subject}: {reason}")
        self.subject = subject
        self.reason = reason


class RemoteError(ActorError):
    """An error raised on another node whose type has no local counterpart.

    ``type_name`` is the remote exception's qualified type name, ``text`` its message.
    """

    def __init__(self, path: str, type_name: str, text: str) -> None:
        super().__init__(f"{type_name} at {path}: {text}")
        self.path = path
        self.type_name = type_name
        self.text = text


class NotAccepted(ActorError):
    """A durable send that JetStream did not confirm storing (no PubAck, or an error)."""

    def __init__(self, path: str, message_id: str, reason: str) -> None:
        super().__init__(f"durable send {message_id!r} to {path} not accepted: {reason}")
        self.path = path
        self.message_id = message_id
        self.reason = reason


class LeaseHeld(ActorError):
    """Another node holds the lease this node asked for."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"lease {name!r} is held by node {holder!r}")
        self.name = name
        self.holder = holder


class LeaseLost(ActorError):
    """This node no longer holds a lease it had (not renewed in time, or taken over)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"lease {name!r} lost: {reason}")
        self.name = name
        self.reason = reason
