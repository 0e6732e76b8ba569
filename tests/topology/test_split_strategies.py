"""A strategies node whose execution node goes away: its strategies keep running, and start
from the router's state, not from news stored while their node was down.

The strategies node is the product's (``build(..., node="strategies")`` run by ``open_desk``);
the execution node is a stand-in in this process serving ``/router`` and ``/risk``, so the
test decides when it is there and what the router answers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.remote import NatsServer, Node, open_node
from actors.runtime import Actor, ActorCrashed, ChildSpec, open_system
from actors.topology.build import build
from actors.topology.load import load
from actors.topology.run import open_desk
from actors.topology.wire import desk_registry
from actors.trading.ccxt_bridge import open_loop
from actors.trading.messages import OrderStatus, OrderUpdate
from actors.trading.protocol import GetOrders, OrderView
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture
from tests.topology.split_helpers import topology
from tests.trading.e2e_helpers import PROBE, Desk, wait_for

LEFT_OPEN = OrderView(
    client_order_id="axprobe1",
    strategy="probe",
    venue="sim-a",
    symbol="ETH/USDT",
    side="buy",
    amount=Decimal("0.1"),
    price=Decimal("1000"),
    status=OrderStatus.OPEN,
    filled=Decimal(0),
    venue_order_id="7",
)

OLD_NEWS = OrderUpdate(
    client_order_id="axprobe0",
    venue="sim-a",
    venue_order_id="6",
    status=OrderStatus.FILLED,
    filled=Decimal("0.1"),
    remaining=Decimal(0),
)


class Router(Actor):
    """Answers ``GetOrders`` with the orders it was given."""

    def __init__(self, views: tuple[OrderView, ...]) -> None:
        self.views = views

    async def handle(self, message: Any) -> Any:
        return self.views if isinstance(message, GetOrders) else None


async def execution_node(
    url: str,
    cluster: str,
    views: tuple[OrderView, ...],
    stop: trio.Event,
    *updates: OrderUpdate,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A stand-in execution node named ``exec`` (a router answering ``views``) until ``stop``;
    it sends the strategy ``updates`` first."""
    specs = [ChildSpec("router", lambda: Router(views)), ChildSpec("risk", lambda: Router(()))]
    async with (
        open_system(specs) as system,
        open_node(
            system,
            name="exec",
            servers=url,
            registry=desk_registry(),
            cluster=cluster,
            serve=("/router", "/risk", "/exec"),
            heartbeat=0.3,
        ) as node,
    ):
        for update in updates:  # stored for the strategy whether or not its node is up
            await node.ref("/strategies/probe").send(update)
        task_status.started()
        await stop.wait()


async def test_a_strategy_restarted_while_the_execution_node_is_down_runs_and_asks_again(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    extra = f'[[strategies]]\nname = "probe"\nclass = "{PROBE}"\nsymbols = ["ETH/USDT"]\n'
    config = topology(tmp_path, nats_server.url, extra=extra)
    plan = build(load(config), source=str(config), node="strategies")
    assert plan.node is not None
    path = "/strategies/probe"
    cluster = plan.node.cluster
    async with open_loop(), trio.open_nursery() as nursery:
        gone = trio.Event()
        # News of an order that ended while the strategies node was down: stored for it.
        await nursery.start(execution_node, nats_server.url, cluster, (), gone, OLD_NEWS)
        # The strategies node starts its strategies once the execution node is ready, from
        # the router's state: news stored for its previous life is dropped, not replayed.
        async with open_desk(plan) as running:
            desk = Desk(running.system, {})
            await wait_for(lambda: running.system.stats()[path].state == "running")
            assert desk.peek(path).existing == []  # the router had nothing open for it
            assert running.node is not None and running.node.stats.stale_dropped == 1
            assert desk.peek(path).updates == []
            gone.set()  # the execution node stops (cleanly: known to be down at once)
            await wait_for(lambda: running.node is not None and "exec" not in up(running.node))

            # The strategy crashes (an intent it should never have made) and restarts while
            # the execution node is away: it runs, and keeps asking the router.
            with pytest.raises(ActorCrashed):
                await desk.ref(path).ask(("submit", {"symbol": "ETH/USDT", "side": "buy",
                                                     "amount": float("nan")}))  # fmt: skip
            await wait_for(lambda: desk.restarts(path) == 1, timeout=20)
            await wait_for(lambda: asks(desk, path) >= 3, timeout=20)
            assert running.system.stats()[path].state == "running"
            assert desk.restarts(path) == 1  # not crash-looping

            # The execution node is back: the strategy gets its order left open.
            back = trio.Event()
            await nursery.start(execution_node, nats_server.url, cluster, (LEFT_OPEN,), back)
            await wait_for(lambda: desk.peek(path).existing == [LEFT_OPEN], timeout=20)
            assert desk.restarts(path) == 1
            back.set()


def up(node: Node) -> set[str]:
    """The nodes ``node`` knows to be up."""
    return {name for name, record in node.directory.nodes().items() if record.up}


def asks(desk: Desk, path: str) -> int:
    """How often the strategy at ``path`` asked for its open orders (0 while it restarts)."""
    cell = desk.system._registry.get(path)
    actor = cell.actor if cell is not None else None
    return actor.open_orders_asks if actor is not None else 0
