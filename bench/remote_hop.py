"""Remote hop benchmark: an actor in another OS process over NATS vs one in this process.

One run, one machine load: a local ``nats-server`` (JetStream on a temporary directory), a
second Python process serving an echo actor and a counting sink through ``open_node``, and
the same two actors in this process. Measured both ways:

- ask latency: sequential asks, round trip (two hops), p50 and p99;
- throughput: ``send`` of small messages to the sink, one sender, until the sink has
  handled them all (an ask queued behind them answers once the last one is handled);
- durable throughput (remote only): ``send`` of durable messages, each stored by JetStream
  (PubAck) before the next, until the sink has handled them all.

Both nodes run on the desk's asyncio loop (``actors.trading.ccxt_bridge.open_loop``, the one
``actors run`` opens) unless ``--loop plain``.

Run: ``.venv/bin/python bench/remote_hop.py [--loop desk|plain] [--asks N] [--messages N]
[--out docs/bench/remote_hop.json]`` (``--out``: every ask's round trip, for ``bench/plots.py``)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import nats
import trio
import trio_asyncio

from actors.remote import Durable, NatsServer, Registry, open_node
from actors.runtime import Actor, ChildSpec, MailboxSpec, Ref, open_system
from actors.trading.ccxt_bridge import open_loop

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = "bench"
RAW = "bench.raw.echo"


class Ping(msgspec.Struct, frozen=True, array_like=True):
    """Answered with itself."""

    n: int


class Tick(msgspec.Struct, frozen=True, array_like=True):
    """A small message for the throughput run."""

    seq: int
    price: float


class Order(msgspec.Struct, frozen=True, array_like=True):
    """A durable message, deduplicated by ``coid``."""

    coid: str
    price: float


class Count(msgspec.Struct, frozen=True):
    """Asks the sink how many messages it has handled."""


def registry() -> Registry:
    """What both processes accept."""
    reg = Registry()  # explicit names: this module is __main__ in one process only
    reg.register(Ping, name="Ping")
    reg.register(Tick, name="Tick")
    reg.register(Count, name="Count")
    reg.register(Order, name="Order", delivery=Durable(id=lambda o: o.coid))
    return reg


class Echo(Actor):
    """Answers every ask with the message itself."""

    async def handle(self, message: Any) -> Any:
        return message


class Sink(Actor):
    """Counts what it is sent; answers ``Count`` with the total."""

    def __init__(self) -> None:
        self.seen = 0

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Count):
            return self.seen
        self.seen += 1
        return None


def specs() -> list[ChildSpec]:
    """The two actors, in either process."""
    box = MailboxSpec(capacity=4096)
    return [ChildSpec("echo", Echo, mailbox=box), ChildSpec("sink", Sink, mailbox=box)]


@asynccontextmanager
async def event_loop(kind: str) -> AsyncIterator[None]:
    """The asyncio loop under the node: trio-asyncio's plain one, or the desk's batching one."""
    if kind == "desk":
        async with open_loop():
            yield
    else:
        async with trio_asyncio.open_loop():
            yield


async def serve_far(url: str, loop: str) -> None:
    """The far process: serve /echo and /sink, and a bare nats-py echo, until killed."""
    async with (
        event_loop(loop),
        open_system(specs()) as system,
        open_node(
            system,
            name="far",
            servers=url,
            registry=registry(),
            cluster=CLUSTER,
            serve=("/echo", "/sink"),
        ),
    ):
        raw = await trio_asyncio.aio_as_trio(nats.connect)(url)

        async def echo(msg: Any) -> None:
            await raw.publish(msg.reply, msg.data)

        await trio_asyncio.aio_as_trio(raw.subscribe)(RAW, cb=echo)
        await trio_asyncio.aio_as_trio(raw.flush)()
        print("READY", flush=True)
        await trio.sleep_forever()


async def measure_raw(url: str, asks: int) -> dict[str, Any]:
    """The floor: bare nats-py request/reply on asyncio to the far process, no actors."""
    nc = await nats.connect(url)
    try:
        for _ in range(50):
            await nc.request(RAW, b"x", timeout=10)
        rtts = []
        for _ in range(asks):
            start = time.perf_counter()
            await nc.request(RAW, b"x", timeout=10)
            rtts.append(time.perf_counter() - start)
    finally:
        await nc.close()
    rtts.sort()
    return {"p50": rtts[len(rtts) // 2], "p99": rtts[int(len(rtts) * 0.99)], "rtts": rtts}


async def measure(echo: Ref, sink: Ref, asks: int, messages: int) -> dict[str, Any]:
    """Ask latency and send throughput against ``echo`` and ``sink``."""
    for i in range(50):  # warm-up
        await echo.ask(Ping(i), timeout=10)
    rtts = []
    for i in range(asks):
        start = time.perf_counter()
        await echo.ask(Ping(i), timeout=10)
        rtts.append(time.perf_counter() - start)
    rtts.sort()
    before = await sink.ask(Count(), timeout=10)
    start = time.perf_counter()
    for i in range(messages):
        await sink.send(Tick(i, 50_000.0 + i))
        if i % 256 == 255:
            await trio.lowlevel.checkpoint()
    total = await sink.ask(Count(), timeout=120)
    elapsed = time.perf_counter() - start
    assert total - before == messages, (total, before, messages)
    return {
        "p50": rtts[len(rtts) // 2],
        "p99": rtts[int(len(rtts) * 0.99)],
        "rate": messages / elapsed,
        "rtts": rtts,
    }


async def measure_durable(sink: Ref, count: int) -> float:
    """Durable sends per second, stored one after another, until the sink has them all."""
    before = await sink.ask(Count(), timeout=10)
    start = time.perf_counter()
    for i in range(count):
        await sink.send(Order(f"bench-{os.getpid()}-{i}", 1.0))
    with trio.fail_after(120):
        while await sink.ask(Count(), timeout=10) - before < count:  # noqa: ASYNC110
            await trio.sleep(0.005)
    return count / (time.perf_counter() - start)


async def run(url: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The in-process and the remote measurements, one after the other."""
    async with (
        event_loop(args.loop),
        open_system(specs()) as system,
        open_node(
            system, name="near", servers=url, registry=registry(), cluster=CLUSTER, serve=("/near",)
        ) as node,
    ):
        await node.wait_for_path("/sink")
        local_echo, local_sink = system.lookup_local("/echo"), system.lookup_local("/sink")
        assert local_echo is not None and local_sink is not None
        local = await measure(local_echo, local_sink, args.asks, args.messages)
        remote = await measure(node.ref("/echo"), node.ref("/sink"), args.asks, args.messages)
        remote["durable"] = await measure_durable(node.ref("/sink"), args.durable)
    return {"local": local, "remote": remote}


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """The table."""
    local, remote, raw = results["local"], results["remote"], results["raw"]
    print(f"asks: {args.asks} sequential; sends: {args.messages}; durable sends: {args.durable}")
    print(f"asyncio loop of both nodes: {args.loop}")
    head = f"{'':<26}{'in-process':>12}{'NATS, 2 processes':>20}{'ratio':>8}{'bare nats-py':>14}"
    print(head)
    for label, key, scale, unit in (
        ("ask round trip p50", "p50", 1e6, "us"),
        ("ask round trip p99", "p99", 1e6, "us"),
        ("send throughput", "rate", 1, "msg/s"),
    ):
        a, b = local[key] * scale, remote[key] * scale
        ratio = b / a if key != "rate" else a / b
        floor = f"{raw[key] * scale:,.1f}" if key in raw else ""
        print(f"{label + ' (' + unit + ')':<26}{a:>12,.1f}{b:>20,.1f}{ratio:>8.1f}{floor:>14}")
    print(f"{'durable sends (msg/s)':<26}{'':>12}{remote['durable']:>20,.1f}")
    print(f"one-way hop over NATS, p50: {remote['p50'] / 2 * 1e6:,.0f} us")


def main() -> None:
    """Start nats-server, run, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--durable", type=int, default=500)
    parser.add_argument(
        "--loop",
        choices=("plain", "desk"),
        default="desk",
        help="asyncio loop of both nodes: the desk's batching one (as `actors run`) or plain",
    )
    parser.add_argument("--out", type=Path, help="write every sample as JSON here (for plots)")
    parser.add_argument("--far", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.far:
        trio.run(serve_far, args.far, args.loop)
        return
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp)) as server:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--far", server.url]
        cmd += ["--loop", args.loop]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        far = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert far.stdout is not None
            line = far.stdout.readline()
            assert line.strip() == "READY", line
            results = trio.run(run, server.url, args)
            results["raw"] = asyncio.run(measure_raw(server.url, args.asks))
        finally:
            far.kill()
            far.wait()
    report(results, args)
    if args.out:
        machine = {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg": list(os.getloadavg()),
        }
        command = "bench/remote_hop.py " + " ".join(sys.argv[1:])
        args.out.write_text(json.dumps({**results, "command": command, "machine": machine}))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
