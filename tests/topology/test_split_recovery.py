"""The split desk loses its execution node (SIGKILL, mid-trading) and then its NATS server, and
keeps every order: checked with the product's invariants (``actors.testing.verify``, the
journal against the venue's own REST API).

Four node processes (``actors run CONFIG --node NAME``): the embedded venue on a node of its
own (so it outlives the execution node, as a real exchange does), execution (journal, risk,
router, sessions), market data, strategies.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from actors.remote import NatsServer
from actors.testing.verify import verify_topology
from actors.topology.load import load
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture
from tests.topology.split_helpers import (
    observer,
    peers_of,
    sigkill,
    start,
    stop_all,
    topology,
    until_more_orders,
)

pytestmark = pytest.mark.e2e
NODES = ("venue", "exec", "md", "strategies")


async def test_a_split_desk_loses_no_order_to_a_killed_execution_node_or_nats_restart(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A lease outlives a NATS restart (renewed every ttl/3, reconnects within a second) and
    # expires soon after its holder is killed (its restart waits for it).
    config = topology(tmp_path, nats_server.url, lease_ttl=6.0, venue_node=True)
    processes = {name: await start(config, name) for name in NODES}
    desk = {name: p for name, p in processes.items() if name != "venue"}
    try:
        async with observer(nats_server.url, peers=peers_of(config)) as node:
            router = node.ref("/router")
            traded = await until_more_orders(router, 1)

            # Mid-trading (the market maker requotes on every top): no goodbye, no cancels.
            sigkill(processes["exec"])
            await processes["exec"].wait()
            processes["exec"] = desk["exec"] = await start(config, "exec")
            # It waits for its dead predecessor's lease, recovers its orders from the journal
            # and the venue, and the strategy trades through it again.
            traded = await until_more_orders(router, traded)

            await trio.to_thread.run_sync(nats_server.restart)  # SIGKILL, same port and store
            await until_more_orders(router, traded)
            for name, process in processes.items():
                assert process.returncode is None, f"node {name} stopped: see {name}.log"
        await stop_all(desk)  # the execution node cancels its quotes at the venue
        codes = {name: p.returncode for name, p in desk.items()}
        assert codes == dict.fromkeys(desk, 0), codes
        # The venue still runs: every order it holds is the journal's, once, in the same state.
        report = await trio.to_thread.run_sync(verify_topology, load(config))
        assert report.ok, report.text()
        assert "0 venue orders" not in report.text()
        log = (tmp_path / "exec.log").read_text()
        assert "waiting up to" in log  # the restarted node waited for the dead one's lease
        # ... and started from the orders its killed predecessor had open.
        recovered = re.findall(r"recovered in .*?(\d+) order\(s\), (\d+) open", log)
        assert len(recovered) == 2 and int(recovered[1][1]) > 0, recovered
        # Each node's run summary names it and how its peers were as it stopped.
        assert "node exec (cluster split): peers md " in log
    finally:
        await stop_all(processes)
