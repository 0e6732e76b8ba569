"""Running the shipped split desk (``config/split.example.toml``) as node processes in a test,
and asking its actors from the test process (a node of its own).

Probes of risk are intents whose notional is far too big (so they are never sent anywhere):
``NOTIONAL_LIMIT`` when risk has a fresh book, ``STALE_BOOK`` when it has not.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from actors.remote import Node, open_node
from actors.runtime import ActorError, open_system
from actors.topology.build import free_port
from actors.topology.load import load
from actors.topology.nodes import prefixes
from actors.topology.wire import desk_registry
from actors.trading.messages import OrderIntent, RejectReason, RiskRejected
from actors.trading.protocol import GetOrders

ROOT = Path(__file__).resolve().parents[2]
SPLIT = ROOT / "config" / "split.example.toml"
ACTORS = [sys.executable, "-m", "actors.cli"]
PEERS = {
    "exec": ("/venues", "/journal", "/risk", "/router", "/shutdown", "/exec"),
    "md": ("/market", "/books", "/consolidated"),
    "strategies": ("/strategies",),
}
IDS = itertools.count()


VENUE_NODE = '[nodes.venue]\ngroups = ["venues"]\n'
"""A node of its own for the embedded venue: it outlives the execution node."""


def topology(
    tmp_path: Path,
    nats_url: str,
    *,
    port: int | None = None,
    extra: str = "",
    name: str = "split",
    lease_ttl: float = 3.0,
    venue_node: bool = False,
) -> Path:
    """The shipped split desk on this test's NATS, a free venue port (or ``port``) and quick
    liveness; ``extra`` TOML is appended (with ``[observe]`` quiet unless it sets one).
    ``venue_node``: the embedded venue runs on a node of its own (``venue``), so the execution
    node can die and come back to the same venue."""
    text = SPLIT.read_text()
    if venue_node:
        placed = 'groups = ["venues", "journal", "risk", "router", "exec"]'
        assert placed in text, "the shipped split desk places its groups differently now"
        text = text.replace(placed, 'groups = ["journal", "risk", "router", "exec"]')
        text = text.replace("[nodes.md]", VENUE_NODE + "[nodes.md]")
    text = text.replace("nats://127.0.0.1:4222", nats_url)
    text = text.replace('"var/split.journal.sqlite"', f'"{tmp_path / "split.journal.sqlite"}"')
    text = text.replace("port = 18765", f"port = {port or free_port()}")
    text = text.replace("heartbeat = 1.0 ", "heartbeat = 0.3 ")
    text = text.replace("node_timeout = 5.0", "node_timeout = 2.0")
    text = text.replace("lease_ttl = 10.0", f"lease_ttl = {lease_ttl}")
    if "[observe]" not in extra:
        text += "\n[observe]\nstatus_interval = 0.0\ncontrol = false\n"
    text += "\n" + extra
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


async def start(config: Path, node: str) -> trio.Process:
    """``actors run CONFIG --node NODE`` in the config's directory, its log in a file and its
    run summary in ``NODE.summary.json``."""
    log = (config.parent / f"{node}.log").open("ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [*ACTORS, "run", str(config), "--node", node, "--view", "lines"]
    cmd += ["--summary-json", str(config.parent / f"{node}.summary.json")]
    return await trio.lowlevel.open_process(
        cmd, stdout=log, stderr=log, cwd=str(config.parent), env=env
    )


async def stop_all(processes: Mapping[str, trio.Process], grace: float = 60.0) -> None:
    """SIGINT every node still running, wait (bounded), then SIGKILL what is left."""
    for process in processes.values():
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
    with trio.move_on_after(grace):
        for process in processes.values():
            await process.wait()
    for process in processes.values():
        if process.returncode is None:
            process.kill()
            await process.wait()


def peers_of(config: Path) -> dict[str, tuple[str, ...]]:
    """Every node of the split desk at ``config`` and the prefixes it serves (as the product
    places them)."""
    topo = load(config)
    return {name: prefixes(node.groups, node.market_data) for name, node in topo.nodes.items()}


@asynccontextmanager
async def observer(
    url: str, cluster: str = "split", peers: Mapping[str, Sequence[str]] = PEERS
) -> AsyncIterator[Node]:
    """The test process as a node of the desk's cluster (serving nothing of the desk's)."""
    async with (
        open_system([]) as system,
        open_node(
            system,
            name="observer",
            servers=url,
            registry=desk_registry(),
            cluster=cluster,
            serve=("/observer",),
            peers=peers,
        ) as node,
    ):
        yield node


def probe(venue: str = "sim-a") -> OrderIntent:
    """An intent risk must refuse: its notional is 500,000 (limit 20,000)."""
    return OrderIntent(
        client_order_id=f"probe-{next(IDS)}",
        strategy="observer",
        venue=venue,
        symbol="ETH/USDT",
        side="buy",
        order_type="limit",
        amount=Decimal("0.5"),
        price=Decimal("1000000"),
        created_at=0.0,
    )


async def verdict(
    risk: Any, reason: RejectReason, timeout: float = 60.0, venue: str = "sim-a"
) -> RiskRejected:
    """Ask risk about probe intents on ``venue`` until it refuses one for ``reason``."""
    with trio.fail_after(timeout):
        while True:
            try:
                answer = await risk.ask(probe(venue), timeout=5.0)
                if isinstance(answer, RiskRejected) and answer.reason == reason:
                    return answer
            except ActorError:
                pass  # the execution node is still starting
            await trio.sleep(0.2)


async def orders(router: Any, strategy: str | None = None) -> int:
    """How many orders the router knows (of ``strategy``; 0 while it cannot be asked)."""
    try:
        return len(await router.ask(GetOrders(strategy=strategy), timeout=5.0))
    except ActorError:
        return 0


async def until_more_orders(
    router: Any, than: int, timeout: float = 90.0, strategy: str | None = None
) -> int:
    """Wait until the router knows more than ``than`` orders (of ``strategy``); how many."""
    with trio.fail_after(timeout):
        while (count := await orders(router, strategy)) <= than:  # noqa: ASYNC110
            await trio.sleep(0.2)
    return count


def sigkill(process: trio.Process) -> None:
    """SIGKILL: no goodbye, the node's heartbeats just stop."""
    process.send_signal(signal.SIGKILL)
