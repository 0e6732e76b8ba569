"""A node shows itself to the operator: its peers' liveness, its leases and its traffic, in a
status line, in ``--summary-json`` (``Node.status``) and on ``/metrics``."""

from __future__ import annotations

from typing import Any

import trio

from actors.observe.metrics import serve_metrics
from actors.remote import NatsServer
from actors.runtime import ChildSpec, open_system
from tests.observe.test_desk_endpoints import scrape
from tests.remote.helpers import Order, Recorder, eventually, node

ACCOUNT = "account/sim-a"


async def test_a_node_tells_its_peers_liveness_its_leases_and_its_traffic(
    nats_server: NatsServer,
) -> None:
    seen: list[Any] = []
    async with (
        open_system([ChildSpec("orders", lambda: Recorder(seen))]) as a,
        node(a, nats_server.url, "a", ["/orders"], peers={"c": ["/c"]}, claims=[ACCOUNT]) as na,
        trio.open_nursery() as nursery,
    ):
        port = await nursery.start(serve_metrics, a, 0, None, None, na)
        assert na.peers() == {"c": "not heard"}  # declared, never started
        async with open_system([]) as b, node(b, nats_server.url, "b", ["/b"]) as nb:
            await na.wait_for_node("b")
            await nb.ref("/orders").send(Order(coid="o1"))
            await eventually(lambda: na.stats.received_durable == 1)
            assert na.peers() == {"b": "up", "c": "not heard"}
            line = na.status_line()
            assert line.startswith("node a (cluster test): peers b up, c not heard")
            assert "| serves /orders |" in line
            assert f"leases {ACCOUNT}" in line and "received_durable=1" in line
            samples = await scrape(port)
            up = (("node", "a"), ("peer", "b"))
            assert samples[("actors_node_peer_up", up)] == 1.0
            assert samples[("actors_node_peer_up", (("node", "a"), ("peer", "c")))] == 0.0
            durable = (("counter", "received_durable"), ("node", "a"))
            assert samples[("actors_node_transport_total", durable)] == 1.0
        # b said goodbye as it left: down, for the line, the summary and the metrics.
        await eventually(lambda: na.peers()["b"] == "down")
        status = na.status()
        assert status["node"] == "a" and status["cluster"] == "test"
        assert status["peers"] == {"b": "down", "c": "not heard"}
        assert status["serves"] == ["/orders"]
        assert status["leases"] == [ACCOUNT] and status["counters"]["node_downs"] == 1
        assert (await scrape(port))[("actors_node_peer_up", up)] == 0.0
        nursery.cancel_scope.cancel()
