"""Remote refs between two actor systems in one process, over a real nats-server."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.remote import NatsServer, RemoteRef, Undecodable
from actors.remote.subjects import actor_subject
from actors.runtime import (
    ActorCrashed,
    ActorUnavailable,
    AskTimeout,
    ChildSpec,
    MailboxSpec,
    open_system,
    supervisor_spec,
)
from tests.remote.helpers import (
    CLUSTER,
    Hold,
    Many,
    Ping,
    Recorder,
    Unknown,
    eventually,
    node,
    registry,
)


async def test_send_and_ask_through_system_lookup(nats_server: NatsServer) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("echo", lambda: Recorder(seen))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/echo"]),
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/echo")
        ref = b.lookup("/echo")
        assert isinstance(ref, RemoteRef) and ref.path == "/echo"
        assert b.lookup("/nowhere") is None  # no node serves it: same as a local miss
        assert await ref.ask(Ping(7), timeout=5) == Ping(7)
        assert await ref.ask("plain", timeout=5) == "plain"
        assert await ref.ask(Many(3), timeout=5) == (Ping(0), Ping(1), Ping(2))
        assert await ref.ask(Many(2, as_list=True), timeout=5) == [Ping(0), Ping(1)]
        await ref.send(Ping(1))
        ref.send_nowait(Ping(2))
        await eventually(lambda: Ping(2) in seen)
        # One sender, one actor: in order.
        assert seen == [Ping(7), "plain", Many(3), Many(2, as_list=True), Ping(1), Ping(2)]


async def test_ask_past_its_deadline_is_an_ask_timeout(nats_server: NatsServer) -> None:
    gate = trio.Event()
    async with (
        open_system([ChildSpec("slow", lambda: Recorder([], gate))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/slow"]),
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/slow")
        ref = nb.ref("/slow")
        with pytest.raises(AskTimeout) as caught:
            await ref.ask(Hold(), timeout=0.3)
        assert caught.value.path == "/slow" and caught.value.timeout == 0.3
        gate.set()
        assert await ref.ask(Ping(1), timeout=5) == Ping(1)


async def test_ask_to_a_path_nobody_serves_fails_fast(nats_server: NatsServer) -> None:
    async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
        with trio.fail_after(10), pytest.raises(ActorUnavailable) as caught:
            await nb.ref("/nobody/here").ask(Ping(1), timeout=60)
        assert "no responders" in str(caught.value)


async def test_ask_to_a_missing_actor_on_a_serving_node_fails_fast(
    nats_server: NatsServer,
) -> None:
    async with (
        open_system([]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/a"]) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/a")
        with trio.fail_after(10), pytest.raises(ActorUnavailable) as caught:
            await nb.ref("/a/ghost").ask(Ping(1), timeout=60)
        assert "no such actor on node a" in str(caught.value)
        await nb.ref("/a/ghost").send(Ping(2))
        await eventually(lambda: na.stats.dead_letters == 1)


async def test_remote_crash_fails_the_ask_with_actor_crashed(nats_server: NatsServer) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("echo", lambda: Recorder(seen))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/echo"]),
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/echo")
        ref = nb.ref("/echo")
        with pytest.raises(ActorCrashed) as caught:
            await ref.ask(Ping(-1), timeout=5)
        assert caught.value.path == "/echo"
        assert isinstance(caught.value.cause, ValueError)  # rebuilt: a builtin type
        assert "told to crash" in str(caught.value.cause)
        # Restarted by its supervisor, as any crashed actor.
        await eventually(
            lambda: a.stats()["/echo"].incarnation == 2 and a.stats()["/echo"].state == "running"
        )
        # A refusal is the handler's own error, and the actor carries on (after its restart).
        with pytest.raises(LookupError, match="no such thing as ping 0"):
            await ref.ask(Ping(0), timeout=5)
        assert await ref.ask(Ping(3), timeout=5) == Ping(3)


async def test_undecodable_messages_are_counted_drops_never_crashes(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("echo", lambda: Recorder(seen))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/echo"]) as na,
        node(b, nats_server.url, "b", ["/b"], registry=registry(with_unknown=True)) as nb,
    ):
        await nb.wait_for_path("/echo")
        ref = nb.ref("/echo")
        nb.bus.publish(actor_subject(CLUSTER, "/echo"), b"\xc1 not msgpack")
        await ref.send(Unknown(1))  # the sender knows the type, the receiver does not
        with pytest.raises(Undecodable, match=r"'.*Unknown' is not registered"):
            await ref.ask(Unknown(2), timeout=5)
        await eventually(lambda: na.stats.undecodable == 3)
        assert await ref.ask(Ping(1), timeout=5) == Ping(1)
        assert seen == [Ping(1)]


async def test_sending_an_unregistered_type_is_refused_at_the_sender(
    nats_server: NatsServer,
) -> None:
    async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
        with pytest.raises(TypeError, match="not registered"):
            await nb.ref("/x").send(object())
        with pytest.raises(TypeError, match="not registered"):
            await nb.ref("/x").ask([1, 2], timeout=1)


async def test_a_full_block_mailbox_holds_back_remote_sends_without_loss(
    nats_server: NatsServer,
) -> None:
    gate = trio.Event()
    seen: list[Any] = []
    spec = ChildSpec("slow", lambda: Recorder(seen, gate), mailbox=MailboxSpec(capacity=2))
    async with (
        open_system([spec]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/slow"]) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/slow")
        ref = nb.ref("/slow")
        await ref.send(Hold())
        for i in range(1, 51):
            await ref.send(Ping(i))
        await eventually(lambda: na.stats.received == 51)
        gate.set()
        await eventually(lambda: len(seen) == 50)
        assert seen == [Ping(i) for i in range(1, 51)]
        assert na.stats.inlet_dropped == 0 and na.stats.mailbox_full == 0


async def test_a_backlog_for_a_stuck_actor_waits_in_nats_not_dropped(
    nats_server: NatsServer,
) -> None:
    gate = trio.Event()
    seen: list[Any] = []
    spec = ChildSpec("slow", lambda: Recorder(seen, gate), mailbox=MailboxSpec(capacity=2))
    async with (
        open_system([spec]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/slow"], inlet_high=8) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        await nb.wait_for_path("/slow")
        ref = nb.ref("/slow")
        await ref.send(Hold())
        for i in range(1, 301):
            ref.send_nowait(Ping(i))
        # The inlet fills to its high-water mark and the subscription pauses: the rest waits
        # in the client's buffer instead of piling up (or being dropped) in the node.
        await eventually(lambda: na.stats.held >= 1)
        assert na.stats.received < 301
        gate.set()
        await eventually(lambda: len(seen) == 300)
        assert seen == [Ping(i) for i in range(1, 301)]
        assert na.stats.inlet_dropped == 0 and na.stats.received == 301


async def test_configured_peers_resolve_before_they_start_and_serve_once_attached(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with (
        open_system([]) as b,
        node(b, nats_server.url, "b", ["/b"], peers={"a": ["/a"]}) as nb,
    ):
        ref = b.lookup("/a/echo")  # node a has not started: known from configuration
        assert isinstance(ref, RemoteRef)
        with trio.fail_after(10), pytest.raises(ActorUnavailable, match="no responders"):
            await ref.ask(Ping(1), timeout=60)
        async with node(None, nats_server.url, "a", ["/a"]) as na:  # type: ignore[arg-type]
            await nb.wait_for_node("a")
            with trio.fail_after(10), pytest.raises(ActorUnavailable, match="no such actor"):
                await ref.ask(Ping(2), timeout=60)  # the node is up, its system is not
            assert not nb.directory.is_ready("a")
            tree = [supervisor_spec("a", [ChildSpec("echo", lambda: Recorder(seen))])]
            async with open_system(tree) as a:
                na.attach(a)
                with trio.fail_after(10):
                    await nb.wait_ready("a")  # announced on attach
                assert await ref.ask(Ping(3), timeout=5) == Ping(3)
        assert nb.stats.dead_letters == 0  # never up-then-down: nothing was refused early
