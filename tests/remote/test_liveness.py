"""Node liveness with a node in another OS process: SIGKILL it, then let it rejoin."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.remote import NatsServer, NodeDown, NodeUp, RemoteRef
from actors.runtime import ActorUnavailable, open_system
from tests.remote.helpers import Ping, eventually, node, start_node_process


async def test_a_killed_node_fails_refs_fast_tells_observers_and_rejoins(
    nats_server: NatsServer,
) -> None:
    events: list[Any] = []
    async with (
        open_system([]) as b,
        node(b, nats_server.url, "b", ["/b"], heartbeat=0.2, node_timeout=3.0) as nb,
        trio.open_nursery() as nursery,
    ):
        nb.watch(events.append)
        far = await start_node_process(nursery, nats_server.url, "far", "/far")
        with trio.fail_after(15):
            await nb.wait_for_path("/far")
        ref = b.lookup("/far")
        assert isinstance(ref, RemoteRef)
        assert await ref.ask(Ping(1), timeout=10) == Ping(1)

        await far.kill()
        await eventually(lambda: any(isinstance(e, NodeDown) for e in events))
        down = next(e for e in events if isinstance(e, NodeDown))
        assert down.node == "far" and down.prefixes == ("/far",)
        assert "no heartbeat" in down.reason
        with trio.fail_after(5), pytest.raises(ActorUnavailable, match="node far is down"):
            await ref.ask(Ping(2), timeout=60)
        await ref.send(Ping(3))
        assert nb.stats.dead_letters == 1 and nb.stats.node_downs == 1

        again = await start_node_process(nursery, nats_server.url, "far", "/far")
        with trio.fail_after(15):
            await nb.wait_for_node("far")
        up = events[-1]
        assert isinstance(up, NodeUp) and up.incarnation != down.incarnation
        assert await ref.ask(Ping(4), timeout=10) == Ping(4)
        await again.kill()
