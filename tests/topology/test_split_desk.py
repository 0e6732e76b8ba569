"""A desk split across ``actors run --node`` processes, joined by a test-local NATS, loses each
of its parts in turn and keeps every order.

Four nodes (one cluster for the whole module: processes are slow to start): the embedded
venue on a node of its own (so it outlives the execution node, as a real exchange does),
execution (journal, risk, router, sessions), market data, strategies. The test process joins
the cluster as a fifth node (``observer``) and asks the desk's actors where they run: the
router for its orders, risk for its verdict on a probe intent whose notional is far too big
(so it is never sent anywhere: ``NOTIONAL_LIMIT`` when risk has a fresh book, ``STALE_BOOK``
when it has not). At the end the product's invariants compare the journal with the venue's
own REST API (``actors.testing.verify``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import trio

from actors.remote import NatsServer
from actors.testing.verify import verify_topology
from actors.topology.load import load
from actors.trading.messages import RejectReason
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture
from tests.topology.split_helpers import (
    observer,
    peers_of,
    sigkill,
    start,
    stop_all,
    topology,
    until_more_orders,
    verdict,
)

pytestmark = pytest.mark.e2e
NODES = ("venue", "exec", "md", "strategies")


async def test_a_split_desk_survives_losing_market_data_execution_and_nats_and_keeps_its_orders(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    # A lease outlives a NATS restart (renewed every ttl/3; reconnecting takes about a
    # second) and expires soon after its holder is killed (its restart waits for it).
    config = topology(tmp_path, nats_server.url, lease_ttl=6.0, venue_node=True)
    processes = {name: await start(config, name) for name in NODES}
    desk = dict(processes)
    del desk["venue"]
    try:
        async with observer(nats_server.url, peers=peers_of(config)) as node:
            risk, router = node.ref("/risk"), node.ref("/router")
            # The strategy's quotes go strategies -> risk -> router -> session -> venue, with
            # the books they are priced on coming from the market-data node.
            traded = await until_more_orders(router, 1)
            fresh = await verdict(risk, RejectReason.NOTIONAL_LIMIT)
            assert "500000" in fresh.detail

            # 1. SIGKILL the market-data node: its books go stale, orders against them refused.
            sigkill(processes["md"])
            await processes["md"].wait()
            stale = await verdict(risk, RejectReason.STALE_BOOK)
            assert "node md down" in stale.detail
            # It comes back; meanwhile a second execution node for the same venue account
            # tries to start (both at once: process start-up is slow).
            processes["md"] = desk["md"] = await start(config, "md")
            second = await start(config, "exec")
            await verdict(risk, RejectReason.NOTIONAL_LIMIT)  # fresh books again
            traded = await until_more_orders(router, traded)  # and the strategy trades again
            with trio.fail_after(90):
                code = await second.wait()
            assert code == 1  # refused the lease: it never served or traded anything
            log = (tmp_path / "exec.log").read_text()
            assert "another node trades this account" in log
            assert "held by node 'exec'" in log

            # 2. SIGKILL the execution node mid-trading (the market maker requotes on every
            # top): no goodbye, no cancels. Restarted, it waits for its dead predecessor's
            # lease, recovers its orders from the journal and the venue, and trades again.
            sigkill(processes["exec"])
            await processes["exec"].wait()
            processes["exec"] = desk["exec"] = await start(config, "exec")
            traded = await until_more_orders(router, traded)

            # 3. Restart nats-server (SIGKILL, same port and store): trading resumes.
            await trio.to_thread.run_sync(nats_server.restart)
            await until_more_orders(router, traded)
            for name, process in processes.items():
                assert process.returncode is None, f"node {name} stopped: see {name}.log"
        await stop_all(desk)  # the execution node cancels its quotes at the venue
        codes = {name: p.returncode for name, p in desk.items()}
        assert codes == dict.fromkeys(desk, 0), codes
        # The venue still runs: every order it holds is the journal's, once, in the same
        # state with the same fills; positions agree.
        report = await trio.to_thread.run_sync(verify_topology, load(config))
        assert report.ok, report.text()
        assert not re.search(r"\b0 venue orders", report.text())  # it did trade ("10 ...")
        log = (tmp_path / "exec.log").read_text()
        # The restarted execution node started from the orders its killed one journaled.
        recovered = re.findall(r"recovered in .*?(\d+) order\(s\), (\d+) open", log)
        assert len(recovered) >= 2 and int(recovered[-1][0]) >= 2, recovered
        # Each node's run summary names it and its peers' liveness as it stopped.
        assert "node exec (cluster split): peers md " in log
        summary = json.loads((tmp_path / "exec.summary.json").read_text())["node"]
        assert summary["node"] == "exec" and summary["cluster"] == "split"
        assert set(summary["peers"]) >= {"md", "strategies", "venue"}  # and the observer
        assert summary["counters"]["sent_durable"] > 0  # order updates and fills went out
    finally:
        await stop_all(processes)
