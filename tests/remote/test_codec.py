"""The wire format and the registry, without a server."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.remote import Direct, Durable, Latest, NotRegistered, Registry, RemoteError, Undecodable
from actors.remote.subjects import (
    actor_subject,
    covers,
    durable_subject,
    escape,
    path_of,
    serve_pattern,
    unescape,
)
from actors.runtime import ActorCrashed, ActorUnavailable, AskTimeout, MessageDropped
from tests.remote.helpers import Order, Ping, Quote, registry


class Fill(msgspec.Struct, frozen=True, tag=True):
    coid: str
    price: Decimal
    amount: Decimal


class Mutable(msgspec.Struct):
    x: int


class CustomError(Exception):
    pass


def test_registered_messages_round_trip_with_their_delivery_class() -> None:
    reg = registry()
    reg.register(Fill, delivery=Durable(id=lambda f: f.coid))
    fill = Fill(coid="ax-1", price=Decimal("50000.10"), amount=Decimal("0.001"))
    for message, kind in ((fill, Durable), (Quote("BTC/USDT", 3), Latest), (Ping(1), Direct)):
        entry, data = reg.encode(message)
        assert isinstance(entry.delivery, kind)
        incoming = reg.decode(data, "subject")
        assert incoming.message == message and incoming.timeout is None
    assert reg.entry_of(Fill).name == "Fill"  # a tagged struct travels under its tag
    assert reg.entry_of(Ping).name == "tests.remote.helpers.Ping"
    _, data = reg.encode(Ping(2), timeout=1.5)
    assert reg.decode(data, "subject").timeout == 1.5


@pytest.mark.parametrize("value", [None, True, 7, 2.5, "text", b"\x00\x01"])
def test_plain_scalars_travel_without_registration(value: object) -> None:
    reg = Registry()
    _, data = reg.encode(value)
    assert reg.decode(data, "s").message == value
    assert reg.decode_reply(reg.encode_reply(value), path="/x", message=0, timeout=1) == value


def test_replies_that_are_lists_or_tuples_of_registered_values_round_trip() -> None:
    reg = registry()
    for value in ((Ping(1), Quote("X", 2), "s", None), [Ping(3)], (), []):
        back = reg.decode_reply(reg.encode_reply(value), path="/p", message=0, timeout=1)
        assert back == value and type(back) is type(value)
    with pytest.raises(NotRegistered):
        reg.encode_reply((Ping(1), object()))
    with pytest.raises(NotRegistered):
        reg.encode_reply([[Ping(1)]])  # one level only


def test_what_cannot_be_decoded_is_an_undecodable_naming_the_subject() -> None:
    reg = registry()
    with pytest.raises(Undecodable, match=r"on ax\.t\.a\.x\._: not a frame"):
        reg.decode(b"\xc1garbage", "ax.t.a.x._")
    foreign = msgspec.msgpack.encode(("Nope", {"x": 1}))
    with pytest.raises(Undecodable, match="'Nope' is not registered"):
        reg.decode(foreign, "s")
    wrong = msgspec.msgpack.encode(("tests.remote.helpers.Ping", {"n": "one"}))
    with pytest.raises(Undecodable, match=r"bad tests\.remote\.helpers\.Ping"):
        reg.decode(wrong, "s")
    with pytest.raises(Undecodable, match="must be a scalar"):
        reg.decode(msgspec.msgpack.encode(("", [1, 2])), "s")
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(Undecodable, match="timeout must be > 0"):
            reg.decode(msgspec.msgpack.encode(("", 1, bad)), "s")


def test_registration_refuses_what_is_not_an_immutable_struct() -> None:
    reg = Registry()
    with pytest.raises(ValueError, match="must be frozen"):
        reg.register(Mutable)
    with pytest.raises(ValueError, match=r"only msgspec\.Struct"):
        reg.register(dict)
    reg.register(Ping)
    with pytest.raises(ValueError, match="is taken by"):
        reg.register(Quote, name="tests.remote.helpers.Ping")
    with pytest.raises(NotRegistered, match="Order is not registered"):
        reg.encode(Order(coid="x"))


def _back(reg: Registry, error: BaseException) -> BaseException:
    """What an asker raises when the far side's ask failed with ``error``."""
    with pytest.raises(BaseException) as caught:
        reg.decode_reply(reg.encode_failure("/p", error), path="/p", message="m", timeout=2.0)
    return caught.value


def test_errors_come_back_as_the_same_kind_of_error() -> None:
    reg = Registry()
    reg.register_error(CustomError)
    crashed = _back(reg, ActorCrashed("/p", KeyError("k")))
    assert isinstance(crashed, ActorCrashed) and isinstance(crashed.cause, KeyError)
    assert crashed.cause.args == ("k",)
    unavailable = _back(reg, ActorUnavailable("/p", "stopped"))
    assert isinstance(unavailable, ActorUnavailable) and unavailable.state == "stopped"
    dropped = _back(reg, MessageDropped("/p", "drop_newest"))
    assert isinstance(dropped, MessageDropped) and dropped.policy == "drop_newest"
    timeout = _back(reg, AskTimeout("/p", "m", 2.0))
    assert isinstance(timeout, AskTimeout) and timeout.timeout == 2.0
    assert isinstance(_back(reg, CustomError("registered")), CustomError)
    assert isinstance(_back(reg, Undecodable("s", "r")), Undecodable)

    class Local(Exception):
        pass

    remote = _back(reg, Local("only here"))
    assert isinstance(remote, RemoteError)
    assert remote.type_name.endswith("Local") and remote.text == "only here"


SEGMENT = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=12
)


@given(st.lists(SEGMENT, max_size=4))
def test_every_path_maps_to_a_subject_and_back(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    for subject in (actor_subject("desk", path), durable_subject("desk", path)):
        assert all(token and "." not in token for token in subject.split("."))
        assert " " not in subject and "*" not in subject and ">" not in subject
        assert path_of(subject, "desk") == path
    for part in parts:
        assert unescape(escape(part)) == part


def test_a_prefix_wildcard_covers_its_own_actor_and_its_subtree_only() -> None:
    assert serve_pattern("d", "/books") == "ax.d.a.books.>"
    assert actor_subject("d", "/books").startswith("ax.d.a.books.")
    assert not actor_subject("d", "/booksx").startswith("ax.d.a.books.")
    assert serve_pattern("d", "/") == "ax.d.a.>"
    assert covers("/books", "/books/a") and covers("/books", "/books")
    assert not covers("/books", "/booksx")
    with pytest.raises(ValueError, match="empty segments"):
        actor_subject("d", "/a//b")
    with pytest.raises(ValueError, match="starts with '/'"):
        actor_subject("d", "a")
