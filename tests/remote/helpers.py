"""Messages, actors and waiting helpers shared by the remote tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import trio

from actors.remote import Durable, Latest, Node, Registry, open_node
from actors.runtime import Actor, Refuse, System

CLUSTER = "test"


class Ping(msgspec.Struct, frozen=True):
    """Answered with itself; ``n < 0`` crashes the answering actor, ``n == 0`` is refused."""

    n: int


class Many(msgspec.Struct, frozen=True):
    """Answered with ``n`` pings, in a tuple (or a list)."""

    n: int
    as_list: bool = False


class Hold(msgspec.Struct, frozen=True):
    """Keeps the gated actor's handler busy until its gate opens."""


class Quote(msgspec.Struct, frozen=True):
    """Latest-wins market data: one value per symbol matters."""

    symbol: str
    seq: int


class Order(msgspec.Struct, frozen=True, tag=True):
    """Order flow: durable, deduplicated by its client order id."""

    coid: str


class Unknown(msgspec.Struct, frozen=True):
    """Registered by senders only: the receiver cannot decode it."""

    x: int


def registry(*, with_unknown: bool = False) -> Registry:
    """The registry every test node uses."""
    reg = Registry()
    reg.register(Ping)
    reg.register(Many)
    reg.register(Hold)
    reg.register(Quote, delivery=Latest(key=lambda q: q.symbol))
    reg.register(Order, delivery=Durable(id=lambda o: o.coid))
    if with_unknown:
        reg.register(Unknown)
    return reg


class Recorder(Actor):
    """Keeps every message it handles; answers pings, crashes or refuses on request."""

    def __init__(self, seen: list[Any], gate: trio.Event | None = None) -> None:
        self.seen = seen
        self.gate = gate

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Hold) and self.gate is not None:
            await self.gate.wait()
            return None
        self.seen.append(message)
        if isinstance(message, Many):
            pings = [Ping(i) for i in range(message.n)]
            return pings if message.as_list else tuple(pings)
        if isinstance(message, Ping):
            if message.n < 0:
                raise ValueError(f"told to crash by {message}")
            if message.n == 0:
                return Refuse(LookupError("no such thing as ping 0"))
        return message


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait (bounded) until ``condition()`` holds; polls, never sleeps a fixed time."""
    with trio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - the condition lives in other tasks
            await trio.sleep(0.01)


@asynccontextmanager
async def node(
    system: System, url: str, name: str, serve: Sequence[str], **options: Any
) -> AsyncIterator[Node]:
    """``open_node`` with this suite's cluster and registry (options override)."""
    options.setdefault("registry", registry())
    async with open_node(
        system, name=name, servers=url, cluster=CLUSTER, serve=serve, **options
    ) as opened:
        yield opened


ROOT = Path(__file__).resolve().parents[2]


class NodeProcess:
    """``python -m tests.remote.node_process`` with its stdout lines collected."""

    def __init__(self, proc: trio.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def pump(self) -> None:
        """Collect stdout lines until the process ends."""
        assert self.proc.stdout is not None
        buffer = b""
        async for chunk in self.proc.stdout:
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            self.lines.extend(line.decode() for line in done)

    async def wait_line(self, text: str, timeout: float = 30.0) -> None:
        """Wait for a stdout line equal to ``text`` (fails early if the process died)."""
        with trio.fail_after(timeout):
            while text not in self.lines:
                if self.proc.returncode is not None:
                    raise AssertionError(f"node process exited with {self.proc.returncode}")
                await trio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL and reap."""
        self.proc.kill()
        await self.proc.wait()


async def start_node_process(
    nursery: trio.Nursery, url: str, name: str, serve: str, *extra: str
) -> NodeProcess:
    """Start a node process serving a recorder at ``serve``; wait for its READY."""
    cmd = [sys.executable, "-m", "tests.remote.node_process", "--url", url, "--name", name,
           "--serve", serve, *extra]  # fmt: skip
    proc = await trio.lowlevel.open_process(
        cmd, stdout=subprocess.PIPE, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    running = NodeProcess(proc)
    nursery.start_soon(running.pump)
    await running.wait_line("READY")
    return running
