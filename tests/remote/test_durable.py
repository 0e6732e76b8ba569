"""Durable sends on JetStream: deduplicated by id, kept for a node that is not there yet,
and nothing accepted lost across a restart of nats-server."""

from __future__ import annotations

from typing import Any

import trio

from actors.remote import NatsServer
from actors.runtime import ChildSpec, StartChild, open_system
from tests.remote.helpers import Order, Recorder, eventually, node


async def test_a_durable_send_repeated_with_the_same_id_is_delivered_once(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("orders", lambda: Recorder(seen))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/orders"]) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
    ):
        ref = nb.ref("/orders")
        await ref.send(Order(coid="c1"))
        await ref.send(Order(coid="c1"))  # a retry: JetStream knows the id
        await ref.send(Order(coid="c2"))
        ref.send_nowait(Order(coid="c3"))
        ref.send_nowait(Order(coid="c3"))
        await ref.send(Order(coid="end"))
        # The consumer delivers in stream order: once "end" is in, everything before is.
        await eventually(lambda: Order(coid="end") in seen)
        assert [o.coid for o in seen] == ["c1", "c2", "c3", "end"]
        assert nb.stats.duplicates_published == 2 and nb.stats.sent_durable == 6
        assert na.stats.received_durable == 4


async def test_durable_sends_wait_for_a_node_and_an_actor_that_come_later(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
        for i in range(5):
            await nb.ref("/late/orders").send(Order(coid=f"o{i}"))  # nobody serves /late yet
        async with open_system([]) as a, node(a, nats_server.url, "a", ["/late"]) as na:
            # Served, but no actor at the path yet: handed back for redelivery, not lost.
            await eventually(lambda: na.stats.nacked >= 1)
            late = ChildSpec("late", lambda: Recorder(seen))
            await a.lookup_local("/").ask(StartChild(late))
            # /late is the prefix's own actor; /late/orders is below it and still missing.
            await nb.ref("/late").send(Order(coid="direct"))
            await eventually(lambda: Order(coid="direct") in seen)
            assert [o.coid for o in seen] == ["direct"]
            assert na.stats.received_durable == 1


async def test_restarting_nats_server_mid_run_loses_nothing_accepted(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    accepted: list[str] = []
    total = 150
    async with (
        open_system([ChildSpec("orders", lambda: Recorder(seen))]) as a,
        open_system([]) as b,
        node(a, nats_server.url, "a", ["/orders"], ack_wait=2.0) as na,
        node(b, nats_server.url, "b", ["/b"]) as nb,
        trio.open_nursery() as nursery,
    ):
        ref = nb.ref("/orders")

        async def produce() -> None:
            for i in range(total):
                await ref.send(Order(coid=f"o{i}"))  # returns once JetStream stored it
                accepted.append(f"o{i}")

        nursery.start_soon(produce)
        await eventually(lambda: len(accepted) >= 40)
        await trio.to_thread.run_sync(nats_server.restart)  # SIGKILL, same port and store
        await eventually(lambda: len(accepted) == total, 60)
        await eventually(lambda: {o.coid for o in seen} >= set(accepted), 60)
        coids = [o.coid for o in seen]
        assert len(coids) == len(set(coids))  # a repeat of an id this node had is skipped
        assert set(coids) == set(accepted)
        assert nb.bus.reconnects >= 1 and na.bus.reconnects >= 1


async def test_a_fresh_prefix_drops_what_was_stored_before_its_node_started(
    nats_server: NatsServer,
) -> None:
    kept: list[Any] = []
    fresh: list[Any] = []
    async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
        for i in range(3):  # stored while nobody serves either path
            await nb.ref("/kept").send(Order(coid=f"k{i}"))
            await nb.ref("/fresh").send(Order(coid=f"f{i}"))
        specs = [
            ChildSpec("kept", lambda: Recorder(kept)),
            ChildSpec("fresh", lambda: Recorder(fresh)),
        ]
        async with (
            open_system(specs) as a,
            node(a, nats_server.url, "a", ["/kept", "/fresh"], fresh=["/fresh"]) as na,
        ):
            await eventually(lambda: len(kept) == 3)
            assert na.stats.stale_dropped == 3
            await nb.ref("/fresh").send(Order(coid="now"))  # once it runs: delivered
            await eventually(lambda: fresh == [Order(coid="now")])
            assert [o.coid for o in kept] == ["k0", "k1", "k2"]


async def test_durable_sends_queued_as_a_node_stops_are_stored_before_it_closes(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("orders", lambda: Recorder(seen))]) as a,
        node(a, nats_server.url, "a", ["/orders"]),
    ):
        async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
            for i in range(50):
                nb.ref("/orders").send_nowait(Order(coid=f"o{i}"))  # queued, not yet stored
        assert nb.courier.outbox == 0  # leaving the block stored them all
        await eventually(lambda: len(seen) == 50)
