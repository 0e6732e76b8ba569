"""Mailbox benchmark: per-hop cost and throughput of a 4-stage relay.

The same work runs three ways in one process, one after the other, so the figures share
the machine's current load: actors with the runtime's mailboxes, bare trio memory channels,
and asyncio.Queue. Ratios are what to read; absolute figures move with the machine.

Run: ``make bench`` or ``.venv/bin/python bench/mailbox_relay.py [--messages N] [--rounds R]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import trio

from actors.runtime import Actor, ChildSpec, MailboxSpec, Overflow, Ref, open_system

STAGES = 4


"""Actors in the chain: STAGES - 1 relays and a sink, so a message makes STAGES hops."""


class Relay(Actor):
    """Forwards every message to the next stage."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        self.next: Ref | None = None

    async def on_start(self) -> None:
        self.next = self.ctx.lookup(self.next_path)

    async def handle(self, message: Any) -> None:
        assert self.next is not None
        await self.next.send(message)


class Sink(Actor):
    """Counts messages and signals when the last one arrives."""

    def __init__(self, expected: int, done: trio.Event) -> None:
        self.expected = expected
        self.seen = 0
        self.done = done

    async def handle(self, message: Any) -> None:
        self.seen += 1
        if self.seen == self.expected:
            self.done.set()


async def run_actors(messages: int) -> float:
    """Seconds to push ``messages`` through STAGES relays into a sink."""
    done = trio.Event()
    spec = MailboxSpec(capacity=4096, overflow=Overflow.BLOCK)
    children = [
        ChildSpec(f"s{i}", lambda i=i: Relay(f"/s{i + 1}"), mailbox=spec) for i in range(STAGES - 1)
    ]
    children.append(ChildSpec(f"s{STAGES - 1}", lambda: Sink(messages, done), mailbox=spec))
    # Start the sink first so every relay can look up its successor.
    children.reverse()
    async with open_system(children) as system:
        first = system.lookup("/s0")
        assert first is not None
        start = time.perf_counter()
        for i in range(messages):
            await first.send(i)
            if i % 256 == 255:
                await trio.lowlevel.checkpoint()
        await done.wait()
        return time.perf_counter() - start


async def run_trio_channels(messages: int) -> float:
    """The same relay over bare trio memory channels."""
    channels = [trio.open_memory_channel[int](4096) for _ in range(STAGES)]
    done = trio.Event()

    async def relay(i: int) -> None:
        receive, send = channels[i][1], channels[i + 1][0]
        async for item in receive:
            await send.send(item)

    async def sink() -> None:
        seen = 0
        async for _item in channels[STAGES - 1][1]:
            seen += 1
            if seen == messages:
                done.set()
                return

    async with trio.open_nursery() as nursery:
        for i in range(STAGES - 1):
            nursery.start_soon(relay, i)
        nursery.start_soon(sink)
        start = time.perf_counter()
        for i in range(messages):
            await channels[0][0].send(i)
        await done.wait()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


async def run_asyncio_queues(messages: int) -> float:
    """The same relay over asyncio.Queue."""
    queues: list[asyncio.Queue[int]] = [asyncio.Queue(4096) for _ in range(STAGES)]
    done = asyncio.Event()

    async def relay(i: int) -> None:
        while True:
            await queues[i + 1].put(await queues[i].get())

    async def sink() -> None:
        for _ in range(messages):
            await queues[STAGES - 1].get()
        done.set()

    tasks = [asyncio.create_task(relay(i)) for i in range(STAGES - 1)]
    tasks.append(asyncio.create_task(sink()))
    start = time.perf_counter()
    for i in range(messages):
        await queues[0].put(i)
    await done.wait()
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


def best_of(rounds: int, run: Callable[[], float]) -> float:
    """Median of ``rounds`` timings (seconds)."""
    return statistics.median(run() for _ in range(rounds))


def main() -> None:
    """Run all three relays and print per-hop cost, throughput and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.messages
    results = {
        "actors mailbox": best_of(args.rounds, lambda: trio.run(run_actors, n)),
        "trio memory channel": best_of(args.rounds, lambda: trio.run(run_trio_channels, n)),
        "asyncio.Queue": best_of(args.rounds, lambda: asyncio.run(run_asyncio_queues(n))),
    }
    base = results["actors mailbox"]
    print(f"{n} messages through {STAGES} stages, median of {args.rounds} rounds")
    print(f"{'implementation':<22}{'us/hop':>10}{'msgs/s':>14}{'x actors':>10}")
    for name, seconds in results.items():
        per_hop = seconds / (n * STAGES) * 1e6
        print(f"{name:<22}{per_hop:>10.3f}{n / seconds:>14,.0f}{seconds / base:>10.2f}")


if __name__ == "__main__":
    main()
