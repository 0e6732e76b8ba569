"""A desk split across three ``actors run --node`` processes, joined by a test-local NATS.

The test process joins the cluster as a fourth node (``observer``) and asks the desk's actors
where they run: the router for its orders, risk for its verdict on a probe intent whose
notional is far too big (so it is never sent anywhere: ``NOTIONAL_LIMIT`` when risk has a
fresh book, ``STALE_BOOK`` when it has not).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from actors.remote import NatsServer
from actors.trading.messages import RejectReason
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture
from tests.topology.split_helpers import observer as observer_node
from tests.topology.split_helpers import (
    start,
    stop_all,
    topology,
    until_more_orders,
    verdict,
)

pytestmark = pytest.mark.e2e


async def test_a_desk_split_across_nodes_trades_and_survives_losing_market_data(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = topology(tmp_path, nats_server.url)
    processes = {name: await start(config, name) for name in ("exec", "md", "strategies")}
    try:
        async with observer_node(nats_server.url) as observer:
            risk, router = observer.ref("/risk"), observer.ref("/router")
            # The strategy's quotes go strategies -> risk -> router -> session -> venue, with
            # the books they are priced on coming from the market-data node.
            traded = await until_more_orders(router, 0)
            fresh = await verdict(risk, RejectReason.NOTIONAL_LIMIT)
            assert "500000" in fresh.detail

            processes["md"].kill()  # SIGKILL: no goodbye, the heartbeats just stop
            await processes["md"].wait()
            stale = await verdict(risk, RejectReason.STALE_BOOK)
            assert "node md down" in stale.detail

            # The market-data node comes back; meanwhile a second execution node for the same
            # venue account tries to start (both start at once: process start-up is slow).
            processes["md"] = await start(config, "md")
            second = await start(config, "exec")
            await verdict(risk, RejectReason.NOTIONAL_LIMIT)  # fresh books again
            await until_more_orders(router, traded)  # and the strategy trades again
            with trio.fail_after(90):
                code = await second.wait()
            assert code == 1  # refused the lease: it never served or traded anything
            log = (tmp_path / "exec.log").read_text()
            assert "another node trades this account" in log
            assert "held by node 'exec'" in log
    finally:
        await stop_all(processes)
    for name in ("exec", "strategies"):
        assert processes[name].returncode in (0, 4), (tmp_path / f"{name}.log").read_text()[-3000:]
