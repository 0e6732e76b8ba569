"""A desk split across three ``actors run --node`` processes, joined by a test-local NATS.

The test process joins the cluster as a fourth node (``observer``) and asks the desk's actors
where they run: the router for its orders, risk for its verdict on a probe intent whose
notional is far too big (so it is never sent anywhere: ``NOTIONAL_LIMIT`` when risk has a
fresh book, ``STALE_BOOK`` when it has not).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.remote import NatsServer, open_node
from actors.runtime import ActorError, open_system
from actors.topology.build import free_port
from actors.topology.wire import desk_registry
from actors.trading.messages import OrderIntent, RejectReason, RiskRejected
from actors.trading.protocol import GetOrders
from tests.remote.conftest import nats_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SPLIT = ROOT / "config" / "split.example.toml"
ACTORS = [sys.executable, "-m", "actors.cli"]
PEERS = {
    "exec": ("/venues", "/journal", "/risk", "/router", "/shutdown", "/exec"),
    "md": ("/market", "/books", "/consolidated"),
    "strategies": ("/strategies",),
}
IDS = itertools.count()


def topology(tmp_path: Path, nats_url: str) -> Path:
    """The shipped split desk on this test's NATS, a free venue port and quick liveness."""
    text = SPLIT.read_text()
    text = text.replace("nats://127.0.0.1:4222", nats_url)
    text = text.replace("port = 18765", f"port = {free_port()}")
    text = text.replace("heartbeat = 1.0 ", "heartbeat = 0.3 ")
    text = text.replace("node_timeout = 5.0", "node_timeout = 2.0")
    text = text.replace("lease_ttl = 10.0", "lease_ttl = 3.0")
    text += "\n[observe]\nstatus_interval = 0.0\ncontrol = false\n"
    path = tmp_path / "split.toml"
    path.write_text(text)
    return path


async def start(config: Path, node: str) -> trio.Process:
    """``actors run CONFIG --node NODE`` in the config's directory, its log in a file."""
    log = (config.parent / f"{node}.log").open("ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [*ACTORS, "run", str(config), "--node", node, "--view", "lines"]
    return await trio.lowlevel.open_process(
        cmd, stdout=log, stderr=log, cwd=str(config.parent), env=env
    )


def probe() -> OrderIntent:
    """An intent risk must refuse: its notional is 500,000 (limit 20,000)."""
    return OrderIntent(
        client_order_id=f"probe-{next(IDS)}",
        strategy="observer",
        venue="sim-a",
        symbol="ETH/USDT",
        side="buy",
        order_type="limit",
        amount=Decimal("0.5"),
        price=Decimal("1000000"),
        created_at=0.0,
    )


async def verdict(risk: Any, reason: RejectReason, timeout: float = 60.0) -> RiskRejected:
    """Ask risk about probe intents until it refuses one for ``reason``."""
    with trio.fail_after(timeout):
        while True:
            try:
                answer = await risk.ask(probe(), timeout=5.0)
                if isinstance(answer, RiskRejected) and answer.reason == reason:
                    return answer
            except ActorError:
                pass  # the execution node is still starting
            await trio.sleep(0.2)


async def orders(router: Any) -> int:
    """How many orders the router knows (0 while it cannot be asked)."""
    try:
        return len(await router.ask(GetOrders(), timeout=5.0))
    except ActorError:
        return 0


async def until_more_orders(router: Any, than: int, timeout: float = 90.0) -> int:
    """Wait until the router knows more than ``than`` orders; how many."""
    with trio.fail_after(timeout):
        while (count := await orders(router)) <= than:  # noqa: ASYNC110 - other processes
            await trio.sleep(0.2)
    return count


async def test_a_desk_split_across_nodes_trades_and_survives_losing_market_data(
    nats_server: NatsServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = topology(tmp_path, nats_server.url)
    processes = {name: await start(config, name) for name in ("exec", "md", "strategies")}
    try:
        async with (
            open_system([]) as system,
            open_node(
                system,
                name="observer",
                servers=nats_server.url,
                registry=desk_registry(),
                cluster="split",
                serve=("/observer",),
                peers=PEERS,
            ) as observer,
        ):
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
        for process in processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
        with trio.move_on_after(60):
            for process in processes.values():
                await process.wait()
        for process in processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
    for name in ("exec", "strategies"):
        assert processes[name].returncode in (0, 4), (tmp_path / f"{name}.log").read_text()[-3000:]
