"""Messages on the wire, and the registry of message types a node accepts.

Our messages are frozen ``msgspec.Struct``s, so they travel as msgpack with msgspec's own
encoder; nothing here serialises by hand. A frame is a msgpack array:

    send:   [tag, message]                 the tag names the registered type
    ask:    [tag, message, timeout]        the asker's deadline, in seconds
    reply:  [true, tag, value]  or  [false, "", ErrorInfo]
            a list or tuple reply: [true, "[]" or "()", [[tag, item], ...]]

The tag is the type's registered name (by default its msgspec tag, e.g. ``"OrderIntent"``
for the trading messages, which are tagged by class name; else ``module.QualName``). The
empty tag carries a plain scalar (None, bool, int, float, str, bytes). A frame whose tag is
not registered here, or whose body does not decode as that type, raises ``Undecodable``:
the node counts and logs it, and never crashes on it.

Each registered type declares how it travels (its delivery class), so nothing is guessed:

- ``Direct()`` (the default): core NATS, at most once, in order from one sender to one actor.
- ``Latest(key)``: core NATS, latest wins per ``key(message)`` at the receiving node: a slow
  consumer gets the newest value per key, never a backlog (market data).
- ``Durable(id)``: JetStream, stored before the send returns, deduplicated by
  ``id(message)`` within the stream's duplicate window (order flow: the client order id).

Asks always travel as core NATS request/reply, whatever the class: the reply is their receipt.

>>> import msgspec
>>> class Quote(msgspec.Struct, frozen=True):
...     symbol: str
...     bid: float
>>> registry = Registry()
>>> _ = registry.register(Quote, delivery=Latest(key=lambda q: q.symbol))
>>> entry, data = registry.encode(Quote("BTC/USDT", 1.5))
>>> registry.decode(data, "ax.desk.a.books._").message
Quote(symbol='BTC/USDT', bid=1.5)
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import msgspec

from actors.remote.errors import NotRegistered, RemoteError, Undecodable
from actors.runtime import (
    ActorCrashed,
    ActorUnavailable,
    AskTimeout,
    MailboxFull,
    MessageDropped,
)

PLAIN = ""
"""Tag of a plain scalar value."""
LIST = "[]"
TUPLE = "()"
"""Tags of a reply that is a list or tuple of tagged values."""

_PLAIN_TYPES = frozenset({type(None), bool, int, float, str, bytes})


@dataclass(frozen=True, slots=True)
class Direct:
    """Core NATS, at most once, in order from one sender to one actor (the default)."""


@dataclass(frozen=True, slots=True)
class Latest:
    """Core NATS, latest wins per ``key(message)`` at the receiver (market data)."""

    key: Callable[[Any], Hashable]


@dataclass(frozen=True, slots=True)
class Durable:
    """JetStream, deduplicated by ``id(message)`` (a str) within the duplicate window."""

    id: Callable[[Any], str]


Delivery = Direct | Latest | Durable
DIRECT = Direct()


@dataclass(frozen=True, slots=True)
class Entry:
    """A registered message type: its wire name, delivery class and decoder."""

    name: str
    cls: type
    delivery: Delivery
    decoder: msgspec.msgpack.Decoder[Any]
    arrival: Callable[[Any], Any] | None = None
    """Applied to each message of this type as it arrives at a node (see ``register``)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """A decoded frame: what came, of which registered type, and an ask's deadline."""

    entry: Entry
    message: Any
    timeout: float | None


class ErrorInfo(msgspec.Struct, frozen=True, array_like=True):
    """An error on the wire: what kind of failure, where, and the original exception."""

    kind: str
    """crashed | refused | unavailable | timeout | dropped | full | undecodable | error"""
    path: str
    type: str
    text: str
    detail: str = ""
    args: tuple[Any, ...] = ()
    """The exception's arguments when they are all plain scalars (to rebuild it exactly)."""


class _Frame(msgspec.Struct, array_like=True):
    tag: str
    body: msgspec.Raw
    timeout: float | None = None


class _ReplyFrame(msgspec.Struct, array_like=True):
    ok: bool
    tag: str
    body: msgspec.Raw


_PLAIN_ENTRY = Entry(PLAIN, object, DIRECT, msgspec.msgpack.Decoder())
"""Plain scalars decode as anything msgpack holds; ``_check_plain`` refuses containers."""
_FRAME = msgspec.msgpack.Decoder(_Frame)
_REPLY = msgspec.msgpack.Decoder(_ReplyFrame)
_ERROR = msgspec.msgpack.Decoder(ErrorInfo)
_ITEMS = msgspec.msgpack.Decoder(list[tuple[str, msgspec.Raw]])


def type_name(cls: type) -> str:
    """``ValueError`` for builtins, ``module.QualName`` otherwise."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    """The message types a node accepts, each with its delivery class; encodes and decodes.

    >>> # registry = Registry()
    >>> # registry.register(TopOfBook, delivery=Latest(key=lambda m: (m.venue, m.symbol)))
    >>> # registry.register(OrderIntent, delivery=Durable(id=lambda m: m.client_order_id))
    >>> # registry.register(GetBook)  # Direct: asks and plain sends
    """

    def __init__(self) -> None:
        self._by_name: dict[str, Entry] = {}
        self._by_type: dict[type, Entry] = {}
        self._errors: dict[str, type[BaseException]] = {}
        self._encoder = msgspec.msgpack.Encoder()

    # -- registration ----------------------------------------------------------------------

    def register(
        self,
        cls: type,
        *,
        delivery: Delivery = DIRECT,
        name: str | None = None,
        arrival: Callable[[Any], Any] | None = None,
    ) -> type:
        """Accept messages of ``cls`` (a frozen ``msgspec.Struct``), travelling as ``delivery``.

        ``arrival(message)`` returns the message as the receiving node delivers it: for a
        field that means nothing in another process, such as a time on the sender's trio
        clock (each process's clock has its own origin), restamped with the receiver's.

        Returns ``cls``, so it works as a class decorator. Raises ``ValueError`` for a type
        that is not a frozen struct, or a name already taken by another type.
        """
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            raise ValueError(f"only msgspec.Struct types can be registered, got {cls!r}")
        if not cls.__struct_config__.frozen:
            raise ValueError(f"{type_name(cls)} must be frozen (messages are immutable values)")
        if not isinstance(delivery, Direct | Latest | Durable):
            raise ValueError(f"delivery of {type_name(cls)} must be Direct, Latest or Durable")
        tag = cls.__struct_config__.tag
        wire = name or (tag if isinstance(tag, str) else type_name(cls))
        taken = self._by_name.get(wire)
        if taken is not None and taken.cls is not cls:
            raise ValueError(f"wire name {wire!r} is taken by {type_name(taken.cls)}")
        entry = Entry(wire, cls, delivery, msgspec.msgpack.Decoder(cls), arrival)
        self._by_name[wire] = entry
        self._by_type[cls] = entry
        return cls

    def register_error(self, cls: type[BaseException]) -> type[BaseException]:
        """Rebuild remote errors of ``cls`` (refusals, crash causes) as ``cls`` here.

        ``cls`` must take its ``args`` back (``cls(*error.args)``) or a single message.
        Builtin exceptions are always rebuilt; anything else arrives as ``RemoteError``.
        """
        self._errors[type_name(cls)] = cls
        return cls

    def entry_of(self, cls: type) -> Entry:
        """The registration of ``cls``; raises ``NotRegistered``."""
        if cls in _PLAIN_TYPES:
            return _PLAIN_ENTRY
        entry = self._by_type.get(cls)
        if entry is None:
            raise NotRegistered("cannot send", cls)
        return entry

    # -- frames ----------------------------------------------------------------------------

    def encode(self, message: Any, *, timeout: float | None = None) -> tuple[Entry, bytes]:
        """A send frame (or an ask frame with ``timeout``) and the message's registration."""
        entry = self.entry_of(type(message))
        if timeout is None:
            return entry, self._encoder.encode((entry.name, message))
        return entry, self._encoder.encode((entry.name, message, timeout))

    def decode(self, data: bytes, subject: str) -> Incoming:
        """Decode a send or ask frame that arrived on ``subject``; raises ``Undecodable``."""
        try:
            frame = _FRAME.decode(data)
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise Undecodable(subject, f"not a frame ({exc})") from None
        entry = _PLAIN_ENTRY if frame.tag == PLAIN else self._by_name.get(frame.tag)
        if entry is None:
            raise Undecodable(subject, f"type {frame.tag!r} is not registered on this node")
        try:
            message = entry.decoder.decode(frame.body)
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise Undecodable(subject, f"bad {frame.tag or 'plain value'}: {exc}") from None
        if entry is _PLAIN_ENTRY and type(message) not in _PLAIN_TYPES:
            raise Undecodable(subject, f"a plain value must be a scalar, got {type(message)}")
        if entry.arrival is not None:
            try:
                message = entry.arrival(message)
            except Exception as exc:
                raise Undecodable(subject, f"{frame.tag} refused on arrival: {exc!r}") from None
        timeout = frame.timeout
        if timeout is not None and not timeout > 0:  # NaN too
            raise Undecodable(subject, f"an ask's timeout must be > 0 seconds, got {timeout}")
        return Incoming(entry, message, timeout)

    def encode_reply(self, value: Any) -> bytes:
        """The frame of a successful ask; raises ``NotRegistered`` for an unknown type.

        A list or tuple of registered values (or scalars) travels item by item, each with
        its tag, and comes back as a list or tuple of the same values.
        """
        kind = type(value)
        if kind is list or kind is tuple:
            items = [(self.entry_of(type(item)).name, item) for item in value]
            return self._encoder.encode((True, LIST if kind is list else TUPLE, items))
        entry = self.entry_of(kind)
        return self._encoder.encode((True, entry.name, value))

    def encode_failure(self, path: str, error: BaseException) -> bytes:
        """The frame of a failed ask: ``error`` as the asker should see it."""
        return self._encoder.encode((False, PLAIN, _describe(path, error)))

    def decode_reply(self, data: bytes, *, path: str, message: Any, timeout: float) -> Any:
        """The value of a reply frame, or raise the error it carries (as a local one)."""
        try:
            frame = _REPLY.decode(data)
            if not frame.ok:
                info = _ERROR.decode(frame.body)
            elif frame.tag == LIST or frame.tag == TUPLE:
                items = [self._value(tag, body, path) for tag, body in _ITEMS.decode(frame.body)]
                return items if frame.tag == LIST else tuple(items)
            else:
                return self._value(frame.tag, frame.body, path)
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise Undecodable(f"reply from {path}", str(exc)) from None
        raise self._rebuild(info, message, timeout)

    def _value(self, tag: str, body: msgspec.Raw, path: str) -> Any:
        entry = _PLAIN_ENTRY if tag == PLAIN else self._by_name.get(tag)
        if entry is None:
            raise Undecodable(f"reply from {path}", f"type {tag!r} is not registered here")
        value = entry.decoder.decode(body)
        if entry is _PLAIN_ENTRY and type(value) not in _PLAIN_TYPES:
            raise Undecodable(f"reply from {path}", f"not a scalar: {type(value)}")
        return entry.arrival(value) if entry.arrival is not None else value

    # -- errors ----------------------------------------------------------------------------

    def _rebuild(self, info: ErrorInfo, message: Any, timeout: float) -> BaseException:
        kind, path = info.kind, info.path
        if kind == "unavailable":
            return ActorUnavailable(path, info.detail)
        if kind == "timeout":
            return AskTimeout(path, message, timeout)
        if kind == "dropped":
            return MessageDropped(path, info.detail)
        if kind == "full":
            return MailboxFull(path, int(info.detail or 0))
        if kind == "undecodable":
            return Undecodable(path, info.text)
        cause = self._exception(info)
        if kind == "crashed":
            return ActorCrashed(path, cause)
        return cause

    def _exception(self, info: ErrorInfo) -> BaseException:
        cls = self._errors.get(info.type)
        if cls is None:
            builtin = getattr(builtins, info.type, None)
            if isinstance(builtin, type) and issubclass(builtin, Exception):
                cls = builtin
        if cls is not None:
            try:
                return cls(*info.args) if info.args else cls(info.text)
            except Exception:  # a constructor that wants other arguments
                pass
        return RemoteError(info.path, info.type, info.text)


def _plain_args(error: BaseException) -> tuple[Any, ...]:
    args = error.args
    return args if all(type(arg) in _PLAIN_TYPES for arg in args) else ()


def _describe(path: str, error: BaseException) -> ErrorInfo:
    """What the asker needs to rebuild ``error`` (a failure of the local ask at ``path``)."""
    if isinstance(error, ActorUnavailable):
        return ErrorInfo("unavailable", error.path, type_name(type(error)), str(error), error.state)
    if isinstance(error, AskTimeout):
        return ErrorInfo("timeout", error.path, type_name(type(error)), str(error))
    if isinstance(error, MessageDropped):
        return ErrorInfo("dropped", error.path, type_name(type(error)), str(error), error.policy)
    if isinstance(error, MailboxFull):
        return ErrorInfo("full", error.path, "MailboxFull", str(error), str(error.capacity))
    if isinstance(error, Undecodable):
        return ErrorInfo("undecodable", path, type_name(type(error)), error.reason)
    if isinstance(error, ActorCrashed):
        cause = error.cause
        return ErrorInfo(
            "crashed", error.path, type_name(type(cause)), str(cause), "", _plain_args(cause)
        )
    if isinstance(error, NotRegistered):
        return ErrorInfo("error", path, type_name(type(error)), str(error))
    # What a handler refused with (Refuse(error)): the asker gets that error itself.
    return ErrorInfo("refused", path, type_name(type(error)), str(error), "", _plain_args(error))
